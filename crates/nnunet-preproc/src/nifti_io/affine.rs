//! NIfTI-1 header transforms: the voxel-to-world affine that nibabel's `get_best_affine` returns, and the
//! quaternion form (qform) of an affine for writing.
//!
//! ```text
//! sform (sform_code ∈ 1..=5):  A = [srow_x; srow_y; srow_z; 0 0 0 1]
//! qform (qform_code ∈ 1..=5):  A = [R(b, c, d) · diag(|dx|, |dy|, qfac·|dz|) | (qx, qy, qz)]
//!                              a = √(1 − b² − c² − d²),  qfac = pixdim[0] if it is ±1, else +1
//! base (neither):              A = [diag(−|dx|, |dy|, |dz|) | ((nx−1)/2·|dx|, −(ny−1)/2·|dy|, −(nz−1)/2·|dz|)]
//! ```
//!
//! Codes outside `0..=5` are treated as 0, negative pixdims by their absolute value and an invalid qfac as
//! +1: the fixes nibabel applies when it loads a header (`Nifti1Header._chk_*`). Where `1 − b² − c² − d²` is
//! negative beyond rounding, nibabel raises; we renormalise `(b, c, d)` and set `a = 0` as the NIfTI
//! reference C library (`nifti_quatern_to_mat44`) and ITK do.
//!
//! References: nibabel 5.4.2 `nibabel/nifti1.py` (`get_best_affine`, `get_qform`, `set_qform`),
//! `nibabel/quaternions.py` (`fillpositive`, `quat2mat`, `mat2quat`), `nibabel/volumeutils.py`
//! (`shape_zoom_affine`); NIfTI-1 standard, `nifti1.h` (methods 2 and 3).

use nifti::NiftiHeader;

/// Row-major 4×4 affine.
pub(super) type Affine = [[f64; 4]; 4];

/// Whether an xform code is one nibabel accepts as non-zero (`NIFTI_XFORM_SCANNER_ANAT` … `TEMPLATE_OTHER`).
fn xform_code_is_set(code: i16) -> bool {
    (1..=5).contains(&code)
}

/// `|pixdim[1..=3]|` in NIfTI order `(x, y, z)`.
#[must_use]
pub(super) fn zooms_xyz(header: &NiftiHeader) -> [f64; 3] {
    [1, 2, 3].map(|i| f64::from(header.pixdim[i]).abs())
}

/// The qfac in `pixdim[0]`: ±1 as stored, anything else +1 (nibabel's `_chk_qfac` fix).
#[must_use]
fn qfac(header: &NiftiHeader) -> f64 {
    if header.pixdim[0] == -1.0 {
        -1.0
    } else {
        1.0
    }
}

/// nibabel's `get_best_affine` (after nibabel's header fixes), see the module docs.
#[must_use]
pub(super) fn best_affine(header: &NiftiHeader, shape_xyz: [usize; 3]) -> Affine {
    let zooms = zooms_xyz(header);
    if xform_code_is_set(header.sform_code) {
        let mut a = identity();
        for (row, srow) in a
            .iter_mut()
            .zip([header.srow_x, header.srow_y, header.srow_z])
        {
            for (v, s) in row.iter_mut().zip(srow) {
                *v = f64::from(s);
            }
        }
        a
    } else if xform_code_is_set(header.qform_code) {
        let r = rotation_of_quaternion(
            [header.quatern_b, header.quatern_c, header.quatern_d].map(f64::from),
        );
        let scale = [zooms[0], zooms[1], qfac(header) * zooms[2]];
        let offset = [header.quatern_x, header.quatern_y, header.quatern_z].map(f64::from);
        let mut a = identity();
        for r_ in 0..3 {
            for c in 0..3 {
                a[r_][c] = r[r_][c] * scale[c];
            }
            a[r_][3] = offset[r_];
        }
        a
    } else {
        let mut a = identity();
        let sign = [-1.0, 1.0, 1.0];
        for i in 0..3 {
            let z = sign[i] * zooms[i];
            a[i][i] = z;
            a[i][3] = -(shape_xyz[i] as f64 - 1.0) / 2.0 * z;
        }
        a
    }
}

fn identity() -> Affine {
    let mut a = [[0.0; 4]; 4];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    a
}

/// Rotation matrix of the unit quaternion `(a, b, c, d)` with `a = √(1 − b² − c² − d²) ≥ 0`.
///
/// ```text
/// |w²| < 3·ε(f32)  → a = 0                      (nibabel fillpositive threshold)
/// w² < 0           → (b, c, d) /= |(b, c, d)|, a = 0   (nifti_quatern_to_mat44)
/// ```
#[must_use]
pub(super) fn rotation_of_quaternion([b, c, d]: [f64; 3]) -> [[f64; 3]; 3] {
    let w2 = 1.0 - (b * b + c * c + d * d);
    let (a, b, c, d) = if w2.abs() < 3.0 * f64::from(f32::EPSILON) {
        (0.0, b, c, d)
    } else if w2 < 0.0 {
        let n = (b * b + c * c + d * d).sqrt();
        (0.0, b / n, c / n, d / n)
    } else {
        (w2.sqrt(), b, c, d)
    };
    let n = a * a + b * b + c * c + d * d;
    if n.is_nan() || n <= f64::EPSILON {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let s = 2.0 / n;
    let (x, y, z) = (b * s, c * s, d * s);
    let (wx, wy, wz) = (a * x, a * y, a * z);
    let (xx, xy, xz) = (b * x, b * y, b * z);
    let (yy, yz, zz) = (c * y, c * z, d * z);
    [
        [1.0 - (yy + zz), xy - wz, xz + wy],
        [xy + wz, 1.0 - (xx + zz), yz - wx],
        [xz - wy, yz + wx, 1.0 - (xx + yy)],
    ]
}

/// The qform fields that represent an affine (nibabel `set_qform` with `strip_shears=True`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Qform {
    /// Quaternion `(b, c, d)`; `a ≥ 0` is implied.
    pub quatern: [f64; 3],
    /// Translation `(qoffset_x, qoffset_y, qoffset_z)`.
    pub offset: [f64; 3],
    /// `pixdim[0]`: +1 for a right-handed, −1 for a left-handed affine.
    pub qfac: f64,
}

/// The qform of `affine`; `None` when the 3×3 part is not finite or is singular.
///
/// ```text
/// R = A₃ₓ₃ / column norms;  det R < 0 → qfac = −1, R[:, 2] *= −1
/// R ← closest rotation (polar decomposition: Q ← (Q + Q⁻ᵀ)/2 until converged)
/// (a, b, c, d) = quaternion of R with a ≥ 0
/// ```
#[must_use]
pub(super) fn qform_of_affine(affine: &Affine) -> Option<Qform> {
    if !affine.iter().take(3).flatten().all(|v| v.is_finite()) {
        return None;
    }
    let mut r = [[0.0; 3]; 3];
    for c in 0..3 {
        let norm = (0..3)
            .map(|i| affine[i][c] * affine[i][c])
            .sum::<f64>()
            .sqrt();
        if norm.is_nan() || norm <= 0.0 {
            return None;
        }
        for i in 0..3 {
            r[i][c] = affine[i][c] / norm;
        }
    }
    let qfac = if det3(&r) < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let r = closest_rotation(r)?;
    Some(Qform {
        quatern: quaternion_of_rotation(&r),
        offset: [affine[0][3], affine[1][3], affine[2][3]],
        qfac,
    })
}

fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Inverse transpose of a 3×3 matrix (`None` when singular).
fn inverse_transpose(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = det3(m);
    if det.is_nan() || det.abs() <= 1e-12 {
        return None;
    }
    // cofactor matrix / det = (M⁻¹)ᵀ
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
            let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
            *v = (m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]) / det;
        }
    }
    Some(out)
}

/// Orthogonal polar factor of `m` (the closest rotation for `det m > 0`), by Newton iteration.
fn closest_rotation(mut m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    for _ in 0..50 {
        let it = inverse_transpose(&m)?;
        let mut change: f64 = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                let next = 0.5 * (m[i][j] + it[i][j]);
                change = change.max((next - m[i][j]).abs());
                m[i][j] = next;
            }
        }
        if change < 1e-15 {
            break;
        }
    }
    Some(m)
}

/// `(b, c, d)` of the unit quaternion of rotation `r`, sign chosen so that `a ≥ 0` (Shepperd's method).
fn quaternion_of_rotation(r: &[[f64; 3]; 3]) -> [f64; 3] {
    let trace = r[0][0] + r[1][1] + r[2][2];
    let (a, b, c, d) = if trace > 0.0 {
        let s = 2.0 * (trace + 1.0).sqrt();
        (
            0.25 * s,
            (r[2][1] - r[1][2]) / s,
            (r[0][2] - r[2][0]) / s,
            (r[1][0] - r[0][1]) / s,
        )
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = 2.0 * (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt();
        (
            (r[2][1] - r[1][2]) / s,
            0.25 * s,
            (r[0][1] + r[1][0]) / s,
            (r[0][2] + r[2][0]) / s,
        )
    } else if r[1][1] > r[2][2] {
        let s = 2.0 * (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt();
        (
            (r[0][2] - r[2][0]) / s,
            (r[0][1] + r[1][0]) / s,
            0.25 * s,
            (r[1][2] + r[2][1]) / s,
        )
    } else {
        let s = 2.0 * (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt();
        (
            (r[1][0] - r[0][1]) / s,
            (r[0][2] + r[2][0]) / s,
            (r[1][2] + r[2][1]) / s,
            0.25 * s,
        )
    };
    if a < 0.0 {
        [-b, -c, -d]
    } else {
        [b, c, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rot_z(deg: f64) -> [[f64; 3]; 3] {
        let (s, c) = deg.to_radians().sin_cos();
        [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    }

    #[test]
    fn quaternion_round_trip() {
        for deg in [0.0, 30.0, 90.0, 179.0, 180.0, 270.0] {
            let r = rot_z(deg);
            let q = quaternion_of_rotation(&r);
            let back = rotation_of_quaternion(q);
            for i in 0..3 {
                for j in 0..3 {
                    assert!(
                        (back[i][j] - r[i][j]).abs() < 1e-7,
                        "{deg}: {back:?} vs {r:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn qform_of_left_handed_affine() {
        // x flipped, z flipped: det < 0
        let a = [
            [-2.0, 0.0, 0.0, 1.0],
            [0.0, 3.0, 0.0, 2.0],
            [0.0, 0.0, 1.0, 3.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let q = qform_of_affine(&a).unwrap();
        assert_eq!(q.qfac, -1.0);
        assert_eq!(q.offset, [1.0, 2.0, 3.0]);
        let r = rotation_of_quaternion(q.quatern);
        // R · diag(1, 1, qfac) reproduces the normalised columns
        let expect = [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        for i in 0..3 {
            for j in 0..3 {
                let v = r[i][j] * if j == 2 { q.qfac } else { 1.0 };
                assert!((v - expect[i][j]).abs() < 1e-12);
            }
        }
        assert!(qform_of_affine(&[[0.0; 4]; 4]).is_none());
    }
}
