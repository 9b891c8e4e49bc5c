//! Cropping to the nonzero region (nnU-Net step 1) and pasting back at export.
//!
//! ```text
//! nonzero = binary_fill_holes( (x₀ ≠ 0) ∨ (x₁ ≠ 0) ∨ … )        6-connected holes
//! bbox    = half-open [lo, hi) per axis of `nonzero`            (empty mask → whole volume)
//! seg'    = −1  where seg = 0 and ¬nonzero,  seg elsewhere      (no seg: 0 inside, −1 outside)
//! ```
//!
//! The −1 label marks "outside the nonzero region": masked z-score normalisation uses `seg ≥ 0`, it is
//! resampled like a label and only becomes 0 at the end of augmentation.
//!
//! References: MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/preprocessing/cropping/cropping.py`
//! (`create_nonzero_mask`, `crop_to_nonzero`); acvl-utils 0.2.6
//! `acvl_utils/cropping_and_padding/bounding_boxes.py` (`get_bbox_from_mask`); nnU-Net v1
//! `nnunet/preprocessing/cropping.py` (same rule); SciPy `scipy/ndimage/_morphology.py`
//! (`binary_fill_holes`, default structure = 6-connectivity in 3-D).

use ndarray::{s, Array3, Array4, ArrayView3, ArrayView4, Axis, Zip};

use crate::error::{Error, Result};

/// A half-open box `[lo, hi)` per array axis `(z, y, x)`, nnU-Net's `bbox_used_for_cropping`.
pub type BoundingBox = [[usize; 2]; 3];

/// The shape `hi − lo` per axis of a bounding box.
#[must_use]
pub fn bbox_shape(bbox: &BoundingBox) -> [usize; 3] {
    std::array::from_fn(|a| bbox[a][1].saturating_sub(bbox[a][0]))
}

/// The nonzero mask of a multi-channel volume `(C, z, y, x)`: the OR over channels of `x ≠ 0`, with holes
/// filled ([`fill_holes`]). NaN counts as nonzero (as `!=` in NumPy). No channel gives an all-false mask.
///
/// ```text
/// mask = fill_holes( ∨_c (data[c] ≠ 0) )
/// ```
#[must_use]
pub fn nonzero_mask(data: ArrayView4<f32>) -> Array3<bool> {
    let (_, nz, ny, nx) = data.dim();
    let mut mask = Array3::from_elem((nz, ny, nx), false);
    for channel in data.axis_iter(Axis(0)) {
        Zip::from(&mut mask)
            .and(&channel)
            .for_each(|m, &v| *m |= v != 0.0);
    }
    fill_holes(&mut mask);
    mask
}

/// Fills the holes of a binary mask in place: every `false` voxel that is not 6-connected to the volume
/// border through `false` voxels becomes `true` (SciPy `binary_fill_holes` with its default structure).
///
/// ```text
/// background = false voxels reachable from the border by face-neighbour steps through false voxels
/// mask       = ¬background
/// ```
pub fn fill_holes(mask: &mut Array3<bool>) {
    let (nz, ny, nx) = mask.dim();
    if nz == 0 || ny == 0 || nx == 0 {
        return;
    }
    // reached[i] = background voxel connected to the border
    let mut reached = Array3::from_elem((nz, ny, nx), false);
    let mut stack: Vec<[usize; 3]> = Vec::new();
    let seed =
        |z: usize, y: usize, x: usize, reached: &mut Array3<bool>, stack: &mut Vec<[usize; 3]>| {
            if !mask[[z, y, x]] && !reached[[z, y, x]] {
                reached[[z, y, x]] = true;
                stack.push([z, y, x]);
            }
        };
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let on_border =
                    z == 0 || y == 0 || x == 0 || z + 1 == nz || y + 1 == ny || x + 1 == nx;
                if on_border {
                    seed(z, y, x, &mut reached, &mut stack);
                }
            }
        }
    }
    let dims = [nz, ny, nx];
    while let Some(p) = stack.pop() {
        for axis in 0..3 {
            for step in [-1isize, 1] {
                let q = p[axis] as isize + step;
                if q < 0 || q as usize >= dims[axis] {
                    continue;
                }
                let mut n = p;
                n[axis] = q as usize;
                seed(n[0], n[1], n[2], &mut reached, &mut stack);
            }
        }
    }
    Zip::from(mask).and(&reached).for_each(|m, &r| *m = !r);
}

/// The half-open bounding box `[lo, hi)` of the `true` voxels per axis; an empty mask gives the whole
/// volume (as acvl-utils `get_bbox_from_mask`).
#[must_use]
pub fn bounding_box(mask: ArrayView3<bool>) -> BoundingBox {
    let shape = mask.shape();
    let mut bbox: BoundingBox = [[0, shape[0]], [0, shape[1]], [0, shape[2]]];
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut any = false;
    for ((z, y, x), &m) in mask.indexed_iter() {
        if m {
            any = true;
            for (a, i) in [z, y, x].into_iter().enumerate() {
                lo[a] = lo[a].min(i);
                hi[a] = hi[a].max(i + 1);
            }
        }
    }
    if any {
        for a in 0..3 {
            bbox[a] = [lo[a], hi[a]];
        }
    }
    bbox
}

/// The result of [`crop_to_nonzero`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cropped {
    /// The cropped image `(C, z, y, x)`.
    pub data: Array4<f32>,
    /// The cropped segmentation with −1 where the input label was 0 outside the filled nonzero mask
    /// (without an input segmentation: 0 inside the mask, −1 outside).
    pub seg: Array3<i16>,
    /// The crop box in the uncropped array (`bbox_used_for_cropping`).
    pub bbox: BoundingBox,
    /// The spatial shape before cropping (`shape_before_cropping`).
    pub shape_before: [usize; 3],
}

/// Crops image (and segmentation) to the bounding box of the filled nonzero mask and writes the −1
/// "outside" label, as nnU-Net's `crop_to_nonzero(data, seg, nonzero_label=-1)`.
///
/// ```text
/// mask = nonzero_mask(data);  bbox = bounding_box(mask)
/// data' = data[:, bbox];  seg' = seg[bbox] with seg' = −1 where seg' = 0 ∧ ¬mask[bbox]
/// ```
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when `seg` does not have the spatial shape of `data`.
pub fn crop_to_nonzero(data: ArrayView4<f32>, seg: Option<ArrayView3<i16>>) -> Result<Cropped> {
    let (_, nz, ny, nx) = data.dim();
    let shape_before = [nz, ny, nx];
    if let Some(seg) = &seg {
        if seg.shape() != &shape_before[..] {
            return Err(Error::ShapeMismatch {
                context: "crop_to_nonzero: segmentation vs image (z, y, x)".into(),
                found: seg.shape().to_vec(),
                expected: shape_before.to_vec(),
            });
        }
    }
    let mask = nonzero_mask(data);
    let bbox = bounding_box(mask.view());
    let [bz, by, bx] = bbox;
    let sp = s![bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]];
    let cropped_data = data
        .slice(s![.., bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]])
        .to_owned();
    let cropped_mask = mask.slice(sp);
    let cropped_seg = match seg {
        Some(seg) => {
            let mut out = seg.slice(sp).to_owned();
            Zip::from(&mut out).and(&cropped_mask).for_each(|l, &m| {
                if *l == 0 && !m {
                    *l = -1;
                }
            });
            out
        }
        None => cropped_mask.map(|&m| if m { 0 } else { -1 }),
    };
    Ok(Cropped {
        data: cropped_data,
        seg: cropped_seg,
        bbox,
        shape_before,
    })
}

fn check_bbox(bbox: &BoundingBox, shape: [usize; 3]) -> Result<()> {
    let ok = (0..3).all(|a| bbox[a][0] <= bbox[a][1] && bbox[a][1] <= shape[a]);
    if ok {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            context: format!("bounding box {bbox:?} outside the uncropped shape"),
            found: bbox.iter().map(|r| r[1]).collect(),
            expected: shape.to_vec(),
        })
    }
}

/// Pastes a cropped volume back into a new array of `shape_before` filled with `fill` (export step:
/// nnU-Net writes the cropped prediction into `zeros(shape_before_cropping)` at `bbox_used_for_cropping`).
///
/// ```text
/// out = fill;  out[bbox] = cropped
/// ```
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when the box does not lie inside `shape_before` or `cropped` does not have the
/// box's shape.
pub fn uncrop<T: Clone>(
    cropped: ArrayView3<T>,
    bbox: &BoundingBox,
    shape_before: [usize; 3],
    fill: T,
) -> Result<Array3<T>> {
    check_bbox(bbox, shape_before)?;
    let inner = bbox_shape(bbox);
    if cropped.shape() != &inner[..] {
        return Err(Error::ShapeMismatch {
            context: "uncrop: cropped volume vs bounding box".into(),
            found: cropped.shape().to_vec(),
            expected: inner.to_vec(),
        });
    }
    let mut out = Array3::from_elem((shape_before[0], shape_before[1], shape_before[2]), fill);
    let [bz, by, bx] = *bbox;
    out.slice_mut(s![bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]])
        .assign(&cropped);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hole_is_filled_but_border_cavity_is_not() {
        let mut m = Array3::from_elem((5, 5, 5), false);
        m.slice_mut(s![1..4, 1..4, 1..4]).fill(true);
        m[[2, 2, 2]] = false; // enclosed hole
        fill_holes(&mut m);
        assert!(m[[2, 2, 2]]);
        let mut open = Array3::from_elem((3, 3, 3), true);
        open[[1, 1, 0]] = false; // on the border
        open[[1, 1, 1]] = false; // connected to it
        fill_holes(&mut open);
        assert!(!open[[1, 1, 1]] && !open[[1, 1, 0]]);
    }

    #[test]
    fn empty_mask_gives_whole_volume_and_uncrop_round_trips() {
        let m = Array3::from_elem((3, 4, 5), false);
        assert_eq!(bounding_box(m.view()), [[0, 3], [0, 4], [0, 5]]);
        let small = Array3::from_elem((1, 2, 3), 7i16);
        let bbox = [[1, 2], [1, 3], [2, 5]];
        let big = uncrop(small.view(), &bbox, [3, 4, 5], 0).unwrap();
        assert_eq!(big.iter().filter(|&&v| v == 7).count(), 6);
        assert!(uncrop(small.view(), &[[0, 1], [0, 2], [3, 6]], [3, 4, 5], 0).is_err());
        assert!(uncrop(small.view(), &[[0, 1], [0, 2], [0, 2]], [3, 4, 5], 0).is_err());
    }
}
