//! Image types (filters) computed before the feature classes: Original, Square, SquareRoot, Logarithm,
//! Exponential and Gradient.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/imageoperations.py` (`getOriginalImage`, `getSquareImage`,
//! `getSquareRootImage`, `getLogarithmImage`, `getExponentialImage`, `getGradientImage`); ITK 5.4
//! `Modules/Filtering/ImageGradient/include/itkGradientMagnitudeImageFilter.hxx` with
//! `itkDerivativeOperator` (order 1) and the zero-flux Neumann boundary (SimpleITK `GradientMagnitude`,
//! output `float32`).
//!
//! ```text
//! m = max |x| over the whole (working) image, computed in f64; results are f64 (Gradient: f32)
//! Square:      (x / √m)²                       (coefficient c = 1/√m, then (c·x)²)
//! SquareRoot:  sign(x) · √(|x| · m)
//! Logarithm:   l = sign(x) · ln(|x| + 1), then l · (m / max |l|)
//! Exponential: exp((ln m / m) · x)
//! Gradient:    √(gx² + gy² + gz²),  g_a = (f[i+1] − f[i−1]) / (2·s_a)  (s_a = 1 without gradientUseSpacing),
//!              edge voxels repeated at the border
//! ```

use ndarray::{Array3, ArrayView3};

use crate::error::{Error, Result};

/// A PyRadiomics image type (`imageType` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageType {
    /// `Original`: the image itself (prefix `original`).
    Original,
    /// `Square` (prefix `square`).
    Square,
    /// `SquareRoot` (prefix `squareroot`).
    SquareRoot,
    /// `Logarithm` (prefix `logarithm`).
    Logarithm,
    /// `Exponential` (prefix `exponential`).
    Exponential,
    /// `Gradient`: gradient magnitude (prefix `gradient`).
    Gradient,
    /// `Wavelet`: coif1 stationary wavelet bands (prefixes `wavelet-LLH` … `wavelet-LLL`).
    Wavelet,
}

impl ImageType {
    /// Parses the params-file name (`Original`, `Square`, `SquareRoot`, `Logarithm`, `Exponential`,
    /// `Gradient`, `Wavelet`).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedImageType`] for other names (LoG, LBP2D, LBP3D are not implemented).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "Original" => Self::Original,
            "Square" => Self::Square,
            "SquareRoot" => Self::SquareRoot,
            "Logarithm" => Self::Logarithm,
            "Exponential" => Self::Exponential,
            "Gradient" => Self::Gradient,
            "Wavelet" => Self::Wavelet,
            other => return Err(Error::UnsupportedImageType(other.to_string())),
        })
    }

    /// The feature-name prefix (`original`, `square`, …; `wavelet` is followed by `-<band>`).
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Square => "square",
            Self::SquareRoot => "squareroot",
            Self::Logarithm => "logarithm",
            Self::Exponential => "exponential",
            Self::Gradient => "gradient",
            Self::Wavelet => "wavelet",
        }
    }
}

fn max_abs(image: &Array3<f64>) -> f64 {
    image.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// PyRadiomics' `getSquareImage`: `(x/√m)²` with `m = max |x|`.
#[must_use]
pub fn square_image(image: &Array3<f64>) -> Array3<f64> {
    let c = 1.0 / max_abs(image).sqrt();
    image.mapv(|x| {
        let v = c * x;
        v * v
    })
}

/// PyRadiomics' `getSquareRootImage`: `sign(x)·√(|x|·m)`.
#[must_use]
pub fn square_root_image(image: &Array3<f64>) -> Array3<f64> {
    let m = max_abs(image);
    image.mapv(|x| {
        if x > 0.0 {
            (x * m).sqrt()
        } else if x < 0.0 {
            -(-x * m).sqrt()
        } else {
            x
        }
    })
}

/// PyRadiomics' `getLogarithmImage`: `sign(x)·ln(|x| + 1)` rescaled to the input's max |x|.
#[must_use]
pub fn logarithm_image(image: &Array3<f64>) -> Array3<f64> {
    let m = max_abs(image);
    let l = image.mapv(|x| {
        if x > 0.0 {
            (x + 1.0).ln()
        } else if x < 0.0 {
            -(-(x - 1.0)).ln()
        } else {
            x
        }
    });
    let scale = m / max_abs(&l);
    l.mapv(|v| v * scale)
}

/// PyRadiomics' `getExponentialImage`: `exp((ln m / m)·x)`.
#[must_use]
pub fn exponential_image(image: &Array3<f64>) -> Array3<f64> {
    let m = max_abs(image);
    let c = m.ln() / m;
    image.mapv(|x| (c * x).exp())
}

/// SimpleITK `GradientMagnitude(image, useImageSpacing)` (central differences, edge repeat), as `f32`.
///
/// `spacing` is `[sz, sy, sx]`; the sum runs x, y, z as ITK's dimension order does.
#[must_use]
pub fn gradient_magnitude(
    image: ArrayView3<f64>,
    spacing: [f64; 3],
    use_spacing: bool,
) -> Array3<f32> {
    let (nz, ny, nx) = image.dim();
    let n = [nz, ny, nx];
    let coef: Vec<(f64, f64)> = (0..3)
        .map(|a| {
            let s = if use_spacing { 1.0 / spacing[a] } else { 1.0 };
            (-0.5 * s, 0.5 * s)
        })
        .collect();
    let mut out = Array3::<f32>::zeros((nz, ny, nx));
    for ((z, y, x), o) in out.indexed_iter_mut() {
        let p = [z, y, x];
        let mut acc = 0.0f64;
        // ITK dimension order: x (array axis 2), y, z.
        for a in [2usize, 1, 0] {
            let mut lo = p;
            let mut hi = p;
            lo[a] = p[a].saturating_sub(1);
            hi[a] = (p[a] + 1).min(n[a] - 1);
            let (c_lo, c_hi) = coef[a];
            let g = (0.0 + c_lo * image[(lo[0], lo[1], lo[2])])
                + 0.0 * image[(z, y, x)]
                + c_hi * image[(hi[0], hi[1], hi[2])];
            acc += g * g;
        }
        #[allow(clippy::cast_possible_truncation)]
        {
            *o = acc.sqrt() as f32;
        }
    }
    out
}
