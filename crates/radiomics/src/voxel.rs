//! Image pixel types: PyRadiomics keeps SimpleITK's pixel type, and its discretisation does part of its
//! arithmetic in that type (`min mod binWidth`, `max + 2·binWidth`).
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/imageoperations.py` (`getBinEdges`) under NumPy 2 promotion rules
//! (NEP 50: a Python scalar takes the array's dtype).

/// How a pixel type takes part in PyRadiomics' discretisation arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelKind {
    /// Integer pixels: exact integer edges when the bin width is integral.
    Integer,
    /// `float32` pixels: `min mod W` and `max + 2W` rounded to `f32`.
    Float32,
    /// `float64` pixels.
    Float64,
}

/// A pixel type the extractor accepts (`u8` … `i64`, `f32`, `f64`).
pub trait Voxel: Copy + Send + Sync + 'static {
    /// How the type behaves in the discretisation.
    const KIND: PixelKind;
    /// The value widened to `f64` (exact for every implementing type up to 2⁵³).
    fn to_f64(self) -> f64;
    /// An interpolated `f64` cast back to this type as ITK's `ResampleImageFilter` does
    /// (`CastPixelWithBoundsChecking`).
    ///
    /// ```text
    /// integers: clamp to [MIN, MAX], then truncate toward zero;  f32: clamp to ±f32::MAX, round;  f64: as is
    /// ```
    #[must_use]
    fn from_f64_cast(v: f64) -> Self;
}

macro_rules! impl_voxel {
    ($kind:expr => $($t:ty),*) => {$(
        impl Voxel for $t {
            const KIND: PixelKind = $kind;
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_lossless, clippy::cast_precision_loss)]
            fn from_f64_cast(v: f64) -> Self {
                let (lo, hi) = (<$t>::MIN as f64, <$t>::MAX as f64);
                if v < lo {
                    <$t>::MIN
                } else if v > hi {
                    <$t>::MAX
                } else {
                    v as $t
                }
            }
        }
    )*};
}

impl_voxel!(PixelKind::Integer => u8, i8, u16, i16, u32, i32, u64, i64);
impl_voxel!(PixelKind::Float32 => f32);
impl_voxel!(PixelKind::Float64 => f64);

/// A mask pixel type (any integer; the ROI is `mask == label`).
pub trait MaskVoxel: Copy + Default + Send + Sync + 'static {
    /// Whether this voxel carries `label`.
    fn is_label(self, label: u32) -> bool;
}

macro_rules! impl_mask {
    ($($t:ty),*) => {$(
        impl MaskVoxel for $t {
            #[inline]
            fn is_label(self, label: u32) -> bool {
                // PyRadiomics casts the mask to UInt32 first (negative values wrap and never equal a small label).
                // Compared in the mask's own type (a label it cannot hold matches nothing), so that scans over the
                // mask vectorise.
                <$t>::try_from(label).is_ok_and(|l| self == l)
            }
        }
    )*};
}

impl_mask!(u8, i8, u16, i16, u32, i32, u64, i64);

impl MaskVoxel for bool {
    fn is_label(self, label: u32) -> bool {
        self && label == 1
    }
}
