//! Decoding of NIfTI voxel bytes (any integer or float datatype, either byte order) with `scl_slope` /
//! `scl_inter` applied, in parallel chunks, into any output element type.
//!
//! ```text
//! v = raw                       if the scaling is the identity
//! v = raw · slope + inter       otherwise, in f64
//! slope = 0 or non-finite  → slope 1, inter 0   (no scaling; nibabel get_slope_inter)
//! inter non-finite         → inter 0
//! ```
//!
//! The stored Fortran order (x fastest) is exactly the C order of the `(z, y, x)` array, so the bytes are
//! decoded in place order without a transpose.
//!
//! References: nibabel 5.4.2 `nibabel/nifti1.py` (`get_slope_inter`), `nibabel/arrayproxy.py`
//! (`_get_scaled`); NIfTI-1 standard `nifti1.h` (datatype codes, `scl_slope`).

use rayon::prelude::*;

/// Voxels converted per parallel task.
const CHUNK: usize = 1 << 16;

/// The stored voxel types this module reads (NIfTI datatype codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataType {
    /// `NIFTI_TYPE_UINT8` (2).
    U8,
    /// `NIFTI_TYPE_INT16` (4).
    I16,
    /// `NIFTI_TYPE_INT32` (8).
    I32,
    /// `NIFTI_TYPE_FLOAT32` (16).
    F32,
    /// `NIFTI_TYPE_FLOAT64` (64).
    F64,
    /// `NIFTI_TYPE_INT8` (256).
    I8,
    /// `NIFTI_TYPE_UINT16` (512).
    U16,
    /// `NIFTI_TYPE_UINT32` (768).
    U32,
    /// `NIFTI_TYPE_INT64` (1024).
    I64,
    /// `NIFTI_TYPE_UINT64` (1280).
    U64,
}

impl DataType {
    /// The type of a NIfTI datatype code; `None` for complex, RGB, float128, binary and unknown codes.
    #[must_use]
    pub(super) fn from_code(code: i16) -> Option<Self> {
        Some(match code {
            2 => Self::U8,
            4 => Self::I16,
            8 => Self::I32,
            16 => Self::F32,
            64 => Self::F64,
            256 => Self::I8,
            512 => Self::U16,
            768 => Self::U32,
            1024 => Self::I64,
            1280 => Self::U64,
            _ => return None,
        })
    }

    /// Bytes per voxel.
    #[must_use]
    pub(super) fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::I64 | Self::U64 | Self::F64 => 8,
        }
    }
}

/// Sanitised `scl_slope` / `scl_inter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Scaling {
    /// Multiplier.
    pub slope: f64,
    /// Offset.
    pub inter: f64,
}

impl Scaling {
    /// From the header fields, with nibabel's "no scaling" rule (see the module docs).
    #[must_use]
    pub(super) fn from_header(slope: f32, inter: f32) -> Self {
        if slope == 0.0 || !slope.is_finite() {
            return Scaling {
                slope: 1.0,
                inter: 0.0,
            };
        }
        Scaling {
            slope: f64::from(slope),
            inter: if inter.is_finite() {
                f64::from(inter)
            } else {
                0.0
            },
        }
    }

    fn is_identity(self) -> bool {
        self.slope == 1.0 && self.inter == 0.0
    }
}

/// Voxels whose value the output callback refused: how many, and the first (in voxel order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rejected {
    /// Number of refused voxels.
    pub count: usize,
    /// The first refused value (meaningless when `count == 0`).
    pub first: f64,
}

impl Rejected {
    const NONE: Rejected = Rejected {
        count: 0,
        first: 0.0,
    };

    fn merge(self, later: Rejected) -> Rejected {
        Rejected {
            count: self.count + later.count,
            first: if self.count > 0 {
                self.first
            } else {
                later.first
            },
        }
    }
}

/// A stored sample type.
trait Sample {
    const SIZE: usize;
    fn read(bytes: &[u8], big_endian: bool) -> f64;
}

macro_rules! sample {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn read(bytes: &[u8], big_endian: bool) -> f64 {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(bytes); // callers pass chunks_exact(SIZE) items
                (if big_endian { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }) as f64
            }
        }
    )*};
}
sample!(u8, i8, i16, u16, i32, u32, i64, u64, f32, f64);

/// Decodes `dst.len()` voxels of type `dtype` from `src` (exactly `dst.len() · dtype.size()` bytes), applies
/// `scaling`, and hands each value to `put`, which stores it and returns `false` to refuse it.
pub(super) fn decode<O, F>(
    src: &[u8],
    dtype: DataType,
    big_endian: bool,
    scaling: Scaling,
    dst: &mut [O],
    put: F,
) -> Rejected
where
    O: Send,
    F: Fn(f64, &mut O) -> bool + Sync,
{
    debug_assert_eq!(src.len(), dst.len() * dtype.size());
    match dtype {
        DataType::U8 => run::<u8, O, F>(src, big_endian, scaling, dst, &put),
        DataType::I8 => run::<i8, O, F>(src, big_endian, scaling, dst, &put),
        DataType::I16 => run::<i16, O, F>(src, big_endian, scaling, dst, &put),
        DataType::U16 => run::<u16, O, F>(src, big_endian, scaling, dst, &put),
        DataType::I32 => run::<i32, O, F>(src, big_endian, scaling, dst, &put),
        DataType::U32 => run::<u32, O, F>(src, big_endian, scaling, dst, &put),
        DataType::I64 => run::<i64, O, F>(src, big_endian, scaling, dst, &put),
        DataType::U64 => run::<u64, O, F>(src, big_endian, scaling, dst, &put),
        DataType::F32 => run::<f32, O, F>(src, big_endian, scaling, dst, &put),
        DataType::F64 => run::<f64, O, F>(src, big_endian, scaling, dst, &put),
    }
}

fn run<T: Sample, O: Send, F: Fn(f64, &mut O) -> bool + Sync>(
    src: &[u8],
    big_endian: bool,
    scaling: Scaling,
    dst: &mut [O],
    put: &F,
) -> Rejected {
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK * T::SIZE))
        .map(|(d, s)| {
            let mut rejected = Rejected::NONE;
            let mut handle = |v: f64, o: &mut O| {
                if !put(v, o) {
                    rejected = rejected.merge(Rejected { count: 1, first: v });
                }
            };
            let pairs = s.chunks_exact(T::SIZE).zip(d.iter_mut());
            if scaling.is_identity() {
                pairs.for_each(|(b, o)| handle(T::read(b, big_endian), o));
            } else {
                let Scaling { slope, inter } = scaling;
                pairs.for_each(|(b, o)| handle(T::read(b, big_endian) * slope + inter, o));
            }
            rejected
        })
        .reduce(|| Rejected::NONE, Rejected::merge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_rules() {
        assert_eq!(
            Scaling::from_header(f32::NAN, 3.0),
            Scaling {
                slope: 1.0,
                inter: 0.0
            }
        );
        assert_eq!(
            Scaling::from_header(0.0, 3.0),
            Scaling {
                slope: 1.0,
                inter: 0.0
            }
        );
        assert_eq!(
            Scaling::from_header(2.0, f32::INFINITY),
            Scaling {
                slope: 2.0,
                inter: 0.0
            }
        );
        assert_eq!(
            Scaling::from_header(0.5, -1024.0),
            Scaling {
                slope: 0.5,
                inter: -1024.0
            }
        );
    }

    #[test]
    fn decodes_both_byte_orders_and_reports_first_rejection() {
        let vals: [i16; 3] = [-2, 300, 7];
        let le: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        let s = Scaling {
            slope: 0.5,
            inter: 1.0,
        };
        for (bytes, big) in [(&le, false), (&be, true)] {
            let mut out = [0.0f32; 3];
            let r = decode(bytes, DataType::I16, big, s, &mut out, |v, o| {
                *o = v as f32;
                v < 100.0
            });
            assert_eq!(out, [0.0, 151.0, 4.5]);
            assert_eq!(
                r,
                Rejected {
                    count: 1,
                    first: 151.0
                }
            );
        }
    }
}
