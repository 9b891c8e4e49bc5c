//! 2-D shape features (`shape2D`) of a single-slice ROI, with `force2D`.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/shape2D.py` (`RadiomicsShape2D`) and `radiomics/src/cshape.c`
//! (`calculate_coefficients2D`, `calculate_meshDiameter2D`: marching squares on the zero-padded slice).
//!
//! ```text
//! slice = ROI squeezed along force2Ddimension, pixel spacing (s0, s1) of the two other axes
//! marching squares over 2×2 windows (corners p0 (0,0), p1 (0,1), p2 (1,1), p3 (1,0)), line table of
//!   PyRadiomics; per line a→b (edge midpoints, in mm):  A += a0·b1 − b0·a1,  P += |a − b|
//! MeshSurface = A/2   Perimeter = P   PixelSurface = Np·s0·s1   PerimeterSurfaceRatio = P/A
//! Sphericity = 2√(πA)/P   SphericalDisproportion = 1/Sphericity
//! MaximumDiameter = max distance between the stored vertices (edges 3 and 2 of each window)
//! PCA of pixel centres (mm): C = XᵀX/N, eigenvalues λ0 ≤ λ1 (values in (−1e-10, 0) set to 0)
//! MajorAxisLength 4√λ1   MinorAxisLength 4√λ0   Elongation √(λ0/λ1)
//! ```

use ndarray::{Array2, ArrayView3, Axis};

use crate::error::{Error, Result};

/// Corners of the marching square, `(row, column)` offsets.
const GRID: [[usize; 2]; 4] = [[0, 0], [0, 1], [1, 1], [1, 0]];
/// Lines per square index (pairs of edge numbers, −1 terminated).
const LINES: [[i8; 5]; 16] = [
    [-1, -1, -1, -1, -1],
    [3, 0, -1, -1, -1],
    [0, 1, -1, -1, -1],
    [3, 1, -1, -1, -1],
    [1, 2, -1, -1, -1],
    [1, 2, 3, 0, -1],
    [0, 2, -1, -1, -1],
    [3, 2, -1, -1, -1],
    [2, 3, -1, -1, -1],
    [2, 0, -1, -1, -1],
    [0, 1, 2, 3, -1],
    [2, 1, -1, -1, -1],
    [1, 3, -1, -1, -1],
    [1, 0, -1, -1, -1],
    [0, 3, -1, -1, -1],
    [-1, -1, -1, -1, -1],
];
/// Edge midpoints relative to the square's origin.
const VERTS: [[f64; 2]; 4] = [[0.0, 0.5], [0.5, 1.0], [1.0, 0.5], [0.5, 0.0]];

/// Perimeter, mesh surface and maximum diameter of a zero-padded 2-D mask (PyRadiomics'
/// `calculate_coefficients2D`).
fn coefficients(mask: &Array2<bool>, spacing: [f64; 2]) -> (f64, f64, f64) {
    let (ny, nx) = mask.dim();
    let mut perimeter = 0.0;
    let mut surface = 0.0;
    let mut vertices: Vec<[f64; 2]> = Vec::new();
    for iy in 0..ny - 1 {
        for ix in 0..nx - 1 {
            let mut idx = 0usize;
            for (k, g) in GRID.iter().enumerate() {
                if mask[(iy + g[0], ix + g[1])] {
                    idx |= 1 << k;
                }
            }
            if idx == 0 || idx == 0xF {
                continue;
            }
            let mut t = 0;
            while LINES[idx][t * 2] >= 0 {
                #[allow(clippy::cast_sign_loss)]
                let (ea, eb) = (LINES[idx][t * 2] as usize, LINES[idx][t * 2 + 1] as usize);
                #[allow(clippy::cast_precision_loss)]
                let mut a = [iy as f64, ix as f64];
                let mut b = a;
                for d in 0..2 {
                    a[d] += VERTS[ea][d];
                    b[d] += VERTS[eb][d];
                    a[d] *= spacing[d];
                    b[d] *= spacing[d];
                }
                surface += (a[0] * b[1]) - (b[0] * a[1]);
                for d in 0..2 {
                    a[d] -= b[d];
                    a[d] *= a[d];
                }
                perimeter += (a[0] + a[1]).sqrt();
                t += 1;
            }
            let flipped = if idx > 7 { idx ^ 0xF } else { idx };
            for (point, edge) in [(0usize, 3usize), (2, 2)] {
                if flipped & (1 << point) != 0 {
                    #[allow(clippy::cast_precision_loss)]
                    vertices.push([
                        (iy as f64 + VERTS[edge][0]) * spacing[0],
                        (ix as f64 + VERTS[edge][1]) * spacing[1],
                    ]);
                }
            }
        }
    }
    surface /= 2.0;
    let mut diameter = 0.0f64;
    let mut top = vertices.len();
    while top > 0 {
        top -= 1;
        let a = vertices[top];
        for b in &vertices[..top] {
            let d0 = a[0] - b[0];
            let d1 = a[1] - b[1];
            let dist = d0 * d0 + d1 * d1;
            if dist > diameter {
                diameter = dist;
            }
        }
    }
    (perimeter, surface, diameter.sqrt())
}

/// The 10 shape2D features (PyRadiomics order, SphericalDisproportion included) of a single-slice `roi`
/// (cropped to its bounding box, size 1 along `dimension`) with voxel size `spacing` (`[sz, sy, sx]`).
///
/// # Errors
///
/// [`Error::FeatureClass`] when the ROI has more than one slice along `dimension` (PyRadiomics raises
/// ValueError) or `dimension > 2`.
pub(crate) fn shape2d_all(
    roi: ArrayView3<bool>,
    spacing: [f64; 3],
    dimension: usize,
) -> Result<Vec<(&'static str, f64)>> {
    if dimension > 2 || roi.len_of(Axis(dimension)) != 1 {
        return Err(Error::FeatureClass {
            class: "shape2D",
            reason: format!(
                "the ROI has more than one slice along force2Ddimension {dimension} (shape {:?})",
                roi.dim()
            ),
        });
    }
    let plane = roi.index_axis(Axis(dimension), 0);
    let axes: Vec<usize> = (0..3).filter(|&a| a != dimension).collect();
    let sp = [spacing[axes[0]], spacing[axes[1]]];
    let (ny, nx) = plane.dim();
    let mut padded = Array2::<bool>::from_elem((ny + 2, nx + 2), false);
    padded.slice_mut(ndarray::s![1..=ny, 1..=nx]).assign(&plane);
    let (perimeter, surface, diameter) = coefficients(&padded, sp);

    // PCA of pixel centres.
    let pts: Vec<[f64; 2]> = plane
        .indexed_iter()
        .filter(|(_, &v)| v)
        .map(|((y, x), _)| {
            #[allow(clippy::cast_precision_loss)]
            [(y + 1) as f64 * sp[0], (x + 1) as f64 * sp[1]]
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let np = pts.len() as f64;
    let mean = [
        pts.iter().map(|p| p[0]).sum::<f64>() / np,
        pts.iter().map(|p| p[1]).sum::<f64>() / np,
    ];
    let sq = np.sqrt();
    let (mut c00, mut c01, mut c11) = (0.0, 0.0, 0.0);
    for p in &pts {
        let a = (p[0] - mean[0]) / sq;
        let b = (p[1] - mean[1]) / sq;
        c00 += a * a;
        c01 += a * b;
        c11 += b * b;
    }
    let tr = c00 + c11;
    let disc = ((c00 - c11) * (c00 - c11) + 4.0 * c01 * c01).sqrt();
    let mut eig = [0.5 * (tr - disc), 0.5 * (tr + disc)];
    for e in &mut eig {
        if *e < 0.0 && *e > -1e-10 {
            *e = 0.0;
        }
    }
    let root = |v: f64| if v < 0.0 { f64::NAN } else { v.sqrt() };
    let sphericity = (2.0 * (std::f64::consts::PI * surface).sqrt()) / perimeter;
    let elongation = if eig[0] < 0.0 || eig[1] < 0.0 {
        f64::NAN
    } else {
        (eig[0] / eig[1]).sqrt()
    };
    Ok(vec![
        ("Elongation", elongation),
        ("MajorAxisLength", root(eig[1]) * 4.0),
        ("MaximumDiameter", diameter),
        ("MeshSurface", surface),
        ("MinorAxisLength", root(eig[0]) * 4.0),
        ("Perimeter", perimeter),
        ("PerimeterSurfaceRatio", perimeter / surface),
        ("PixelSurface", np * (sp[1] * sp[0])),
        ("SphericalDisproportion", 1.0 / sphericity),
        ("Sphericity", sphericity),
    ])
}
