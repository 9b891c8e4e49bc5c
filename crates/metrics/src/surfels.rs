//! The marching-cubes surfel table of DeepMind's surface distances, derived from the cube geometry.
//!
//! A *neighbour code* describes the 2×2×2 voxels around one voxel corner: voxel `(a, b, c)` of the
//! neighbourhood (`a, b, c ∈ {0, 1}` along array axes 0, 1, 2, so `(0, 0, 0)` is the voxel before the corner on
//! every axis) sets bit `7 − (4a + 2b + c)`, i.e. DeepMind's correlation kernel
//! `[[[128, 64], [32, 16]], [[8, 4], [2, 1]]]`. For every code the iso-surface between the inside and the
//! outside corners of this unit cube is built from first principles:
//!
//! ```text
//! vertices   the midpoints of the 12 cube edges whose two corners differ
//! segments   on each of the 6 faces: 2 cut edges → one segment; 4 cut edges (ambiguous face) → two segments
//!            cutting off the minority corners (the inside corners when #inside ≤ 4, else the outside ones)
//! polygons   the segments chained into closed loops (3 to 7 vertices)
//! triangles  each loop triangulated with the largest total area Σ ½‖(q − p) × (r − p)‖ over all of its
//!            triangulations; ties (planar loops) go to the one with the smallest triangle
//! normals    n = ½ (q − p) × (r − p) per triangle, stored as |n| component-wise (|n| = triangle area)
//! ```
//!
//! The surfel area of a code for spacing `s = [s0, s1, s2]` scales each normal by the areas of the faces it
//! projects onto:
//!
//! ```text
//! area(code) = Σ_triangles ‖(n0·s1·s2, n1·s0·s2, n2·s0·s1)‖
//! ```
//!
//! This reproduces, code by code, the multiset of normals (up to their signs, which no area depends on) of
//! DeepMind's `_NEIGHBOUR_CODE_TO_NORMALS`; the test `deepmind_golden.rs` checks every entry and the derived
//! area tables against the values dumped from the package by `tools/golden/make_deepmind_fixtures.py`.
//!
//! References: google-deepmind/surface-distance `surface_distance/lookup_tables.py`
//! (`create_table_neighbour_code_to_surface_area`, `ENCODE_NEIGHBOURHOOD_3D_KERNEL`) and `metrics.py`
//! (`compute_surface_distances`); Lorensen & Cline, "Marching cubes", SIGGRAPH 1987;
//! `/work/shared/reference/metrics.md` §2.

use std::sync::OnceLock;

use crate::error::Result;
use crate::mask::{check_spacing, Spacing};

/// A point of the unit cube (corner coordinates 0/1, edge midpoints 0.5).
type Point = [f64; 3];

/// Whether the neighbourhood voxel `(a, b, c)` (corner index `4a + 2b + c`) is inside for `code`.
const fn inside(code: u8, corner: usize) -> bool {
    (code >> (7 - corner)) & 1 == 1
}

/// Coordinates of corner `4a + 2b + c`.
fn corner_point(corner: usize) -> Point {
    [
        (corner >> 2 & 1) as f64,
        (corner >> 1 & 1) as f64,
        (corner & 1) as f64,
    ]
}

/// A cube edge as its two corner indices, smaller first.
type Edge = (usize, usize);

fn edge(p: usize, q: usize) -> Edge {
    (p.min(q), p.max(q))
}

fn midpoint(e: Edge) -> Point {
    let (p, q) = (corner_point(e.0), corner_point(e.1));
    [
        (p[0] + q[0]) / 2.0,
        (p[1] + q[1]) / 2.0,
        (p[2] + q[2]) / 2.0,
    ]
}

/// The 6 faces, each as its 4 corners in cyclic order.
fn faces() -> Vec<[usize; 4]> {
    let mut out = Vec::with_capacity(6);
    for axis in 0..3 {
        let others: Vec<usize> = (0..3).filter(|&k| k != axis).collect();
        for v in 0..2 {
            let at = |u: usize, w: usize| -> usize {
                let mut c = [0usize; 3];
                c[axis] = v;
                c[others[0]] = u;
                c[others[1]] = w;
                4 * c[0] + 2 * c[1] + c[2]
            };
            out.push([at(0, 0), at(0, 1), at(1, 1), at(1, 0)]);
        }
    }
    out
}

/// The closed iso-surface polygons of `code` (each a cyclic list of cut edges).
fn polygons(code: u8) -> Vec<Vec<Edge>> {
    let n_inside = code.count_ones();
    // On an ambiguous face the minority corners are cut off.
    let separated = n_inside <= 4;
    let mut segments: Vec<(Edge, Edge)> = Vec::new();
    for face in faces() {
        let ins = face.map(|c| inside(code, c));
        let side = |i: usize| edge(face[i % 4], face[(i + 1) % 4]);
        let cuts: Vec<usize> = (0..4).filter(|&i| ins[i] != ins[(i + 1) % 4]).collect();
        match cuts.len() {
            2 => segments.push((side(cuts[0]), side(cuts[1]))),
            4 => {
                for i in (0..4).filter(|&i| ins[i] == separated) {
                    segments.push((side(i + 3), side(i)));
                }
            }
            _ => {}
        }
    }
    let mut loops = Vec::new();
    while let Some((first, mut last)) = segments.pop() {
        let mut lp = vec![first];
        while last != first {
            lp.push(last);
            let Some(k) = segments.iter().position(|s| s.0 == last || s.1 == last) else {
                unreachable!("every cut edge lies on exactly two faces, so the segments close")
            };
            let s = segments.swap_remove(k);
            last = if s.0 == last { s.1 } else { s.0 };
        }
        loops.push(lp);
    }
    loops
}

/// `½ (q − p) × (r − p)`.
fn half_cross(p: Point, q: Point, r: Point) -> Point {
    let u = [q[0] - p[0], q[1] - p[1], q[2] - p[2]];
    let v = [r[0] - p[0], r[1] - p[1], r[2] - p[2]];
    [
        0.5 * (u[1] * v[2] - u[2] * v[1]),
        0.5 * (u[2] * v[0] - u[0] * v[2]),
        0.5 * (u[0] * v[1] - u[1] * v[0]),
    ]
}

fn norm(n: Point) -> f64 {
    (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt()
}

/// Every triangulation of the polygon whose vertices are `idx` (in order), as index triples.
fn triangulations(idx: &[usize]) -> Vec<Vec<[usize; 3]>> {
    if idx.len() < 3 {
        return vec![Vec::new()];
    }
    let (a, b) = (idx[0], idx[idx.len() - 1]);
    let mut out = Vec::new();
    for k in 1..idx.len() - 1 {
        for left in triangulations(&idx[..=k]) {
            for right in triangulations(&idx[k..]) {
                let mut t = left.clone();
                t.extend_from_slice(&right);
                t.push([a, idx[k], b]);
                out.push(t);
            }
        }
    }
    out
}

/// The triangle normals of one polygon: the triangulation of largest total area, ties to the smallest
/// triangle.
fn triangulate(polygon: &[Edge]) -> Vec<Point> {
    const TIE: f64 = 1e-12;
    let pts: Vec<Point> = polygon.iter().map(|&e| midpoint(e)).collect();
    let idx: Vec<usize> = (0..pts.len()).collect();
    let mut best: Option<(f64, f64, Vec<Point>)> = None;
    for t in triangulations(&idx) {
        let normals: Vec<Point> = t
            .iter()
            .map(|&[i, j, k]| half_cross(pts[i], pts[j], pts[k]))
            .collect();
        let total: f64 = normals.iter().map(|&n| norm(n)).sum();
        let smallest = normals
            .iter()
            .map(|&n| norm(n))
            .fold(f64::INFINITY, f64::min);
        let better = match &best {
            None => true,
            Some((bt, bs, _)) => total > bt + TIE || (total > bt - TIE && smallest < bs - TIE),
        };
        if better {
            best = Some((total, smallest, normals));
        }
    }
    best.map(|b| b.2).unwrap_or_default()
}

/// The 256 per-code normal lists (component-wise absolute values, sorted).
fn table() -> &'static [Vec<Point>; 256] {
    static TABLE: OnceLock<[Vec<Point>; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|code| {
            #[allow(clippy::cast_possible_truncation)]
            let code = code as u8;
            let mut normals: Vec<Point> = polygons(code)
                .iter()
                .flat_map(|p| triangulate(p))
                .map(|n| n.map(f64::abs))
                .collect();
            normals.sort_by(|x, y| {
                x.iter()
                    .zip(y)
                    .map(|(a, b)| a.total_cmp(b))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            normals
        })
    })
}

/// The surfel normals of a neighbour code: one vector per marching-cubes triangle, whose length is the
/// triangle's area in voxel units (`|n|` component-wise, sorted lexicographically; empty for codes 0 and 255).
///
/// ```text
/// n = |½ (q − p) × (r − p)|   for each triangle (p, q, r) of the code's iso-surface
/// ```
///
/// Reference: google-deepmind/surface-distance `lookup_tables.py` (`_NEIGHBOUR_CODE_TO_NORMALS`, which holds
/// the same vectors up to sign and order).
///
/// # Examples
/// ```
/// // One inside corner: a single triangle through three edge midpoints, area √3/8.
/// let n = medmetrics::surfel_normals(1);
/// assert_eq!(n, &[[0.125, 0.125, 0.125]]);
/// assert!(medmetrics::surfel_normals(255).is_empty());
/// ```
#[must_use]
pub fn surfel_normals(code: u8) -> &'static [[f64; 3]] {
    &table()[usize::from(code)]
}

/// The surfel area (mm²) of every neighbour code for `spacing` `[s0, s1, s2]` (mm, array axes):
///
/// ```text
/// area(code) = Σ_{n ∈ normals(code)} ‖(n0·s1·s2, n1·s0·s2, n2·s0·s1)‖
/// ```
///
/// Reference: google-deepmind/surface-distance `lookup_tables.py`
/// (`create_table_neighbour_code_to_surface_area`).
///
/// # Errors
/// [`crate::Error::InvalidSpacing`] when a spacing entry is not finite and positive.
///
/// # Examples
/// ```
/// let t = medmetrics::surfel_area_table([1.0, 1.0, 1.0]).unwrap();
/// assert!((t[1] - 3f64.sqrt() / 8.0).abs() < 1e-15);
/// assert_eq!((t[0], t[255]), (0.0, 0.0));
/// ```
pub fn surfel_area_table(spacing: Spacing) -> Result<[f64; 256]> {
    check_spacing(spacing)?;
    Ok(area_table(spacing))
}

/// [`surfel_area_table`] for a checked spacing.
pub(crate) fn area_table(spacing: Spacing) -> [f64; 256] {
    let [s0, s1, s2] = spacing;
    let t = table();
    std::array::from_fn(|code| {
        t[code]
            .iter()
            .map(|n| norm([n[0] * s1 * s2, n[1] * s0 * s2, n[2] * s0 * s1]))
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complementary_codes_have_the_same_surface_unless_ambiguous() {
        // Without ambiguous faces a code and its complement cut the same edges.
        let t = area_table([1.0, 1.0, 1.0]);
        for code in 0..=255u8 {
            assert_eq!(t[usize::from(code)] == 0.0, code == 0 || code == 255);
        }
        assert_eq!(surfel_normals(0b0000_0011), surfel_normals(0b1111_1100));
    }

    #[test]
    fn full_face_codes_are_unit_squares() {
        // Four voxels on one side of the corner along axis 0: a 1×1 square, two triangles of ½ normal to axis 0.
        assert_eq!(
            surfel_normals(0b0000_1111),
            &[[0.5, 0.0, 0.0], [0.5, 0.0, 0.0]]
        );
        let t = area_table([2.0, 3.0, 5.0]);
        assert!((t[0b0000_1111] - 15.0).abs() < 1e-12);
        assert!((t[0b0011_0011] - 10.0).abs() < 1e-12);
        assert!((t[0b0101_0101] - 6.0).abs() < 1e-12);
    }
}
