//! Mask outlines on image slices: the expert mask in green, the prediction in red (yellow where both
//! outlines coincide), on a grey-scale image windowed to its 1st–99th percentile of non-zero values.
//!
//! A pixel is on a mask's outline when it is in the mask and one of its four in-plane neighbours is not
//! (or it touches the slice border). Pixels are drawn as rectangles of their physical aspect ratio.

use std::path::Path;

use anyhow::{bail, Result};
use ndarray::{Array2, ArrayView2, ArrayView3, Axis};
use plotters::prelude::*;

use super::{plot_err, render, FONT};

/// One panel of an overlay figure.
#[derive(Debug, Clone)]
pub struct OverlaySlice {
    /// Panel title.
    pub title: String,
    /// The image slice `(rows, cols)`.
    pub image: Array2<f32>,
    /// The expert mask slice (non-zero = lesion).
    pub expert: Array2<u8>,
    /// The predicted mask slice, if any.
    pub predicted: Option<Array2<u8>>,
    /// Pixel size in mm `(row, col)`.
    pub pixel_mm: [f64; 2],
}

fn outline(mask: ArrayView2<u8>) -> Array2<bool> {
    let (h, w) = mask.dim();
    Array2::from_shape_fn((h, w), |(r, c)| {
        if mask[[r, c]] == 0 {
            return false;
        }
        let off = |dr: isize, dc: isize| {
            let (rr, cc) = (r as isize + dr, c as isize + dc);
            rr < 0
                || cc < 0
                || rr >= h as isize
                || cc >= w as isize
                || mask[[rr as usize, cc as usize]] == 0
        };
        off(-1, 0) || off(1, 0) || off(0, -1) || off(0, 1)
    })
}

/// `(lo, hi)` = 1st and 99th percentile of the non-zero values (0..1 if none).
fn window(image: ArrayView2<f32>) -> (f32, f32) {
    let mut v: Vec<f32> = image
        .iter()
        .copied()
        .filter(|x| *x != 0.0 && x.is_finite())
        .collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.01), at(0.99));
    (lo, if hi > lo { hi } else { lo + 1.0 })
}

/// Draws the panels side by side into `png` (each about 320 pixels on its longer side).
///
/// # Errors
/// A mask whose shape differs from its image, an empty slice, or a failed write.
pub fn overlay(slices: &[OverlaySlice], png: &Path) -> Result<()> {
    if slices.is_empty() {
        bail!("overlay {}: no slice", png.display());
    }
    let mut layout = Vec::new();
    for s in slices {
        let (h, w) = s.image.dim();
        if h == 0 || w == 0 {
            bail!("overlay {}: empty slice `{}`", png.display(), s.title);
        }
        if s.expert.dim() != (h, w) || s.predicted.as_ref().is_some_and(|p| p.dim() != (h, w)) {
            bail!(
                "overlay {}: mask and image shapes differ in `{}`",
                png.display(),
                s.title
            );
        }
        let (mm_h, mm_w) = (h as f64 * s.pixel_mm[0], w as f64 * s.pixel_mm[1]);
        let scale = 320.0 / mm_h.max(mm_w);
        layout.push((
            scale * s.pixel_mm[0],
            scale * s.pixel_mm[1],
            (mm_h * scale).ceil() as u32,
            (mm_w * scale).ceil() as u32,
        ));
    }
    let title_h = 30u32;
    let width: u32 = layout.iter().map(|l| l.3 + 10).sum::<u32>() + 10;
    let height: u32 = layout.iter().map(|l| l.2).max().unwrap_or(0) + title_h + 10;
    render(png, (width, height), |root| {
        let mut x0 = 10i32;
        for (s, &(ph, pw, _, wpx)) in slices.iter().zip(&layout) {
            root.draw(&Text::new(s.title.clone(), (x0, 6), (FONT, 16)))
                .map_err(plot_err)?;
            let (lo, hi) = window(s.image.view());
            let eo = outline(s.expert.view());
            let po = s.predicted.as_ref().map(|p| outline(p.view()));
            for ((r, c), &v) in s.image.indexed_iter() {
                let g = (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0) as u8;
                let e = eo[[r, c]];
                let p = po.as_ref().is_some_and(|o| o[[r, c]]);
                let colour = match (e, p) {
                    (true, true) => RGBColor(255, 230, 0),
                    (true, false) => RGBColor(0, 220, 0),
                    (false, true) => RGBColor(255, 40, 40),
                    (false, false) => RGBColor(g, g, g),
                };
                let y = title_h as f64 + r as f64 * ph;
                let x = f64::from(x0) + c as f64 * pw;
                root.draw(&Rectangle::new(
                    [
                        (x as i32, y as i32),
                        ((x + pw).ceil() as i32, (y + ph).ceil() as i32),
                    ],
                    colour.filled(),
                ))
                .map_err(plot_err)?;
            }
            x0 += wpx as i32 + 10;
        }
        Ok(())
    })
}

/// The rounded centroid of the non-zero voxels of `mask`, `None` when it is empty.
#[must_use]
pub fn lesion_centre(mask: ArrayView3<u8>) -> Option<[usize; 3]> {
    let (mut n, mut s) = (0.0f64, [0.0f64; 3]);
    for ((z, y, x), &v) in mask.indexed_iter() {
        if v != 0 {
            n += 1.0;
            s[0] += z as f64;
            s[1] += y as f64;
            s[2] += x as f64;
        }
    }
    (n > 0.0).then(|| s.map(|v| (v / n).round() as usize))
}

/// The axial, coronal and sagittal slices through the expert lesion's centre (the predicted lesion's, or
/// the volume centre, when the expert mask is empty) with both outlines, written to `png`.
///
/// # Errors
/// Shapes that differ, or a failed write.
pub fn overlay_case(
    image: ArrayView3<f32>,
    expert: ArrayView3<u8>,
    predicted: Option<ArrayView3<u8>>,
    spacing: [f64; 3],
    title: &str,
    png: &Path,
) -> Result<()> {
    if expert.shape() != image.shape() || predicted.is_some_and(|p| p.shape() != image.shape()) {
        bail!("overlay {}: image and mask shapes differ", png.display());
    }
    let centre = lesion_centre(expert)
        .or_else(|| predicted.and_then(lesion_centre))
        .unwrap_or_else(|| {
            let s = image.shape();
            [s[0] / 2, s[1] / 2, s[2] / 2]
        });
    let views = [
        ("axial", Axis(0), [spacing[1], spacing[2]]),
        ("coronal", Axis(1), [spacing[0], spacing[2]]),
        ("sagittal", Axis(2), [spacing[0], spacing[1]]),
    ];
    let slices: Vec<OverlaySlice> = views
        .iter()
        .map(|&(name, axis, pixel_mm)| {
            let i = centre[axis.index()];
            OverlaySlice {
                title: format!("{title} {name} {i}"),
                image: image.index_axis(axis, i).to_owned(),
                expert: expert.index_axis(axis, i).to_owned(),
                predicted: predicted.map(|p| p.index_axis(axis, i).to_owned()),
                pixel_mm,
            }
        })
        .collect();
    overlay(&slices, png)
}
