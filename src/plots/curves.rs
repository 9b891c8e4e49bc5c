//! Training curves from the trainer's per-epoch `training_log.csv`.
//!
//! Columns are found by name (case-insensitive): `epoch`, `train_loss`, `val_loss`, `ema_dice`, `lr`, and
//! every column whose name starts with `pseudo_dice` (one per foreground class, or a single one). Missing
//! columns are simply not drawn; empty or non-numeric cells are skipped.

use std::path::Path;

use anyhow::{bail, Context, Result};
use plotters::prelude::*;

use super::{plot_err, render, FONT};

/// The parsed columns of a training log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainingLog {
    /// `(name, points (epoch, value))` of every numeric column except `epoch`, in file order.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

impl TrainingLog {
    /// The points of the column `name` (exact name), if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&[(f64, f64)]> {
        self.series
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_slice())
    }
}

/// Reads a training log CSV (header row, one row per epoch).
///
/// # Errors
/// The file cannot be read, is not CSV, or has no `epoch` column.
pub fn read_training_log(csv_path: &Path) -> Result<TrainingLog> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(csv_path)
        .with_context(|| format!("reading {}", csv_path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header", csv_path.display()))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let Some(epoch_col) = headers.iter().position(|h| h == "epoch") else {
        bail!(
            "{}: no `epoch` column (found {headers:?})",
            csv_path.display()
        );
    };
    let mut series: Vec<(String, Vec<(f64, f64)>)> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != epoch_col)
        .map(|(_, h)| (h.clone(), Vec::new()))
        .collect();
    for row in reader.records() {
        let row = row.with_context(|| format!("{}: bad CSV row", csv_path.display()))?;
        let Some(epoch) = row
            .get(epoch_col)
            .and_then(|v| v.trim().parse::<f64>().ok())
        else {
            continue;
        };
        let mut k = 0;
        for (i, cell) in row.iter().enumerate() {
            if i == epoch_col {
                continue;
            }
            if let (Some(s), Ok(v)) = (series.get_mut(k), cell.trim().parse::<f64>()) {
                if v.is_finite() {
                    s.1.push((epoch, v));
                }
            }
            k += 1;
        }
    }
    series.retain(|(_, p)| !p.is_empty());
    Ok(TrainingLog { series })
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn range_of<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.fold(None, |acc, &(x, y)| {
        Some(match acc {
            None => (x, x, y, y),
            Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
        })
    })
}

/// Draws one panel of series into `area`.
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    y_fixed: Option<(f64, f64)>,
) -> Result<()> {
    let Some((x0, x1, y0, y1)) = range_of(series.iter().flat_map(|(_, p)| p.iter())) else {
        return Ok(());
    };
    let (y0, y1) = y_fixed.unwrap_or_else(|| {
        let pad = ((y1 - y0) * 0.05).max(1e-6);
        (y0 - pad, y1 + pad)
    });
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .label_style((FONT, 14))
        .draw()
        .map_err(plot_err)?;
    for (k, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        if points.len() < 30 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(plot_err)?;
        }
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

/// Draws the curves of a training log CSV into `png` (three panels: losses; pseudo Dice and EMA Dice;
/// learning rate).
///
/// # Errors
/// The CSV cannot be read (see [`read_training_log`]) or the PNG cannot be written.
pub fn training_curves(csv_path: &Path, png: &Path) -> Result<()> {
    let log = read_training_log(csv_path)?;
    let pick = |pred: &dyn Fn(&str) -> bool| -> Vec<(&str, &[(f64, f64)])> {
        log.series
            .iter()
            .filter(|(n, _)| pred(n))
            .map(|(n, p)| (n.as_str(), p.as_slice()))
            .collect()
    };
    let losses = pick(&|n| n.ends_with("loss"));
    let dice = pick(&|n| n.starts_with("pseudo_dice") || n.contains("ema") || n == "mean_fg_dice");
    let lr = pick(&|n| n == "lr" || n == "learning_rate");
    render(png, (1500, 480), |root| {
        let areas = root.split_evenly((1, 3));
        panel(&areas[0], "loss", &losses, None)?;
        panel(&areas[1], "online validation Dice", &dice, Some((0.0, 1.0)))?;
        panel(&areas[2], "learning rate", &lr, None)?;
        Ok(())
    })
}
