//! The `Wavelet` image type: PyRadiomics' undecimated (stationary) wavelet decomposition with `coif1`.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/imageoperations.py` (`getWaveletImage`, `_swt3`); PyWavelets 1.x
//! `pywt/_swt.py` (`swtn`) and `pywt/_extensions/c/convolution.template.c`
//! (`downsampling_convolution_periodization` with step 1, as `swt_` uses it for one level).
//!
//! ```text
//! odd axes padded by one voxel with 'wrap' (the first plane appended); axes x, y, z (array 2, 1, 0; without
//! force2Ddimension under force2D); one level = per axis, every band so far split into
//!   low[o]  = Σ_{j=0}^{5} lo[j] · x[(3 + o − j) mod N]     high[o] = Σ_j hi[j] · x[(3 + o − j) mod N]
//! (coif1 filters, j ascending); PyRadiomics repeats level 1 on the all-low band (no filter upsampling):
//! start_level times to skip, then `level` times yielding bands `wavelet[-k]-XYZ` (X for the x axis, L = low,
//! H = high) in the order LLH, LHL, LHH, HLL, HLH, HHL, HHH, and finally the last all-low band (LLL); each
//! cropped back to the image shape. f32 images are transformed in f32 (PyWavelets keeps float32), others in f64.
//! ```

use std::ops::{Add, Mul};

use ndarray::{Array3, ArrayView3, Axis};

/// coif1 decomposition low-pass filter (PyWavelets `Wavelet('coif1').dec_lo`).
const COIF1_LO: [f64; 6] = [
    -0.015_655_728_135_791_993,
    -0.072_732_619_512_526_45,
    0.384_864_846_864_857_8,
    0.852_572_020_211_600_4,
    0.337_897_662_457_481_8,
    -0.072_732_619_512_526_45,
];
/// coif1 decomposition high-pass filter (`dec_hi`).
const COIF1_HI: [f64; 6] = [
    0.072_732_619_512_526_45,
    0.337_897_662_457_481_8,
    -0.852_572_020_211_600_4,
    0.384_864_846_864_857_8,
    0.072_732_619_512_526_45,
    -0.015_655_728_135_791_993,
];

/// A sample type PyWavelets transforms in (f32 or f64).
pub(crate) trait Sample:
    Copy + Default + Add<Output = Self> + Mul<Output = Self> + Send + Sync
{
    /// A filter tap in this type.
    fn tap(v: f64) -> Self;
    /// The value as `f64`.
    fn widen(self) -> f64;
}

impl Sample for f64 {
    fn tap(v: f64) -> Self {
        v
    }
    fn widen(self) -> f64 {
        self
    }
}

impl Sample for f32 {
    #[allow(clippy::cast_possible_truncation)]
    fn tap(v: f64) -> Self {
        v as f32
    }
    fn widen(self) -> f64 {
        f64::from(self)
    }
}

/// One-level periodic convolution of every line of `x` along `axis` with `filter` (6 taps).
fn swt_axis<S: Sample>(x: &Array3<S>, axis: usize, filter: &[S; 6]) -> Array3<S> {
    let n = x.len_of(Axis(axis));
    let mut out = Array3::<S>::default(x.raw_dim());
    let mut line = vec![S::default(); n];
    for (mut o, i) in out
        .lanes_mut(Axis(axis))
        .into_iter()
        .zip(x.lanes(Axis(axis)))
    {
        for (l, v) in line.iter_mut().zip(i.iter()) {
            *l = *v;
        }
        for (k, ov) in o.iter_mut().enumerate() {
            let c = 3 + k;
            let mut sum = S::default();
            for (j, f) in filter.iter().enumerate() {
                // (c − j) mod n with c − j possibly negative.
                let idx = (c + 6 * n - j) % n;
                sum = sum + *f * line[idx];
            }
            *ov = sum;
        }
    }
    out
}

/// One `swtn` level over `axes`: the 2^|axes| bands in PyWavelets' order (`a…a`, `a…d`, …, `d…d`).
fn swtn_level<S: Sample>(data: &Array3<S>, axes: &[usize]) -> Vec<(String, Array3<S>)> {
    let lo = COIF1_LO.map(S::tap);
    let hi = COIF1_HI.map(S::tap);
    let mut bands = vec![(String::new(), data.clone())];
    for &axis in axes {
        let mut next = Vec::with_capacity(bands.len() * 2);
        for (name, x) in &bands {
            next.push((format!("{name}a"), swt_axis(x, axis, &lo)));
            next.push((format!("{name}d"), swt_axis(x, axis, &hi)));
        }
        bands = next;
    }
    bands
}

/// PyRadiomics' `getWaveletImage` (coif1) on `image`: `(name, band)` in yield order, names as in the feature
/// prefix (`wavelet-LLH`, …, `wavelet-LLL`; `wavelet2-…` for the second level).
pub(crate) fn wavelet_images<S: Sample>(
    image: ArrayView3<S>,
    force_2d: Option<usize>,
    start_level: usize,
    level: usize,
) -> Vec<(String, Array3<f64>)> {
    let shape = image.dim();
    let dims = [shape.0, shape.1, shape.2];
    let padded_dims = dims.map(|d| d + d % 2);
    let data = Array3::from_shape_fn(
        (padded_dims[0], padded_dims[1], padded_dims[2]),
        |(z, y, x)| image[(z % dims[0], y % dims[1], x % dims[2])],
    );
    let axes: Vec<usize> = [2usize, 1, 0]
        .into_iter()
        .filter(|a| Some(*a) != force_2d)
        .collect();
    let crop = |a: &Array3<S>| -> Array3<f64> {
        a.slice(ndarray::s![..dims[0], ..dims[1], ..dims[2]])
            .mapv(Sample::widen)
    };
    let all_low = "a".repeat(axes.len());
    let mut data = data;
    for _ in 0..start_level {
        let bands = swtn_level(&data, &axes);
        data = bands
            .into_iter()
            .find(|(n, _)| *n == all_low)
            .map_or(data, |b| b.1);
    }
    let mut out = Vec::new();
    for idx in 1..=level {
        let bands = swtn_level(&data, &axes);
        let prefix = if idx == 1 {
            "wavelet".to_string()
        } else {
            format!("wavelet{idx}")
        };
        for (name, band) in bands {
            if name == all_low {
                data = band;
            } else {
                let label: String = name
                    .chars()
                    .map(|c| if c == 'a' { 'L' } else { 'H' })
                    .collect();
                out.push((format!("{prefix}-{label}"), crop(&band)));
            }
        }
    }
    let approx = if level > 1 {
        format!("wavelet{level}-{}", "L".repeat(axes.len()))
    } else {
        format!("wavelet-{}", "L".repeat(axes.len()))
    };
    out.push((approx, crop(&data)));
    out
}
