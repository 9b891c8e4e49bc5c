//! Image geometry and the axis conventions that every crate of the workspace follows.
//!
//! # Conventions
//!
//! * **Array axis order is `(z, y, x)`**, C-contiguous (x fastest), exactly SimpleITK's
//!   `GetArrayFromImage` order and therefore nnU-Net's array order. Multi-channel data is `(C, z, y, x)`.
//! * **Spacing is in millimetres, in array order `[sz, sy, sx]`**: nnU-Net's `properties['spacing']` (the
//!   SimpleITK spacing reversed).
//! * NIfTI stores voxels in Fortran order with shape `[nx, ny, nz]` (`i` fastest). Reversing the axes of that
//!   array gives the C-contiguous `(z, y, x)` array without a copy; `index (z, y, x)` is NIfTI voxel
//!   `(i, j, k) = (x, y, z)`.
//! * The **affine** is NIfTI's voxel-to-world matrix in RAS+ millimetres (nibabel `img.affine`): it maps the
//!   NIfTI voxel `(i, j, k, 1)` — i.e. the *reversed* array index — to world `(R, A, S, 1)`. SimpleITK/ITK's
//!   LPS origin and direction follow from it with [`Geometry::origin_lps`] and [`Geometry::direction_lps`].
//!
//! Reference: nnU-Net v2 `imageio/simpleitk_reader_writer.py` (spacing reversal), nibabel `get_best_affine`.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{Error, Result};

/// Voxel spacing in millimetres in array order `[sz, sy, sx]`.
pub type Spacing = [f64; 3];

/// Where a volume's voxels sit in the world: spacing plus the NIfTI voxel-to-world affine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Voxel size in mm, array order `[sz, sy, sx]`.
    pub spacing: Spacing,
    /// NIfTI voxel `(i, j, k) = (x, y, z)` → RAS+ world (mm), row-major 4×4.
    pub affine: [[f64; 4]; 4],
}

impl Geometry {
    /// A geometry with the given spacing, no rotation and the origin at world zero
    /// (`affine = diag(sx, sy, sz, 1)`).
    #[must_use]
    pub fn from_spacing(spacing: Spacing) -> Self {
        let [sz, sy, sx] = spacing;
        Geometry {
            spacing,
            affine: [
                [sx, 0.0, 0.0, 0.0],
                [0.0, sy, 0.0, 0.0],
                [0.0, 0.0, sz, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
        }
    }

    /// Checks that every spacing is finite and strictly positive; `source` names the file in the error.
    pub fn check_spacing(&self, source: &Path) -> Result<()> {
        check_spacing(self.spacing, source)
    }

    /// The world (RAS+) position of the centre of array voxel `(z, y, x)`.
    #[must_use]
    pub fn world_of_index(&self, index: [f64; 3]) -> [f64; 3] {
        let ijk = [index[2], index[1], index[0]];
        let mut out = [0.0; 3];
        for (r, o) in out.iter_mut().enumerate() {
            *o = self.affine[r][3] + (0..3).map(|c| self.affine[r][c] * ijk[c]).sum::<f64>();
        }
        out
    }

    /// ITK/SimpleITK origin (LPS, `(x, y, z)` order): the world position of voxel 0 with R and A negated.
    #[must_use]
    pub fn origin_lps(&self) -> [f64; 3] {
        [-self.affine[0][3], -self.affine[1][3], self.affine[2][3]]
    }

    /// ITK/SimpleITK direction cosines (LPS, row-major 3×3 over `(x, y, z)` index axes): the affine's columns
    /// divided by their lengths, rows R and A negated.
    #[must_use]
    pub fn direction_lps(&self) -> [[f64; 3]; 3] {
        let norms: [f64; 3] = std::array::from_fn(|c| {
            let n = (0..3)
                .map(|r| self.affine[r][c] * self.affine[r][c])
                .sum::<f64>()
                .sqrt();
            if n > 0.0 {
                n
            } else {
                1.0
            }
        });
        std::array::from_fn(|r| {
            let flip = if r < 2 { -1.0 } else { 1.0 };
            std::array::from_fn(|c| flip * self.affine[r][c] / norms[c])
        })
    }

    /// The geometry of the sub-volume that starts at array index `lo = (z, y, x)`: same spacing and
    /// axes, origin moved to that voxel.
    #[must_use]
    pub fn cropped(&self, lo: [usize; 3]) -> Self {
        let origin = self.world_of_index([lo[0] as f64, lo[1] as f64, lo[2] as f64]);
        let mut affine = self.affine;
        for (r, o) in origin.iter().enumerate() {
            affine[r][3] = *o;
        }
        Geometry {
            spacing: self.spacing,
            affine,
        }
    }

    /// The geometry after resampling a volume of `old_shape` to `new_shape` with half-voxel-centred
    /// coordinates (`src = (dst + 0.5)·old/new − 0.5`, as scipy's `zoom(grid_mode=True)` and skimage
    /// `resize`), labelled with spacing `new_spacing`.
    #[must_use]
    pub fn resampled(
        &self,
        old_shape: [usize; 3],
        new_shape: [usize; 3],
        new_spacing: Spacing,
    ) -> Self {
        let factor: [f64; 3] =
            std::array::from_fn(|a| old_shape[a] as f64 / new_shape[a].max(1) as f64);
        let first = self.world_of_index(std::array::from_fn(|a| 0.5 * factor[a] - 0.5));
        let mut affine = self.affine;
        // array axis a ↔ NIfTI column 2 − a
        for (a, (&new_len, &old_len)) in new_spacing.iter().zip(&self.spacing).enumerate() {
            let c = 2 - a;
            let scale = if old_len > 0.0 {
                new_len / old_len
            } else {
                1.0
            };
            for row in affine.iter_mut().take(3) {
                row[c] *= scale;
            }
        }
        for (r, o) in first.iter().enumerate() {
            affine[r][3] = *o;
        }
        Geometry {
            spacing: new_spacing,
            affine,
        }
    }
}

/// Checks that every spacing is finite and strictly positive; `source` names the file in the error.
pub fn check_spacing(spacing: Spacing, source: &Path) -> Result<()> {
    if spacing.iter().all(|s| s.is_finite() && *s > 0.0) {
        Ok(())
    } else {
        Err(Error::InvalidSpacing {
            path: source.to_path_buf(),
            spacing,
        })
    }
}

/// A 3-D scalar volume in array order `(z, y, x)` with its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Voxel values, `(z, y, x)`.
    pub data: ndarray::Array3<f32>,
    /// Spacing and affine.
    pub geometry: Geometry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lps_from_ras_affine() {
        let g = Geometry {
            spacing: [2.0, 0.5, 0.5],
            affine: [
                [-0.5, 0.0, 0.0, 10.0],
                [0.0, -0.5, 0.0, 20.0],
                [0.0, 0.0, 2.0, -30.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
        };
        assert_eq!(g.origin_lps(), [-10.0, -20.0, -30.0]);
        assert_eq!(
            g.direction_lps(),
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        );
        // voxel (z=1, y=2, x=4) -> i=4, j=2, k=1
        assert_eq!(g.world_of_index([1.0, 2.0, 4.0]), [8.0, 19.0, -28.0]);
        let c = g.cropped([1, 2, 4]);
        assert_eq!(c.world_of_index([0.0, 0.0, 0.0]), [8.0, 19.0, -28.0]);
    }

    #[test]
    fn resampled_keeps_field_of_view_edges() {
        let g = Geometry::from_spacing([1.5, 0.7, 0.7]);
        let r = g.resampled([10, 20, 20], [15, 14, 14], [1.0, 1.0, 1.0]);
        assert_eq!(r.spacing, [1.0, 1.0, 1.0]);
        // the low edge of the field of view (index -0.5) maps to the same world point
        let old_edge = g.world_of_index([-0.5, -0.5, -0.5]);
        let new_edge = r.world_of_index([-0.5, -0.5, -0.5]);
        for a in 0..3 {
            assert!(
                (old_edge[a] - new_edge[a]).abs() < 1e-2,
                "{old_edge:?} vs {new_edge:?}"
            );
        }
    }

    #[test]
    fn bad_spacing_is_an_error() {
        assert!(check_spacing([1.0, 0.0, 1.0], Path::new("a.nii")).is_err());
        assert!(check_spacing([1.0, f64::NAN, 1.0], Path::new("a.nii")).is_err());
        assert!(check_spacing([1.0, -1.0, 1.0], Path::new("a.nii")).is_err());
        assert!(check_spacing([1.0, 2.0, 3.0], Path::new("a.nii")).is_ok());
    }
}
