//! Reliability diagram: observed fraction of positives against mean predicted probability per bin, one
//! line per curve (`medmetrics::reliability_curve` output), with the diagonal of perfect calibration and
//! each curve's expected calibration error in the legend:
//!
//! ```text
//! ECE = Σ_b (n_b / N) · |fraction_positive_b − mean_predicted_b|
//! ```

use std::path::Path;

use anyhow::Result;
use medmetrics::ReliabilityCurve;
use plotters::prelude::*;

use super::{plot_err, render, FONT};

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// Draws the curves `(label, curve)` into `png`; marker area grows with the bin's count.
///
/// # Errors
/// A failed write.
pub fn reliability_diagram(curves: &[(&str, &ReliabilityCurve)], png: &Path) -> Result<()> {
    render(png, (640, 600), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("reliability diagram", (FONT, 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("mean predicted probability")
            .y_desc("fraction of positives")
            .label_style((FONT, 14))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.5)))
            .map_err(plot_err)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.5)));
        for (k, (label, curve)) in curves.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let pts: Vec<(f64, f64)> = curve
                .bins
                .iter()
                .map(|b| (b.mean_predicted, b.fraction_positive))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{label} (ECE {:.3}, n = {})", curve.ece(), curve.n))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(curve.bins.iter().map(|b| {
                    let r = (3.0 + 2.0 * (b.count as f64).sqrt()).min(14.0) as i32;
                    Circle::new((b.mean_predicted, b.fraction_positive), r, colour.filled())
                }))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        Ok(())
    })
}
