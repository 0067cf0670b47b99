//! `--plot`: latency over time and throughput of the closed-loop runs, one panel each.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One closed-loop run to draw: a label and (seconds since start, latency ms) per job.
pub struct Series<'a> {
    pub label: String,
    pub points: &'a [(f64, f64)],
}

const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

fn register_font() -> Result<()> {
    let path = FONTS
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            anyhow!("no DejaVuSans.ttf found for chart text (install fonts-dejavu-core)")
        })?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("cannot load {path}"))
}

type Area<'b> = DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>;
type Axes =
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>;

/// One chart with seconds on x and `y_desc` up to `y_max` on y.
fn panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    t_max: f64,
    y_max: f64,
    y_desc: &str,
) -> Result<ChartContext<'a, BitMapBackend<'b>, Axes>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(chart)
}

pub fn draw(out: &Path, series: &[Series<'_>]) -> Result<()> {
    register_font()?;
    let root = BitMapBackend::new(out, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(450);
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
    ];
    let t_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.1, f64::max);
    let mut all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    all.sort_by(|a, b| a.total_cmp(b));
    let l_max = all
        .get(all.len().saturating_sub(1) * 999 / 1000)
        .copied()
        .unwrap_or(1.0)
        .max(1.0)
        * 1.2;

    let mut chart = panel(
        &top,
        "Closed loop: submit → finished latency per job (p99.9 clipped)",
        t_max,
        l_max,
        "latency (ms)",
    )?;
    for (i, s) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|(t, l)| Circle::new((*t, l.min(l_max)), 1, color.filled())),
            )
            .map_err(|e| anyhow!("{e}"))?
            .label(s.label.clone())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;

    // 250 ms buckets, smaller for short runs so there are enough of them to draw.
    let bucket = (t_max / 20.0).clamp(0.005, 0.25);
    let buckets: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            // Whole buckets of this run only: a partial last bucket would read as a drop.
            let end = s.points.iter().map(|p| p.0).fold(0.0, f64::max);
            let mut counts = vec![0usize; (end / bucket).floor() as usize];
            for (t, _) in s.points {
                if let Some(c) = counts.get_mut((t / bucket) as usize) {
                    *c += 1;
                }
            }
            counts
                .iter()
                .enumerate()
                .map(|(i, c)| ((i as f64 + 0.5) * bucket, *c as f64 / bucket))
                .collect()
        })
        .collect();
    let r_max = buckets.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let mut chart = panel(
        &bottom,
        &format!(
            "Closed loop: throughput (jobs/s, {:.0} ms buckets)",
            bucket * 1000.0
        ),
        t_max,
        r_max,
        "jobs/s",
    )?;
    for (i, (s, pts)) in series.iter().zip(buckets).enumerate() {
        let color = colors[i % colors.len()];
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
