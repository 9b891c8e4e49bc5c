//! Slow, obviously-correct f64 references for the `mednext::ops` tests: plain nested loops over NCDHW,
//! written straight from the PyTorch definitions (`torch.nn.Conv3d`, `ConvTranspose3d`, `GroupNorm`,
//! `GELU`), plus a seeded generator and comparison helpers.
#![allow(dead_code)]

use candle_core::{Device, Tensor};

/// NCDHW shape.
pub type Dims5 = [usize; 5];

/// Seeded SplitMix64 stream of uniform values in [-1, 1).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next value in [-1, 1).
    pub fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `n` values in [-scale, scale).
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }

    /// An index below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        (((self.next() + 1.0) * 0.5 * n as f32) as usize).min(n - 1)
    }
}

/// A CPU tensor of `shape` from `data`.
pub fn tensor(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape, &Device::Cpu).unwrap()
}

/// The flattened f32 data of `t`.
pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// `max |a − b| / max(1, max |b|)`.
pub fn rel_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let scale = b.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - y).abs())
        .fold(0.0, f64::max)
        / scale
}

fn idx(d: Dims5, n: usize, c: usize, z: usize, y: usize, x: usize) -> usize {
    (((n * d[1] + c) * d[2] + z) * d[3] + y) * d[4] + x
}

/// PyTorch `Conv3d(C, C, k, stride, padding = k/2, groups = C)`: per axis out = ⌊(L + 2p − k)/s⌋ + 1.
pub fn dw_conv(
    x: &[f64],
    d: Dims5,
    w: &[f64],
    k: usize,
    b: Option<&[f64]>,
    s: usize,
) -> (Vec<f64>, Dims5) {
    let p = k / 2;
    let o = |l: usize| (l + 2 * p - k) / s + 1;
    let od = [d[0], d[1], o(d[2]), o(d[3]), o(d[4])];
    let mut y = vec![0.0; od.iter().product()];
    for n in 0..d[0] {
        for c in 0..d[1] {
            for z in 0..od[2] {
                for yy in 0..od[3] {
                    for xx in 0..od[4] {
                        let mut acc = b.map_or(0.0, |b| b[c]);
                        for tz in 0..k {
                            for ty in 0..k {
                                for tx in 0..k {
                                    let iz = (z * s + tz) as isize - p as isize;
                                    let iy = (yy * s + ty) as isize - p as isize;
                                    let ix = (xx * s + tx) as isize - p as isize;
                                    if iz < 0 || iy < 0 || ix < 0 {
                                        continue;
                                    }
                                    let (iz, iy, ix) = (iz as usize, iy as usize, ix as usize);
                                    if iz >= d[2] || iy >= d[3] || ix >= d[4] {
                                        continue;
                                    }
                                    acc += w[((c * k + tz) * k + ty) * k + tx]
                                        * x[idx(d, n, c, iz, iy, ix)];
                                }
                            }
                        }
                        y[idx(od, n, c, z, yy, xx)] = acc;
                    }
                }
            }
        }
    }
    (y, od)
}

/// PyTorch `ConvTranspose3d(C, C, k, stride, padding = k/2, groups = C)`: out = (L − 1)·s − 2p + k;
/// `y[o·s + t − p] += w[t]·x[o]`.
pub fn dw_conv_t(
    x: &[f64],
    d: Dims5,
    w: &[f64],
    k: usize,
    b: Option<&[f64]>,
    s: usize,
) -> (Vec<f64>, Dims5) {
    let p = k / 2;
    let o = |l: usize| (l - 1) * s + k - 2 * p;
    let od = [d[0], d[1], o(d[2]), o(d[3]), o(d[4])];
    let mut y = vec![0.0; od.iter().product()];
    for n in 0..d[0] {
        for c in 0..d[1] {
            if let Some(b) = b {
                for z in 0..od[2] {
                    for yy in 0..od[3] {
                        for xx in 0..od[4] {
                            y[idx(od, n, c, z, yy, xx)] = b[c];
                        }
                    }
                }
            }
            for z in 0..d[2] {
                for yy in 0..d[3] {
                    for xx in 0..d[4] {
                        let v = x[idx(d, n, c, z, yy, xx)];
                        for tz in 0..k {
                            for ty in 0..k {
                                for tx in 0..k {
                                    let oz = (z * s + tz) as isize - p as isize;
                                    let oy = (yy * s + ty) as isize - p as isize;
                                    let ox = (xx * s + tx) as isize - p as isize;
                                    if oz < 0 || oy < 0 || ox < 0 {
                                        continue;
                                    }
                                    let (oz, oy, ox) = (oz as usize, oy as usize, ox as usize);
                                    if oz >= od[2] || oy >= od[3] || ox >= od[4] {
                                        continue;
                                    }
                                    y[idx(od, n, c, oz, oy, ox)] +=
                                        w[((c * k + tz) * k + ty) * k + tx] * v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (y, od)
}

/// PyTorch `Conv3d(Cin, Cout, 1, stride)`, weight `(Cout, Cin)`.
pub fn conv1(
    x: &[f64],
    d: Dims5,
    w: &[f64],
    cout: usize,
    b: Option<&[f64]>,
    s: usize,
) -> (Vec<f64>, Dims5) {
    let o = |l: usize| l.div_ceil(s);
    let od = [d[0], cout, o(d[2]), o(d[3]), o(d[4])];
    let mut y = vec![0.0; od.iter().product()];
    for n in 0..d[0] {
        for co in 0..cout {
            for z in 0..od[2] {
                for yy in 0..od[3] {
                    for xx in 0..od[4] {
                        let mut acc = b.map_or(0.0, |b| b[co]);
                        for ci in 0..d[1] {
                            acc += w[co * d[1] + ci] * x[idx(d, n, ci, z * s, yy * s, xx * s)];
                        }
                        y[idx(od, n, co, z, yy, xx)] = acc;
                    }
                }
            }
        }
    }
    (y, od)
}

/// PyTorch `ConvTranspose3d(Cin, Cout, 1, stride)`, weight `(Cin, Cout)`: out = (L − 1)·s + 1.
pub fn conv1_t(
    x: &[f64],
    d: Dims5,
    w: &[f64],
    cout: usize,
    b: Option<&[f64]>,
    s: usize,
) -> (Vec<f64>, Dims5) {
    let o = |l: usize| (l - 1) * s + 1;
    let od = [d[0], cout, o(d[2]), o(d[3]), o(d[4])];
    let mut y = vec![0.0; od.iter().product()];
    for n in 0..d[0] {
        for co in 0..cout {
            for z in 0..od[2] {
                for yy in 0..od[3] {
                    for xx in 0..od[4] {
                        let mut acc = b.map_or(0.0, |b| b[co]);
                        if z % s == 0 && yy % s == 0 && xx % s == 0 {
                            for ci in 0..d[1] {
                                acc += w[ci * cout + co] * x[idx(d, n, ci, z / s, yy / s, xx / s)];
                            }
                        }
                        y[idx(od, n, co, z, yy, xx)] = acc;
                    }
                }
            }
        }
    }
    (y, od)
}

/// PyTorch `GroupNorm(C, C, eps)` on `(N, C, V)` data.
pub fn group_norm(x: &[f64], n: usize, c: usize, g: &[f64], b: &[f64], eps: f64) -> Vec<f64> {
    let v = x.len() / (n * c);
    let mut y = vec![0.0; x.len()];
    for nc in 0..n * c {
        let xs = &x[nc * v..][..v];
        let mean = xs.iter().sum::<f64>() / v as f64;
        let var = xs.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / v as f64;
        let r = 1.0 / (var + eps).sqrt();
        for (o, a) in y[nc * v..][..v].iter_mut().zip(xs) {
            *o = (a - mean) * r * g[nc % c] + b[nc % c];
        }
    }
    y
}

/// Exact GELU `x·Φ(x)` in f64.
pub fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + candle_core::cpu::erf::erf_f64(x / std::f64::consts::SQRT_2))
}

/// f32 → f64.
pub fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| f64::from(a)).collect()
}

/// Relative tolerance: `max |ours − reference| / max(1, max |reference|)`.
pub const TOL: f32 = 1e-5;

/// `max |a − b| / max(1, max |b|)` over two tensors of the same shape.
pub fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (values(a), values(b));
    let scale = b.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}
