//! 3-D shape features of the ROI (mask only).
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/shape.py` (`RadiomicsShape`) and `radiomics/src/cshape.c`;
//! `reference/radiomics.md` §4.7. IBSI-1 (Zwanenburg et al., Radiology 2020) §3.1 for the conventions switch.
//!
//! ```text
//! A = mesh surface area, V = mesh volume (see marching_cubes), Nv ROI voxels
//! VoxelVolume Nv·Π spacing   SurfaceVolumeRatio A/V   Sphericity (36πV²)^(1/3)/A
//! Compactness1 V/(A^(3/2)·√π)   Compactness2 36πV²/A³   SphericalDisproportion A/(36πV²)^(1/3)
//! PCA of voxel centres (index·spacing, mm): C = XᵀX/N (population; IBSI conventions: N − 1),
//! eigenvalues λ1 ≤ λ2 ≤ λ3 (values in (−1e-10, 0) set to 0)
//! MajorAxisLength 4√λ3  MinorAxisLength 4√λ2  LeastAxisLength 4√λ1  Elongation √(λ2/λ3)  Flatness √(λ1/λ3)
//! Maximum3DDiameter / 2DDiameterSlice (equal z) / Column (equal y) / Row (equal x) over mesh vertices
//! ```

use ndarray::ArrayView3;

use crate::error::Result;
use crate::marching_cubes::mesh_coefficients;
use crate::settings::Conventions;

/// Eigenvalues of a symmetric 3×3 matrix by cyclic Jacobi rotations, ascending.
fn symmetric_eigenvalues(mut a: [[f64; 3]; 3]) -> [f64; 3] {
    for _ in 0..64 {
        let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
        if off == 0.0 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            // A ← Jᵀ A J with the rotation in the (p, q) plane.
            let mut b = a;
            for k in 0..3 {
                b[k][p] = c * a[k][p] - s * a[k][q];
                b[k][q] = s * a[k][p] + c * a[k][q];
            }
            let mut r = b;
            for k in 0..3 {
                r[p][k] = c * b[p][k] - s * b[q][k];
                r[q][k] = s * b[p][k] + c * b[q][k];
            }
            r[p][q] = 0.0;
            r[q][p] = 0.0;
            a = r;
        }
    }
    let mut e = [a[0][0], a[1][1], a[2][2]];
    e.sort_by(f64::total_cmp);
    e
}

/// The 17 shape features (PyRadiomics order, deprecated ones included) of `roi` (cropped to its bounding
/// box) with voxel size `spacing` (mm, `[sz, sy, sx]`).
///
/// # Errors
///
/// Never fails for a non-empty ROI; the `Result` keeps the class entry points uniform.
pub(crate) fn shape_all(
    roi: ArrayView3<bool>,
    spacing: [f64; 3],
    conventions: Conventions,
) -> Result<Vec<(&'static str, f64)>> {
    let mesh = mesh_coefficients(roi, spacing);
    let (area, volume) = (mesh.surface_area, mesh.volume);

    // PCA on voxel centres (padding offsets cancel in the centring).
    let mut coords: Vec<[f64; 3]> = Vec::new();
    for ((z, y, x), &v) in roi.indexed_iter() {
        if v {
            #[allow(clippy::cast_precision_loss)]
            coords.push([
                (z + 1) as f64 * spacing[0],
                (y + 1) as f64 * spacing[1],
                (x + 1) as f64 * spacing[2],
            ]);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let n = coords.len() as f64;
    let mut mean = [0.0; 3];
    for c in &coords {
        for k in 0..3 {
            mean[k] += c[k];
        }
    }
    for m in &mut mean {
        *m /= n;
    }
    let denom = match conventions {
        Conventions::PyRadiomics => n,
        Conventions::Ibsi => (n - 1.0).max(1.0),
    };
    let scale = denom.sqrt();
    let mut cov = [[0.0; 3]; 3];
    for c in &coords {
        let d = [
            (c[0] - mean[0]) / scale,
            (c[1] - mean[1]) / scale,
            (c[2] - mean[2]) / scale,
        ];
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j];
            }
        }
    }
    let mut ev = symmetric_eigenvalues(cov);
    for e in &mut ev {
        if *e < 0.0 && *e > -1e-10 {
            *e = 0.0;
        }
    }
    let axis = |e: f64| if e < 0.0 { f64::NAN } else { e.sqrt() * 4.0 };
    let ratio = |a: f64, b: f64| {
        if a < 0.0 || b < 0.0 {
            f64::NAN
        } else {
            (a / b).sqrt()
        }
    };
    let pi = std::f64::consts::PI;
    let sphere = (36.0 * pi * volume * volume).powf(1.0 / 3.0);
    let voxel_volume = n * (spacing[0] * spacing[2] * spacing[1]);
    let d = mesh.diameters;
    Ok(vec![
        ("Compactness1", volume / (area.powf(1.5) * pi.sqrt())),
        (
            "Compactness2",
            (36.0 * pi) * volume.powf(2.0) / area.powf(3.0),
        ),
        ("Elongation", ratio(ev[1], ev[2])),
        ("Flatness", ratio(ev[0], ev[2])),
        ("LeastAxisLength", axis(ev[0])),
        ("MajorAxisLength", axis(ev[2])),
        ("Maximum2DDiameterColumn", d[1]),
        ("Maximum2DDiameterRow", d[2]),
        ("Maximum2DDiameterSlice", d[0]),
        ("Maximum3DDiameter", d[3]),
        ("MeshVolume", volume),
        ("MinorAxisLength", axis(ev[1])),
        ("SphericalDisproportion", area / sphere),
        ("Sphericity", sphere / area),
        ("SurfaceArea", area),
        ("SurfaceVolumeRatio", area / volume),
        ("VoxelVolume", voxel_volume),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn jacobi_diagonalises() {
        let e = symmetric_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        assert!(
            (e[0] - 1.0).abs() < 1e-14 && (e[1] - 3.0).abs() < 1e-14 && (e[2] - 5.0).abs() < 1e-14
        );
    }

    #[test]
    fn unit_cube_mesh() {
        // One voxel of 1 mm: the midpoint mesh is an octahedron with V = 1/6·… (8 triangles).
        let roi = Array3::from_elem((1, 1, 1), true);
        let f = shape_all(roi.view(), [1.0; 3], Conventions::PyRadiomics).unwrap();
        let get = |n: &str| f.iter().find(|(k, _)| *k == n).unwrap().1;
        assert!((get("MeshVolume") - 1.0 / 6.0).abs() < 1e-15);
        assert!((get("SurfaceArea") - 8.0 * 3f64.sqrt() / 8.0).abs() < 1e-14);
        assert_eq!(get("VoxelVolume"), 1.0);
    }
}
