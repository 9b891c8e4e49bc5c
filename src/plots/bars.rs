//! Subgroup bar chart: one bar per subgroup (`variable: group`), coloured by variable, labelled with the
//! group and its size — e.g. mean Dice per age group / menopausal status / breast density (Task 1), or
//! balanced accuracy per group (Task 2).

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plot_err, render, FONT};

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgroupBar {
    /// The subgroup variable (`age`, `menopausal_status`, `breast_density`, `centre`, …).
    pub variable: String,
    /// The group label (`41-50`, `pre`, `b`, …).
    pub group: String,
    /// The value (non-finite values are drawn as empty bars).
    pub value: f64,
    /// Cases in the group.
    pub n: usize,
}

const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws `bars` (in the given order) with the y axis `[0, max(1, max value)]` into `png`.
///
/// # Errors
/// A failed write.
pub fn subgroup_bars(title: &str, metric: &str, bars: &[SubgroupBar], png: &Path) -> Result<()> {
    let n = bars.len().max(1);
    let width = (140 + 70 * n).clamp(480, 1800) as u32;
    let y_max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    let mut variables: Vec<&str> = Vec::new();
    for b in bars {
        if !variables.contains(&b.variable.as_str()) {
            variables.push(&b.variable);
        }
    }
    render(png, (width, 520), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(14)
            .x_label_area_size(70)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..n as f64, 0.0..y_max * 1.08)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc(metric)
            .label_style((FONT, 14))
            .draw()
            .map_err(plot_err)?;
        for (k, var) in variables.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            chart
                .draw_series(
                    bars.iter()
                        .enumerate()
                        .filter(|(_, b)| b.variable == *var)
                        .map(|(i, b)| {
                            let v = if b.value.is_finite() { b.value } else { 0.0 };
                            Rectangle::new(
                                [(i as f64 + 0.12, 0.0), (i as f64 + 0.88, v)],
                                colour.filled(),
                            )
                        }),
                )
                .map_err(plot_err)?
                .label(*var)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        for (i, b) in bars.iter().enumerate() {
            let x = i as f64 + 0.5;
            chart
                .draw_series([Text::new(
                    b.group.to_string(),
                    (x - 0.35, 0.0),
                    (FONT, 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                )])
                .map_err(plot_err)?;
            let label = if b.value.is_finite() {
                format!("{:.2}", b.value)
            } else {
                "n/a".into()
            };
            let top = if b.value.is_finite() { b.value } else { 0.0 };
            chart
                .draw_series([Text::new(
                    format!("{label} (n={})", b.n),
                    (x - 0.4, top + y_max * 0.01),
                    (FONT, 11)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                )])
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        Ok(())
    })
}
