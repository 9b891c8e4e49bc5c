//! A dependency-light reliability diagram written as a PNG (RGB, zlib via flate2, CRC from flate2).
//!
//! Reliability curve: scikit-learn `calibration_curve(strategy="uniform")` as computed by `medmetrics`.

use std::io::Write;
use std::path::Path;

use medmetrics::ReliabilityCurve;

use crate::{Error, Result};

/// Side of the square image in pixels.
pub const PLOT_SIZE: usize = 480;
const MARGIN: usize = 40;

/// Colours of the curves, in order: blue, orange, green, red.
pub const CURVE_COLOURS: [[u8; 3]; 4] =
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];

/// Draws reliability curves (mean predicted probability → fraction positive per non-empty bin; marker area
/// grows with the bin's count) over the grey diagonal, axes from 0 to 1 with ticks every 0.1, and writes
/// `path` as a PNG. Curve `i` has colour [`CURVE_COLOURS`]`[i % 4]` (no text is drawn: name the colours in
/// the accompanying report).
///
/// # Errors
/// [`Error::Io`] writing the file.
pub fn write_reliability_png(path: &Path, curves: &[&ReliabilityCurve]) -> Result<()> {
    let mut img = vec![255u8; PLOT_SIZE * PLOT_SIZE * 3];
    let span = (PLOT_SIZE - 2 * MARGIN) as f64;
    let to_px = |p: f64, q: f64| -> (f64, f64) {
        (
            MARGIN as f64 + p * span,
            (PLOT_SIZE - MARGIN) as f64 - q * span,
        )
    };
    // Axes box and ticks.
    for k in 0..=10 {
        let (x, y) = to_px(f64::from(k) / 10.0, f64::from(k) / 10.0);
        let grey = if k == 0 || k == 10 {
            [0, 0, 0]
        } else {
            [225, 225, 225]
        };
        line(
            &mut img,
            to_px(0.0, f64::from(k) / 10.0),
            (to_px(1.0, 0.0).0, y),
            grey,
            1.0,
        );
        line(
            &mut img,
            (x, to_px(0.0, 0.0).1),
            (x, to_px(0.0, 1.0).1),
            grey,
            1.0,
        );
    }
    line(
        &mut img,
        to_px(0.0, 0.0),
        to_px(1.0, 1.0),
        [128, 128, 128],
        1.5,
    );
    for (c, curve) in curves.iter().enumerate() {
        let colour = CURVE_COLOURS[c % CURVE_COLOURS.len()];
        let pts: Vec<((f64, f64), usize)> = curve
            .bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| (to_px(b.mean_predicted, b.fraction_positive), b.count))
            .collect();
        for w in pts.windows(2) {
            line(&mut img, w[0].0, w[1].0, colour, 2.0);
        }
        for &(p, count) in &pts {
            let r = 3.0 + 6.0 * (count as f64 / curve.n.max(1) as f64).sqrt();
            disc(&mut img, p, r, colour);
        }
    }
    write_png(path, &img, PLOT_SIZE, PLOT_SIZE)
}

fn put(img: &mut [u8], x: i64, y: i64, c: [u8; 3]) {
    if (0..PLOT_SIZE as i64).contains(&x) && (0..PLOT_SIZE as i64).contains(&y) {
        let i = (y as usize * PLOT_SIZE + x as usize) * 3;
        img[i..i + 3].copy_from_slice(&c);
    }
}

fn disc(img: &mut [u8], (cx, cy): (f64, f64), r: f64, c: [u8; 3]) {
    let ri = r.ceil() as i64;
    for dy in -ri..=ri {
        for dx in -ri..=ri {
            if ((dx * dx + dy * dy) as f64) <= r * r {
                put(img, cx.round() as i64 + dx, cy.round() as i64 + dy, c);
            }
        }
    }
}

fn line(img: &mut [u8], a: (f64, f64), b: (f64, f64), c: [u8; 3], width: f64) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        disc(
            img,
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)),
            width / 2.0,
            c,
        );
    }
}

fn write_png(path: &Path, rgb: &[u8], w: usize, h: usize) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::with_capacity(h * (1 + 3 * w));
    for row in rgb.chunks(3 * w) {
        raw.push(0); // filter type "None"
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).map_err(io)?;
    let idat = z.finish().map_err(io)?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr.as_slice()),
        (b"IDAT", idat.as_slice()),
        (b"IEND", &[][..]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    std::fs::write(path, out).map_err(io)
}
