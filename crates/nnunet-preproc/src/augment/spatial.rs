//! The spatial transform: rotation about the three axes and one isotropic scale, sampled around the centre of
//! the loaded patch onto the final patch (no elastic deformation, no random crop).
//!
//! ```text
//! A      = R_z(γ) · R_y(β) · R_x(α) · s·I          (batchgeneratorsv2 `create_affine_matrix_3d`; s > 1 zooms out)
//! src(o) = (S − 1)/2 + A · (o − (P − 1)/2)          o: output voxel, S: loaded shape, P: final patch
//! data   v2: trilinear, 0 outside (grid_sample, align_corners=False);  v1: cubic B-spline (mirror-prefiltered,
//!        scipy `map_coordinates(order=3, mode='constant', cval=0)`): 0 where src ∉ [0, S − 1]
//! seg    per label ℓ: w_ℓ(o) = trilinear weight of the corners with label ℓ (corners outside: label −1)
//!        v2: argmax_ℓ w_ℓ, ties → the label of the nearest corner;  v1: last ℓ (ascending) with w_ℓ ≥ 0.5, else 0
//! none   no rotation and no scale → integer centre crop: lb = ⌊S/2⌋ − P//2 (v2), (S − P)//2 (v1), padding 0 / −1
//! ```
//!
//! References (read, not copied): batchgeneratorsv2 0.3 `transforms/spatial/spatial.py` (`SpatialTransform`),
//! `transforms/utils/...` (`create_affine_matrix_3d`); batchgenerators 0.25 `augmentations/spatial_transformations.py`
//! (`augment_spatial`), `augmentations/utils.py` (`create_zero_centered_coordinate_mesh`, `interpolate_img`);
//! scipy `ndimage/src/ni_splines.c` (mirror-boundary initial conditions). M. Unser, IEEE SPM 16(6), 1999.

use ndarray::{Array3, Array4, ArrayView3, ArrayView4, Axis};
use rayon::prelude::*;

use super::AugmentFlavour;
use crate::sampling::{crop_and_pad_data, crop_and_pad_seg};

/// Drawn spatial parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpatialParams {
    /// Rotation angles (radians) about array axes 0, 1, 2 (batchgenerators' x, y, z).
    pub rotation: [f64; 3],
    /// Isotropic scale factor (> 1 = zoom out).
    pub scale: f64,
}

/// The 3×3 matrix `R_z · R_y · R_x · s` of the module docs.
#[must_use]
pub fn affine_matrix(p: &SpatialParams) -> [[f64; 3]; 3] {
    let [a, b, g] = p.rotation;
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, a.cos(), -a.sin()],
        [0.0, a.sin(), a.cos()],
    ];
    let ry = [
        [b.cos(), 0.0, b.sin()],
        [0.0, 1.0, 0.0],
        [-b.sin(), 0.0, b.cos()],
    ];
    let rz = [
        [g.cos(), -g.sin(), 0.0],
        [g.sin(), g.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    let mul = |x: [[f64; 3]; 3], y: [[f64; 3]; 3]| {
        let mut o = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                o[i][j] = (0..3).map(|k| x[i][k] * y[k][j]).sum();
            }
        }
        o
    };
    let m = mul(mul(rz, ry), rx);
    m.map(|row| row.map(|v| v * p.scale))
}

/// Integer centre crop (no rotation/scale drawn), see the module docs.
#[must_use]
pub fn centre_crop(
    data: ArrayView4<'_, f32>,
    seg: ArrayView3<'_, i16>,
    patch: [usize; 3],
    flavour: AugmentFlavour,
) -> (Array4<f32>, Array3<i16>) {
    let sh = [seg.shape()[0], seg.shape()[1], seg.shape()[2]];
    let lb: [isize; 3] = std::array::from_fn(|a| match flavour {
        AugmentFlavour::V2Default => (sh[a] / 2) as isize - (patch[a] / 2) as isize,
        AugmentFlavour::V1MoreDA => (sh[a] as isize - patch[a] as isize).div_euclid(2),
    });
    (
        crop_and_pad_data(data, lb, patch, 0.0),
        crop_and_pad_seg(seg, lb, patch, -1),
    )
}

/// Applies the spatial transform with fixed parameters (`None` = centre crop), module docs for the formulas.
#[must_use]
pub fn spatial_transform(
    data: ArrayView4<'_, f32>,
    seg: ArrayView3<'_, i16>,
    patch: [usize; 3],
    params: Option<&SpatialParams>,
    flavour: AugmentFlavour,
) -> (Array4<f32>, Array3<i16>) {
    let Some(params) = params else {
        return centre_crop(data, seg, patch, flavour);
    };
    let m = affine_matrix(params);
    let sh = [seg.shape()[0], seg.shape()[1], seg.shape()[2]];
    let map = Mapping {
        m,
        c_in: sh.map(|s| (s as f64 - 1.0) / 2.0),
        c_out: patch.map(|p| (p as f64 - 1.0) / 2.0),
    };
    let c = data.shape()[0];
    let mut out = Array4::<f32>::zeros((c, patch[0], patch[1], patch[2]));
    for (ch, mut o) in out.outer_iter_mut().enumerate() {
        let src = data.index_axis(Axis(0), ch);
        match flavour {
            AugmentFlavour::V2Default => {
                fill_planes(o.view_mut(), |z, y, x| trilinear(src, map.src(z, y, x)))
            }
            AugmentFlavour::V1MoreDA => {
                let coef = spline_coefficients(src);
                fill_planes(o.view_mut(), |z, y, x| {
                    cubic(coef.view(), map.src(z, y, x)) as f32
                });
            }
        }
    }
    let mut s_out = Array3::<i16>::zeros((patch[0], patch[1], patch[2]));
    let labels = {
        let mut l: Vec<i16> = seg
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !l.contains(&-1) {
            l.insert(0, -1);
        }
        l
    };
    fill_planes(s_out.view_mut(), |z, y, x| {
        seg_label(seg, map.src(z, y, x), &labels, flavour)
    });
    (out, s_out)
}

struct Mapping {
    m: [[f64; 3]; 3],
    c_in: [f64; 3],
    c_out: [f64; 3],
}

impl Mapping {
    #[inline]
    fn src(&self, z: usize, y: usize, x: usize) -> [f64; 3] {
        let d = [
            z as f64 - self.c_out[0],
            y as f64 - self.c_out[1],
            x as f64 - self.c_out[2],
        ];
        std::array::from_fn(|i| {
            self.c_in[i] + self.m[i][0] * d[0] + self.m[i][1] * d[1] + self.m[i][2] * d[2]
        })
    }
}

fn fill_planes<T: Send + Sync>(
    mut out: ndarray::ArrayViewMut3<'_, T>,
    f: impl Fn(usize, usize, usize) -> T + Sync,
) {
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(z, mut plane)| {
            for ((y, x), v) in plane.indexed_iter_mut() {
                *v = f(z, y, x);
            }
        });
}

fn trilinear(src: ArrayView3<'_, f32>, p: [f64; 3]) -> f32 {
    let sh = src.shape();
    let f = p.map(f64::floor);
    let w = [p[0] - f[0], p[1] - f[1], p[2] - f[2]];
    let mut acc = 0.0f64;
    for dz in 0..2 {
        let z = f[0] as isize + dz;
        if z < 0 || z >= sh[0] as isize {
            continue;
        }
        let wz = if dz == 0 { 1.0 - w[0] } else { w[0] };
        for dy in 0..2 {
            let y = f[1] as isize + dy;
            if y < 0 || y >= sh[1] as isize {
                continue;
            }
            let wy = if dy == 0 { 1.0 - w[1] } else { w[1] };
            for dx in 0..2 {
                let x = f[2] as isize + dx;
                if x < 0 || x >= sh[2] as isize {
                    continue;
                }
                let wx = if dx == 0 { 1.0 - w[2] } else { w[2] };
                acc += wz * wy * wx * f64::from(src[[z as usize, y as usize, x as usize]]);
            }
        }
    }
    acc as f32
}

fn seg_label(
    seg: ArrayView3<'_, i16>,
    p: [f64; 3],
    labels: &[i16],
    flavour: AugmentFlavour,
) -> i16 {
    let sh = seg.shape();
    let f = p.map(f64::floor);
    let w = [p[0] - f[0], p[1] - f[1], p[2] - f[2]];
    let mut score = [0f64; 16];
    let small = labels.len() <= 16;
    let mut big = if small {
        Vec::new()
    } else {
        vec![0f64; labels.len()]
    };
    let get = |z: isize, y: isize, x: isize| -> i16 {
        if z < 0
            || y < 0
            || x < 0
            || z >= sh[0] as isize
            || y >= sh[1] as isize
            || x >= sh[2] as isize
        {
            -1
        } else {
            seg[[z as usize, y as usize, x as usize]]
        }
    };
    for dz in 0..2isize {
        let wz = if dz == 0 { 1.0 - w[0] } else { w[0] };
        for dy in 0..2isize {
            let wy = if dy == 0 { 1.0 - w[1] } else { w[1] };
            for dx in 0..2isize {
                let wx = if dx == 0 { 1.0 - w[2] } else { w[2] };
                let l = get(f[0] as isize + dz, f[1] as isize + dy, f[2] as isize + dx);
                let i = labels.binary_search(&l).unwrap_or(0);
                if small {
                    score[i] += wz * wy * wx;
                } else {
                    big[i] += wz * wy * wx;
                }
            }
        }
    }
    let s: &[f64] = if small { &score[..labels.len()] } else { &big };
    match flavour {
        AugmentFlavour::V2Default => {
            let nearest = get(
                (p[0] + 0.5).floor() as isize,
                (p[1] + 0.5).floor() as isize,
                (p[2] + 0.5).floor() as isize,
            );
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let tied: Vec<usize> = (0..s.len()).filter(|&i| s[i] == max).collect();
            if tied.len() > 1 && tied.iter().any(|&i| labels[i] == nearest) {
                nearest
            } else {
                labels[tied[0]]
            }
        }
        AugmentFlavour::V1MoreDA => {
            let mut out = 0;
            for (i, &l) in labels.iter().enumerate() {
                if s[i] >= 0.5 {
                    out = l;
                }
            }
            out
        }
    }
}

// ---- cubic B-spline (scipy order 3, mirror boundary) ------------------------------------------------------

const POLE: f64 = -0.267_949_192_431_122_7; // √3 − 2

fn prefilter_mirror(c: &mut [f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    c.iter_mut().for_each(|v| *v *= gain);
    // causal init (mirror): c0 = Σ_{k<n} z^k c[k], truncated where |z|^k < 1e−23
    let mut zk = z;
    let mut sum = c[0];
    for v in c.iter().take(n.min(40)).skip(1) {
        sum += zk * v;
        zk *= z;
    }
    c[0] = sum;
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    c[n - 1] = z / (z * z - 1.0) * (c[n - 1] + z * c[n - 2]);
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
}

/// Cubic B-spline coefficients of one channel (three 1-D mirror-boundary prefilters), f64.
fn spline_coefficients(src: ArrayView3<'_, f32>) -> Array3<f64> {
    let mut c = src.mapv(f64::from);
    for axis in 0..3 {
        let lanes: Vec<_> = c.lanes_mut(Axis(axis)).into_iter().collect();
        lanes.into_par_iter().for_each(|mut lane| {
            let mut buf: Vec<f64> = lane.iter().copied().collect();
            prefilter_mirror(&mut buf);
            lane.iter_mut().zip(buf).for_each(|(d, s)| *d = s);
        });
    }
    c
}

#[inline]
fn bspline_weights(t: f64) -> [f64; 4] {
    let it = 1.0 - t;
    [
        it * it * it / 6.0,
        (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0,
        (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0,
        t * t * t / 6.0,
    ]
}

#[inline]
fn mirror_index(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let mut j = i.rem_euclid(period);
    if j >= n as isize {
        j = period - j;
    }
    j as usize
}

fn cubic(coef: ArrayView3<'_, f64>, p: [f64; 3]) -> f64 {
    let sh = coef.shape();
    if (0..3).any(|a| p[a] < 0.0 || p[a] > (sh[a] - 1) as f64) {
        return 0.0;
    }
    let f = p.map(f64::floor);
    let w: [[f64; 4]; 3] = std::array::from_fn(|a| bspline_weights(p[a] - f[a]));
    let idx: [[usize; 4]; 3] = std::array::from_fn(|a| {
        std::array::from_fn(|k| mirror_index(f[a] as isize - 1 + k as isize, sh[a]))
    });
    let mut acc = 0.0;
    for (i, &wz) in w[0].iter().enumerate() {
        for (j, &wy) in w[1].iter().enumerate() {
            let mut row = 0.0;
            for (k, &wx) in w[2].iter().enumerate() {
                row += wx * coef[[idx[0][i], idx[1][j], idx[2][k]]];
            }
            acc += wz * wy * row;
        }
    }
    acc
}
