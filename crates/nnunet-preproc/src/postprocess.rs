//! Post-processing of predicted label maps: connected components, "keep the largest connected component" and
//! breast-box masking (MAMA-MIA).
//!
//! ```text
//! F        = { v : seg[v] ∈ labels }                 (default: every nonzero label, their union)
//! C_1…C_n  = connected components of F               (26-connectivity = skimage `label(connectivity=None)`,
//!                                                     6-connectivity = scipy `label` default structure)
//! keep     = ⋃ { C_i : |C_i| = max_j |C_j| }          (all components tied for the maximum are kept)
//! seg[v]  ← background  for v ∈ F \ keep
//! ```
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/postprocessing/remove_connected_components.py`
//! (`remove_all_but_largest_component_from_segmentation`), `acvl_utils.morphology.morphology_helper`
//! (`remove_all_but_largest_component`, `label_with_component_sizes`); nnU-Net v1
//! `nnunet/postprocessing/connected_components.py` (scipy `label`, 6-connected); the MAMA-MIA sample
//! submission (`apply_breast_mask`, see [`crate::mamamia::BreastBox`]).

use ndarray::{Array3, ArrayView3, ArrayViewMut3, Zip};

use crate::mamamia::BreastBox;

/// Voxel neighbourhood of the component labelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connectivity {
    /// Face neighbours only (6 in 3-D): scipy `ndimage.label` default, nnU-Net v1.
    Face,
    /// Faces, edges and corners (26 in 3-D): skimage `label` full connectivity, nnU-Net v2.
    #[default]
    Full,
}

/// Connected components of a boolean mask: a label volume (`0` = background, components `1..=n` numbered in
/// raster order of their first voxel, as skimage/scipy do) and the size of each component (`sizes[i]` is the
/// voxel count of label `i + 1`).
#[must_use]
pub fn label_components(
    mask: ArrayView3<'_, bool>,
    connectivity: Connectivity,
) -> (Array3<u32>, Vec<usize>) {
    let (n0, n1, n2) = mask.dim();
    let mut labels = Array3::<u32>::zeros((n0, n1, n2));
    let mut sizes = Vec::new();
    let offsets: Vec<[isize; 3]> = neighbour_offsets(connectivity);
    let mut stack: Vec<[usize; 3]> = Vec::new();
    for z in 0..n0 {
        for y in 0..n1 {
            for x in 0..n2 {
                if !mask[[z, y, x]] || labels[[z, y, x]] != 0 {
                    continue;
                }
                let id = sizes.len() as u32 + 1;
                let mut count = 0usize;
                labels[[z, y, x]] = id;
                stack.push([z, y, x]);
                while let Some(v) = stack.pop() {
                    count += 1;
                    for o in &offsets {
                        let (a, b, c) = (
                            v[0] as isize + o[0],
                            v[1] as isize + o[1],
                            v[2] as isize + o[2],
                        );
                        if a < 0
                            || b < 0
                            || c < 0
                            || a >= n0 as isize
                            || b >= n1 as isize
                            || c >= n2 as isize
                        {
                            continue;
                        }
                        let w = [a as usize, b as usize, c as usize];
                        if mask[w] && labels[w] == 0 {
                            labels[w] = id;
                            stack.push(w);
                        }
                    }
                }
                sizes.push(count);
            }
        }
    }
    (labels, sizes)
}

fn neighbour_offsets(connectivity: Connectivity) -> Vec<[isize; 3]> {
    let mut out = Vec::with_capacity(26);
    for a in -1isize..=1 {
        for b in -1isize..=1 {
            for c in -1isize..=1 {
                let n = a.abs() + b.abs() + c.abs();
                let ok = match connectivity {
                    Connectivity::Face => n == 1,
                    Connectivity::Full => n >= 1,
                };
                if ok {
                    out.push([a, b, c]);
                }
            }
        }
    }
    out
}

/// Keeps the largest connected component(s) of the mask, in place; returns how many voxels were removed (set
/// to `false`). An empty mask is left unchanged.
pub fn keep_largest_component_mask_mut(
    mut mask: ArrayViewMut3<'_, bool>,
    connectivity: Connectivity,
) -> usize {
    let (labels, sizes) = label_components(mask.view(), connectivity);
    let Some(&max) = sizes.iter().max() else {
        return 0;
    };
    let keep: Vec<bool> = std::iter::once(false)
        .chain(sizes.iter().map(|&s| s == max))
        .collect();
    let mut removed = 0;
    Zip::from(&mut mask).and(&labels).for_each(|m, &l| {
        if *m && !keep[l as usize] {
            *m = false;
            removed += 1;
        }
    });
    removed
}

/// nnU-Net's "remove all but the largest component" on a label map, in place: the union of the foreground
/// labels (every value ≠ `background`) is labelled, every voxel of it outside the largest component(s) becomes
/// `background`. Returns the number of voxels changed.
///
/// # Examples
/// ```
/// use ndarray::Array3;
/// use nnunet_preproc::{keep_largest_component_mut, Connectivity};
/// let mut seg = Array3::<u8>::zeros((3, 3, 5));
/// seg[[0, 0, 0]] = 1;
/// seg[[1, 1, 1]] = 2; // diagonal neighbour of (0,0,0): same component with 26-connectivity
/// seg[[2, 2, 4]] = 1;
/// assert_eq!(keep_largest_component_mut(seg.view_mut(), 0, Connectivity::Full), 1);
/// assert_eq!(seg[[2, 2, 4]], 0);
/// assert_eq!(seg[[1, 1, 1]], 2);
/// ```
pub fn keep_largest_component_mut<T: Copy + PartialEq>(
    mut seg: ArrayViewMut3<'_, T>,
    background: T,
    connectivity: Connectivity,
) -> usize {
    let mut mask = seg.map(|&v| v != background);
    let removed = keep_largest_component_mask_mut(mask.view_mut(), connectivity);
    if removed > 0 {
        Zip::from(&mut seg).and(&mask).for_each(|s, &keep| {
            if !keep && *s != background {
                *s = background;
            }
        });
    }
    removed
}

/// Post-processing steps applied to a predicted label map, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PostprocessConfig {
    /// Zero everything outside the breast box (MAMA-MIA), if one is given to [`postprocess_mut`].
    pub breast_box: BreastBoxMasking,
    /// Keep the largest connected component of the foreground, with this connectivity (`None`: keep all).
    pub largest_component: Option<Connectivity>,
}

/// Whether the breast box is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreastBoxMasking {
    /// Mask outside the box (then the largest component is taken inside it).
    #[default]
    Apply,
    /// Ignore the box.
    Skip,
}

/// Applies [`PostprocessConfig`] to a label map in place: breast-box masking
/// ([`BreastBox::mask_outside_mut`]) first, then [`keep_largest_component_mut`] with background `0`.
pub fn postprocess_mut<T: Copy + Default + PartialEq>(
    mut seg: ArrayViewMut3<'_, T>,
    breast_box: Option<&BreastBox>,
    config: &PostprocessConfig,
) {
    if let (Some(b), BreastBoxMasking::Apply) = (breast_box, config.breast_box) {
        b.mask_outside_mut(seg.view_mut());
    }
    if let Some(conn) = config.largest_component {
        keep_largest_component_mut(seg, T::default(), conn);
    }
}
