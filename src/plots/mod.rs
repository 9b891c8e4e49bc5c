//! Report figures as PNG files, drawn with `plotters` (bitmap backend; text with the DejaVu Sans font
//! embedded from `assets/fonts/`, so no system font configuration is needed).
//!
//! * [`training_curves`] — the trainer's `training_log.csv` (losses; pseudo Dice and its EMA; learning rate);
//! * [`overlay`] / [`overlay_case`] — expert (green) and predicted (red) mask outlines on an image slice /
//!   on the three orthogonal slices through the lesion's centre;
//! * [`reliability_diagram`] — calibration curves (`medmetrics::ReliabilityCurve`) against the diagonal;
//! * [`subgroup_bars`] — one bar per subgroup (e.g. Dice or balanced accuracy by age group).
//!
//! Every figure is written to a temporary file in the target folder and renamed into place.

mod bars;
mod calibration;
mod curves;
mod overlay;

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};

pub use bars::{subgroup_bars, SubgroupBar};
pub use calibration::reliability_diagram;
pub use curves::{read_training_log, training_curves, TrainingLog};
pub use overlay::{lesion_centre, overlay, overlay_case, OverlaySlice};

/// The font family name the figures use.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font once per process.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font (checked by the tests); a failure only loses the text.
        let _ =
            plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, FONT_BYTES);
    });
}

/// Draws with `draw` into a `width × height` RGB bitmap and writes it to `png` atomically.
fn render(
    png: &Path,
    size: (u32, u32),
    draw: impl FnOnce(
        &plotters::drawing::DrawingArea<
            plotters::prelude::BitMapBackend<'_>,
            plotters::coord::Shift,
        >,
    ) -> Result<()>,
) -> Result<()> {
    use plotters::prelude::*;
    register_font();
    if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let stem = png
        .file_stem()
        .map_or_else(|| "figure".into(), |s| s.to_string_lossy().into_owned());
    let tmp = png.with_file_name(format!(".{stem}.partial.png"));
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow!("{}: {e:?}", png.display()))?;
        draw(&root).with_context(|| format!("drawing {}", png.display()))?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e:?}", tmp.display()))?;
    }
    std::fs::rename(&tmp, png).with_context(|| format!("renaming to {}", png.display()))?;
    Ok(())
}

/// Turns a plotters error into an `anyhow` error.
fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::{synthesize_case, CohortConfig};
    use ndarray::Axis;

    /// `(width, height)` from a PNG's IHDR chunk.
    fn png_size(path: &Path) -> (u32, u32) {
        let b = std::fs::read(path).unwrap();
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
        let be = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        (be(16), be(20))
    }

    /// Where the figures go: `$DCE_PLOTS_DIR` (to look at them) or a temporary folder.
    fn out_dir() -> (Option<tempfile::TempDir>, std::path::PathBuf) {
        match std::env::var_os("DCE_PLOTS_DIR") {
            Some(d) => (None, d.into()),
            None => {
                let t = tempfile::tempdir().unwrap();
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        }
    }

    #[test]
    fn the_embedded_font_is_valid() {
        assert!(plotters::style::register_font(
            "test-font",
            plotters::style::FontStyle::Normal,
            FONT_BYTES
        )
        .is_ok());
    }

    #[test]
    fn every_figure_is_a_png_of_the_expected_size() {
        let (_keep, dir) = out_dir();
        let csv = dir.join("training_log.csv");
        let mut text =
            String::from("epoch,train_loss,val_loss,pseudo_dice_1,ema_dice,lr,seconds\n");
        for e in 0..12 {
            let f = f64::from(e);
            text.push_str(&format!(
                "{e},{},{},{},{},{},1.5\n",
                1.0 / (1.0 + f),
                1.1 / (1.0 + 0.8 * f),
                1.0 - 0.8f64.powf(f),
                1.0 - 0.85f64.powf(f),
                0.01 * (1.0 - f / 12.0).powf(0.9)
            ));
        }
        std::fs::write(&csv, text).unwrap();
        let png = dir.join("curves.png");
        training_curves(&csv, &png).unwrap();
        assert_eq!(png_size(&png), (1500, 480));
        let log = read_training_log(&csv).unwrap();
        assert_eq!(log.get("ema_dice").unwrap().len(), 12);
        assert_eq!(log.get("train_loss").unwrap()[1], (1.0, 0.5));

        let case = synthesize_case(&CohortConfig::default(), 1).unwrap();
        let post1 = case.phases.index_axis(Axis(0), 1);
        let mut pred = case.mask.clone();
        pred.slice_mut(ndarray::s![.., .., ..30]).fill(0);
        let png = dir.join("overlay.png");
        overlay_case(
            post1,
            case.mask.view(),
            Some(pred.view()),
            case.geometry.spacing,
            &case.case.id,
            &png,
        )
        .unwrap();
        let (w, h) = png_size(&png);
        assert!(w > 600 && h > 200, "{w} x {h}");

        let y = [0u8, 0, 1, 1, 0, 1, 0, 1, 1, 0];
        let p = [0.1, 0.3, 0.8, 0.6, 0.4, 0.9, 0.2, 0.7, 0.55, 0.45];
        let curve = medmetrics::reliability_curve(&y, &p, 5).unwrap();
        let png = dir.join("reliability.png");
        reliability_diagram(&[("SNN", &curve)], &png).unwrap();
        assert_eq!(png_size(&png), (640, 600));

        let bars = vec![
            SubgroupBar {
                variable: "age".into(),
                group: "41-50".into(),
                value: 0.82,
                n: 4,
            },
            SubgroupBar {
                variable: "age".into(),
                group: "51-60".into(),
                value: 0.78,
                n: 6,
            },
            SubgroupBar {
                variable: "menopausal_status".into(),
                group: "pre".into(),
                value: f64::NAN,
                n: 0,
            },
        ];
        let png = dir.join("bars.png");
        subgroup_bars("Dice by subgroup", "mean Dice", &bars, &png).unwrap();
        assert_eq!(png_size(&png).1, 520);
        // no temporary file left behind
        assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("partial")));
    }
}
