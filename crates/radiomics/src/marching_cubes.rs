//! Midpoint marching cubes over a binary mask, as PyRadiomics' C shape kernel triangulates it: surface area,
//! signed mesh volume and the vertex set used for the maximum diameters.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/src/cshape.c` (`calculate_coefficients`,
//! `calculate_meshDiameter`); W. E. Lorensen and H. E. Cline, "Marching cubes: a high resolution 3D surface
//! construction algorithm", SIGGRAPH 1987; the triangle table is the first half (128 rows) of P. Bourke's
//! public marching-cubes table ("Polygonising a scalar field", 1994), which PyRadiomics uses.
//!
//! ```text
//! corners (z, y, x): p0 (0,0,0) p1 (0,0,1) p2 (0,1,1) p3 (0,1,0) p4 (1,0,0) p5 (1,0,1) p6 (1,1,1) p7 (1,1,0)
//! cube index = Σ 2^k [p_k in ROI];  index > 127 → index ^ 0xFF and the volume sign flips
//! every vertex is an edge midpoint; coordinates (index + offset) · spacing
//! area   = Σ |(a − c) × (b − c)| / 2
//! volume = Σ sign · a · (b × c) / 6
//! vertices for diameters: those on edges 6, 7, 11 of each cube (each mesh vertex once)
//! ```

use ndarray::ArrayView3;
use rayon::prelude::*;

/// Corner offsets `(z, y, x)` in PyRadiomics' order.
const CORNERS: [[usize; 3]; 8] = [
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 1],
    [0, 1, 0],
    [1, 0, 0],
    [1, 0, 1],
    [1, 1, 1],
    [1, 1, 0],
];

/// Edge midpoints `(z, y, x)` relative to the cube origin.
const EDGE_MIDPOINTS: [[f64; 3]; 12] = [
    [0.0, 0.0, 0.5],
    [0.0, 0.5, 1.0],
    [0.0, 1.0, 0.5],
    [0.0, 0.5, 0.0],
    [1.0, 0.0, 0.5],
    [1.0, 0.5, 1.0],
    [1.0, 1.0, 0.5],
    [1.0, 0.5, 0.0],
    [0.5, 0.0, 0.0],
    [0.5, 0.0, 1.0],
    [0.5, 1.0, 1.0],
    [0.5, 1.0, 0.0],
];

/// (corner whose membership implies a vertex, edge carrying it) for the vertices stored once per cube.
const STORED_VERTICES: [(usize, usize); 3] = [(6, 6), (4, 7), (3, 11)];

/// Mesh measurements of a mask.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MeshCoefficients {
    /// Σ triangle areas (mm²).
    pub surface_area: f64,
    /// Signed mesh volume (mm³).
    pub volume: f64,
    /// Maximum diameters: [equal z (slice), equal y (column), equal x (row), 3-D] (mm).
    pub diameters: [f64; 4],
}

/// Runs the marching cubes over `mask` padded by one empty voxel on every side.
pub(crate) fn mesh_coefficients(mask: ArrayView3<bool>, spacing: [f64; 3]) -> MeshCoefficients {
    let (nz, ny, nx) = mask.dim();
    // Padded copy (one empty voxel on every side): voxel at padded (z, y, x) is original (z − 1, y − 1, x − 1),
    // so the cube corners need no bounds checks.
    let (py, px) = (ny + 2, nx + 2);
    let mut padded = vec![0u8; (nz + 2) * py * px];
    for ((z, y, x), &v) in mask.indexed_iter() {
        padded[((z + 1) * py + y + 1) * px + x + 1] = u8::from(v);
    }
    let offsets = CORNERS.map(|c| (c[0] * py + c[1]) * px + c[2]);
    let padded = &padded;
    // Cubes of the padded (nz + 2, ny + 2, nx + 2) grid: origins 0..=nz etc. Parallel over z-slabs; the
    // per-slab sums are added in slab order.
    let slabs: Vec<(f64, f64, Vec<[f64; 3]>)> = (0..=nz)
        .into_par_iter()
        .map(|iz| {
            let mut area = 0.0;
            let mut volume = 0.0;
            let mut vertices = Vec::new();
            for iy in 0..=ny {
                let row = (iz * py + iy) * px;
                for ix in 0..=nx {
                    let base = row + ix;
                    let mut idx = 0u8;
                    for (k, &o) in offsets.iter().enumerate() {
                        idx |= padded[base + o] << k;
                    }
                    let sign = if idx & 0x80 != 0 {
                        idx ^= 0xFF;
                        -1.0
                    } else {
                        1.0
                    };
                    let origin = [iz as f64, iy as f64, ix as f64];
                    for &(corner, edge) in &STORED_VERTICES {
                        if idx & (1 << corner) != 0 {
                            vertices.push(point(origin, edge, spacing));
                        }
                    }
                    if idx == 0 {
                        continue;
                    }
                    for tri in TRIANGLES[usize::from(idx)].chunks_exact(3) {
                        let a = point(origin, usize::from(tri[0]), spacing);
                        let b = point(origin, usize::from(tri[1]), spacing);
                        let c = point(origin, usize::from(tri[2]), spacing);
                        let ab = cross(a, b);
                        volume += sign * (ab[0] * c[0] + ab[1] * c[1] + ab[2] * c[2]);
                        let u = [a[0] - c[0], a[1] - c[1], a[2] - c[2]];
                        let v = [b[0] - c[0], b[1] - c[1], b[2] - c[2]];
                        let n = cross(u, v);
                        area += 0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                    }
                }
            }
            (area, volume, vertices)
        })
        .collect();
    let mut surface_area = 0.0;
    let mut volume = 0.0;
    let mut vertices = Vec::new();
    for (a, v, verts) in slabs {
        surface_area += a;
        volume += v;
        vertices.extend(verts);
    }
    MeshCoefficients {
        surface_area,
        volume: volume / 6.0,
        diameters: diameters(&vertices),
    }
}

#[allow(clippy::cast_precision_loss)]
fn point(origin: [f64; 3], edge: usize, spacing: [f64; 3]) -> [f64; 3] {
    let m = EDGE_MIDPOINTS[edge];
    [
        (origin[0] + m[0]) * spacing[0],
        (origin[1] + m[1]) * spacing[1],
        (origin[2] + m[2]) * spacing[2],
    ]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - b[1] * a[2],
        a[2] * b[0] - b[2] * a[0],
        a[0] * b[1] - b[0] * a[1],
    ]
}

/// Maximum pairwise distances: [same z, same y, same x, any] (exact coordinate equality, as in C).
///
/// Same values as PyRadiomics' O(V²) scan: the 2-D maxima are searched within groups of equal coordinate, the
/// 3-D maximum over pairs ordered by distance from the centroid, stopping once `r_i + r_j` (triangle
/// inequality, with a rounding margin) cannot beat the best distance found.
fn diameters(v: &[[f64; 3]]) -> [f64; 4] {
    let mut d = [0.0f64; 4];
    for axis in 0..3 {
        let mut sorted: Vec<&[f64; 3]> = v.iter().collect();
        sorted.sort_by(|a, b| a[axis].total_cmp(&b[axis]));
        let groups: Vec<&[&[f64; 3]]> = sorted.chunk_by(|a, b| a[axis] == b[axis]).collect();
        d[axis] = groups
            .par_iter()
            .map(|g| max_distance(g))
            .reduce(|| 0.0, f64::max);
    }
    let refs: Vec<&[f64; 3]> = v.iter().collect();
    d[3] = max_distance(&refs);
    d.map(f64::sqrt)
}

fn sq_dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let dz = a[0] - b[0];
    let dy = a[1] - b[1];
    let dx = a[2] - b[2];
    dz * dz + dy * dy + dx * dx
}

/// Largest squared pairwise distance of `pts`, exact, pruned by distances from the centroid.
fn max_distance<'a>(pts: &[&'a [f64; 3]]) -> f64 {
    if pts.len() < 2 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = pts.len() as f64;
    let mut c = [0.0; 3];
    for p in pts {
        for k in 0..3 {
            c[k] += p[k] / n;
        }
    }
    let mut by_r: Vec<(f64, &[f64; 3])> = pts.iter().map(|p| (sq_dist(p, &c).sqrt(), *p)).collect();
    by_r.sort_by(|a, b| b.0.total_cmp(&a.0));
    // A good lower bound first (farthest point from the outermost one, then from that one: a real pair
    // distance, so the pruned search below stays exact but breaks out much earlier).
    let farthest = |from: &'a [f64; 3]| -> (f64, &'a [f64; 3]) {
        by_r.iter()
            .map(|&(_, p)| (sq_dist(from, p), p))
            .fold((0.0f64, from), |acc, x| if x.0 > acc.0 { x } else { acc })
    };
    let (d1, b) = farthest(by_r[0].1);
    let (d2, _) = farthest(b);
    let mut best = d1.max(d2);
    for (i, &(ri, a)) in by_r.iter().enumerate() {
        if (2.0 * ri) * (1.0 + 1e-9) + 1e-9 < best.sqrt() {
            break;
        }
        for &(rj, b) in &by_r[i + 1..] {
            if (ri + rj) * (1.0 + 1e-9) + 1e-9 < best.sqrt() {
                break;
            }
            let dist = sq_dist(a, b);
            if dist > best {
                best = dist;
            }
        }
    }
    best
}

/// Triangles (edge triples) per cube index < 128: P. Bourke's classic table, first half.
#[rustfmt::skip]
static TRIANGLES: [&[u8]; 128] = [
    &[],
    &[0, 8, 3],
    &[1, 9, 0],
    &[1, 8, 3, 1, 9, 8],
    &[1, 2, 10],
    &[0, 8, 3, 1, 2, 10],
    &[9, 2, 10, 0, 2, 9],
    &[2, 8, 3, 2, 10, 8, 10, 9, 8],
    &[11, 2, 3],
    &[11, 2, 0, 0, 8, 11],
    &[1, 9, 0, 11, 2, 3],
    &[11, 2, 1, 1, 9, 11, 9, 8, 11],
    &[3, 10, 1, 11, 10, 3],
    &[10, 1, 0, 0, 8, 10, 8, 11, 10],
    &[9, 0, 3, 3, 11, 9, 11, 10, 9],
    &[9, 8, 10, 11, 10, 8],
    &[4, 7, 8],
    &[0, 4, 3, 4, 7, 3],
    &[1, 9, 0, 4, 7, 8],
    &[1, 9, 4, 1, 4, 7, 1, 7, 3],
    &[1, 2, 10, 4, 7, 8],
    &[3, 4, 7, 3, 0, 4, 1, 2, 10],
    &[9, 2, 10, 9, 0, 2, 4, 7, 8],
    &[2, 10, 9, 2, 9, 7, 2, 7, 3, 4, 7, 9],
    &[4, 7, 8, 11, 2, 3],
    &[11, 4, 7, 11, 2, 4, 2, 0, 4],
    &[1, 9, 0, 4, 7, 8, 11, 2, 3],
    &[4, 7, 11, 9, 4, 11, 11, 2, 9, 1, 9, 2],
    &[3, 10, 1, 11, 10, 3, 4, 7, 8],
    &[11, 10, 1, 1, 4, 11, 1, 0, 4, 4, 7, 11],
    &[4, 7, 8, 9, 0, 3, 3, 11, 9, 11, 10, 9],
    &[4, 7, 11, 4, 11, 9, 9, 11, 10],
    &[9, 5, 4],
    &[9, 5, 4, 0, 8, 3],
    &[0, 5, 4, 0, 1, 5],
    &[8, 5, 4, 8, 3, 5, 3, 1, 5],
    &[1, 2, 10, 9, 5, 4],
    &[0, 8, 3, 1, 2, 10, 9, 5, 4],
    &[2, 10, 5, 5, 4, 2, 2, 4, 0],
    &[2, 10, 5, 3, 2, 5, 3, 5, 4, 8, 3, 4],
    &[9, 5, 4, 11, 2, 3],
    &[11, 2, 0, 0, 8, 11, 9, 5, 4],
    &[0, 5, 4, 0, 1, 5, 11, 2, 3],
    &[2, 1, 5, 2, 5, 8, 11, 2, 8, 5, 4, 8],
    &[3, 10, 1, 11, 10, 3, 9, 5, 4],
    &[5, 4, 9, 10, 1, 0, 0, 8, 10, 8, 11, 10],
    &[5, 4, 0, 5, 0, 11, 10, 5, 11, 11, 0, 3],
    &[5, 4, 8, 10, 5, 8, 11, 10, 8],
    &[7, 8, 9, 5, 7, 9],
    &[3, 0, 9, 5, 3, 9, 3, 5, 7],
    &[7, 8, 0, 0, 1, 7, 7, 1, 5],
    &[1, 5, 7, 1, 7, 3],
    &[7, 8, 9, 5, 7, 9, 1, 2, 10],
    &[1, 2, 10, 3, 0, 9, 3, 9, 5, 3, 5, 7],
    &[0, 2, 8, 8, 2, 5, 8, 5, 7, 2, 10, 5],
    &[2, 10, 5, 2, 5, 3, 3, 5, 7],
    &[5, 7, 9, 7, 8, 9, 11, 2, 3],
    &[5, 7, 9, 9, 7, 2, 2, 0, 9, 11, 2, 7],
    &[11, 2, 3, 0, 1, 8, 1, 7, 8, 1, 5, 7],
    &[2, 1, 11, 1, 7, 11, 1, 5, 7],
    &[7, 8, 9, 5, 7, 9, 3, 10, 1, 11, 10, 3],
    &[5, 7, 0, 5, 0, 9, 7, 11, 0, 10, 1, 0, 11, 10, 0],
    &[11, 10, 0, 0, 3, 11, 10, 5, 0, 0, 7, 8, 5, 7, 0],
    &[11, 10, 5, 5, 7, 11],
    &[6, 5, 10],
    &[0, 8, 3, 6, 5, 10],
    &[1, 9, 0, 6, 5, 10],
    &[1, 8, 3, 1, 9, 8, 6, 5, 10],
    &[1, 6, 5, 1, 2, 6],
    &[1, 6, 5, 1, 2, 6, 0, 8, 3],
    &[9, 6, 5, 9, 0, 6, 0, 2, 6],
    &[5, 9, 8, 5, 8, 2, 5, 2, 6, 8, 3, 2],
    &[11, 2, 3, 6, 5, 10],
    &[11, 2, 0, 0, 8, 11, 6, 5, 10],
    &[1, 9, 0, 11, 2, 3, 6, 5, 10],
    &[11, 2, 1, 1, 9, 11, 9, 8, 11, 6, 5, 10],
    &[6, 3, 11, 6, 5, 3, 5, 1, 3],
    &[0, 8, 11, 0, 11, 5, 0, 5, 1, 5, 11, 6],
    &[6, 3, 11, 0, 3, 6, 0, 6, 5, 0, 5, 9],
    &[6, 5, 9, 6, 9, 11, 11, 9, 8],
    &[4, 7, 8, 6, 5, 10],
    &[0, 4, 3, 4, 7, 3, 6, 5, 10],
    &[1, 9, 0, 4, 7, 8, 6, 5, 10],
    &[1, 9, 4, 1, 4, 7, 1, 7, 3, 6, 5, 10],
    &[4, 7, 8, 1, 6, 5, 1, 2, 6],
    &[0, 4, 3, 4, 7, 3, 1, 6, 5, 1, 2, 6],
    &[4, 7, 8, 9, 6, 5, 9, 0, 6, 0, 2, 6],
    &[7, 3, 9, 4, 7, 9, 3, 2, 9, 5, 9, 6, 2, 6, 9],
    &[11, 2, 3, 4, 7, 8, 6, 5, 10],
    &[11, 4, 7, 11, 2, 4, 2, 0, 4, 6, 5, 10],
    &[1, 9, 0, 11, 2, 3, 4, 7, 8, 6, 5, 10],
    &[4, 7, 11, 9, 4, 11, 11, 2, 9, 1, 9, 2, 6, 5, 10],
    &[4, 7, 8, 6, 3, 11, 6, 5, 3, 5, 1, 3],
    &[5, 1, 11, 5, 11, 6, 1, 0, 11, 4, 7, 11, 0, 4, 11],
    &[4, 7, 8, 6, 3, 11, 0, 3, 6, 0, 6, 5, 0, 5, 9],
    &[6, 5, 9, 6, 9, 11, 4, 7, 9, 7, 11, 9],
    &[10, 4, 9, 6, 4, 10],
    &[10, 4, 9, 6, 4, 10, 0, 8, 3],
    &[0, 1, 10, 10, 6, 0, 6, 4, 0],
    &[1, 8, 3, 1, 6, 8, 8, 6, 4, 6, 1, 10],
    &[1, 4, 9, 1, 2, 4, 2, 6, 4],
    &[1, 4, 9, 1, 2, 4, 2, 6, 4, 0, 8, 3],
    &[0, 2, 4, 4, 2, 6],
    &[8, 3, 2, 8, 2, 4, 4, 2, 6],
    &[11, 2, 3, 10, 4, 9, 6, 4, 10],
    &[11, 2, 0, 0, 8, 11, 10, 4, 9, 6, 4, 10],
    &[11, 2, 3, 0, 1, 10, 10, 6, 0, 6, 4, 0],
    &[6, 4, 1, 6, 1, 10, 1, 4, 8, 11, 2, 1, 1, 8, 11],
    &[9, 6, 4, 3, 6, 9, 1, 3, 9, 11, 6, 3],
    &[1, 8, 11, 0, 8, 1, 11, 6, 1, 1, 4, 9, 6, 4, 1],
    &[6, 3, 11, 0, 3, 6, 6, 4, 0],
    &[8, 6, 4, 6, 8, 11],
    &[6, 7, 10, 7, 8, 10, 8, 9, 10],
    &[6, 7, 10, 0, 10, 7, 0, 9, 10, 0, 7, 3],
    &[6, 7, 10, 1, 10, 7, 1, 7, 8, 0, 1, 8],
    &[6, 7, 10, 1, 10, 7, 1, 7, 3],
    &[1, 2, 6, 1, 6, 8, 1, 8, 9, 6, 7, 8],
    &[2, 6, 9, 1, 2, 9, 6, 7, 9, 3, 0, 9, 7, 3, 9],
    &[0, 7, 8, 7, 0, 6, 6, 0, 2],
    &[2, 7, 3, 2, 6, 7],
    &[11, 2, 3, 6, 7, 10, 7, 8, 10, 8, 9, 10],
    &[2, 0, 7, 11, 2, 7, 0, 9, 7, 6, 7, 10, 9, 10, 7],
    &[6, 7, 10, 1, 10, 7, 1, 7, 8, 0, 1, 8, 11, 2, 3],
    &[11, 2, 1, 1, 7, 11, 10, 6, 1, 1, 6, 7],
    &[8, 9, 6, 6, 7, 8, 1, 6, 9, 11, 6, 3, 1, 3, 6],
    &[0, 9, 1, 6, 7, 11],
    &[0, 7, 8, 7, 0, 6, 0, 3, 11, 11, 6, 0],
    &[6, 7, 11],
];
