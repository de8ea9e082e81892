//! The SVG plot: one column per policy, rows for queue depth, breaker state and sessions held
//! over time (same y scale across a row, so the columns compare).

use std::path::Path;

use plotters::prelude::*;

use crate::error::SimError;
use crate::report::{PolicyReport, SimReport};
use crate::scenario::HOUR_MS;

type Getter = fn(&crate::report::Sample) -> f64;

/// Writes the plot of `report` to `path`.
pub fn write_plot(report: &SimReport, path: &Path) -> Result<(), SimError> {
    let err = |e: &dyn std::fmt::Display| SimError::Plot(e.to_string());
    let cols = report.policies.len().max(1);
    let root = SVGBackend::new(path, (420 * cols as u32, 960)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!(
        "{} users, {} h, seed {} (backend {:.0} req/s)",
        report.scenario.users,
        report.scenario.hours,
        report.scenario.seed,
        report.scenario.backend.capacity_rps()
    );
    let root = root.titled(&title, ("sans-serif", 22)).map_err(|e| err(&e))?;
    let rows: [(&str, Getter, RGBColor); 3] = [
        ("queue depth", |s| s.queue_depth as f64, BLUE),
        ("breaker (0 closed, 1 half-open, 2 open)", |s| f64::from(s.breaker), RED),
        ("sessions held", |s| s.sessions_held as f64, GREEN),
    ];
    let areas = root.split_evenly((rows.len(), cols));
    let x_max = report.scenario.hours.max(1e-3);
    for (r, (label, get, color)) in rows.iter().enumerate() {
        let y_max =
            report.policies.iter().flat_map(|p| p.series.iter().map(get)).fold(1.0f64, f64::max) * 1.1;
        for (c, policy) in report.policies.iter().enumerate() {
            draw_one(&areas[r * cols + c], policy, label, *get, *color, x_max, y_max).map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

fn draw_one(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    policy: &PolicyReport,
    label: &str,
    get: Getter,
    color: RGBColor,
    x_max: f64,
    y_max: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: {label}", policy.policy), ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart.configure_mesh().x_desc("hours").max_light_lines(2).draw()?;
    let points = policy.series.iter().map(|s| (s.t as f64 / HOUR_MS as f64, get(s)));
    chart.draw_series(LineSeries::new(points, &color))?;
    Ok(())
}
