//! SVG charts for the book, drawn with plotters' SVG backend.
//!
//! The backend writes text as SVG `<text>` elements for the browser to
//! render, so no font files, fontconfig or freetype are needed to draw.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::stats::{sig3, thousands};

/// A chart of one of the two kinds the benchmarks draw.
pub enum Chart {
    Lines(LineChart),
    Bars(BarChart),
}

/// Lines through points: one series per thing compared.
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
}

/// One line of a [`LineChart`].
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Grouped bars: for each group (a workload, say) one bar per series (a
/// server).
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub log_y: bool,
    pub groups: Vec<String>,
    /// (name, one value per group).
    pub series: Vec<(String, Vec<f64>)>,
}

const SIZE: (u32, u32) = (720, 420);

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

impl Chart {
    /// Draws the chart into an SVG file at `path`.
    pub fn draw_svg(&self, path: &Path) -> anyhow::Result<()> {
        let area = SVGBackend::new(path, SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(plot_error)?;
        match self {
            Chart::Lines(chart) => {
                let (x, y) = (chart.x_range(), chart.y_range());
                match (chart.log_x, chart.log_y) {
                    (false, false) => chart.draw(&area, x.0..x.1, y.0..y.1),
                    (true, false) => chart.draw(&area, (x.0..x.1).log_scale(), y.0..y.1),
                    (false, true) => chart.draw(&area, x.0..x.1, (y.0..y.1).log_scale()),
                    (true, true) => {
                        chart.draw(&area, (x.0..x.1).log_scale(), (y.0..y.1).log_scale())
                    }
                }?
            }
            Chart::Bars(chart) => {
                let y = chart.y_range();
                if chart.log_y {
                    chart.draw(&area, (y.0..y.1).log_scale())?
                } else {
                    chart.draw(&area, y.0..y.1)?
                }
            }
        }
        area.present().map_err(plot_error)?;
        Ok(())
    }
}

impl LineChart {
    fn x_range(&self) -> (f64, f64) {
        padded_range(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
            self.log_x,
            false,
        )
    }

    fn y_range(&self) -> (f64, f64) {
        padded_range(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1)),
            self.log_y,
            true,
        )
    }

    fn draw<DB, X, Y>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        x: X,
        y: Y,
    ) -> anyhow::Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()
            .map_err(plot_error)?;
        for (i, series) in self.series.iter().enumerate() {
            let style = color(i).stroke_width(2);
            chart
                .draw_series(LineSeries::new(series.points.iter().copied(), style))
                .map_err(plot_error)?
                .label(&series.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color(i).stroke_width(2))
                });
            chart
                .draw_series(
                    series
                        .points
                        .iter()
                        .map(|&point| Circle::new(point, 3, color(i).filled())),
                )
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        Ok(())
    }
}

impl BarChart {
    fn y_range(&self) -> (f64, f64) {
        let values = self
            .series
            .iter()
            .flat_map(|(_, values)| values.iter().copied());
        let (low, high) = padded_range(values, self.log_y, true);
        if self.log_y {
            (low, high)
        } else {
            // Linear bars start at zero, with room above the tallest for its
            // label and for the legend.
            (0.0, high * 1.3)
        }
    }

    fn draw<DB, Y>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        y: Y,
    ) -> anyhow::Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let groups = self.groups.len() as f64;
        let bottom = self.y_range().0;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..groups, y)
            .map_err(plot_error)?;
        let names = self.groups.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.groups.len() * 2 + 1)
            .x_label_formatter(&move |v| {
                // Label only the middle of each group.
                let slot = *v - v.floor();
                if (slot - 0.5).abs() < 0.01 {
                    names.get(v.floor() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(&self.y_label)
            .y_label_formatter(&|v| tick(*v))
            .draw()
            .map_err(plot_error)?;
        let count = self.series.len().max(1) as f64;
        let width = 0.8 / count;
        for (i, (name, values)) in self.series.iter().enumerate() {
            let bars = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite() && **v > 0.0)
                .map(|(g, &value)| {
                    let left = g as f64 + 0.1 + i as f64 * width;
                    Rectangle::new(
                        [(left, bottom), (left + width * 0.92, value)],
                        color(i).filled(),
                    )
                });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color(i).filled())
                });
            let labels = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite() && **v > 0.0)
                .map(|(g, &value)| {
                    let middle = g as f64 + 0.1 + (i as f64 + 0.46) * width;
                    Text::new(
                        compact(value),
                        (middle, value),
                        ("sans-serif", 11).into_font().color(&BLACK).pos(
                            plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Center,
                                plotters::style::text_anchor::VPos::Bottom,
                            ),
                        ),
                    )
                });
            chart.draw_series(labels).map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        Ok(())
    }
}

/// The range of `values`, with room around it. A y axis (`from_zero`) on a
/// log scale runs from the decade below to the decade above; on a linear
/// scale from 0 to 15% above the maximum, leaving room for labels. An x
/// axis goes just beyond the points.
fn padded_range(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> (f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        low = low.min(value);
        high = high.max(value);
    }
    if low > high {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log && !from_zero {
        // An x axis: just beyond the points.
        (low / 1.4, high * 1.4)
    } else if log {
        let low = 10f64.powf(low.log10().floor());
        let high = 10f64.powf((high * 1.5).log10().ceil());
        (low, high.max(low * 10.0))
    } else {
        let low = if from_zero { 0.0f64.min(low) } else { low };
        let high = if high > low { high * 1.15 } else { low + 1.0 };
        (low, high)
    }
}

/// An axis label: whole numbers with thousands separators, others with
/// three significant digits.
fn tick(value: f64) -> String {
    if value.abs() >= 1.0 && (value - value.round()).abs() < 1e-9 {
        thousands(value)
    } else {
        let text = sig3(value);
        if text.contains('.') && !text.contains(',') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    }
}

/// A bar's label, short enough to sit above it: `2.16M`, `273k`, `0.042`.
fn compact(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else {
        tick(value)
    }
}

fn plot_error<E: std::error::Error + Send + Sync + 'static>(
    err: plotters::drawing::DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("drawing a chart: {err}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_kinds_as_svg_with_text() {
        let dir = std::env::temp_dir().join(format!("bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lines = Chart::Lines(LineChart {
            title: "wait".into(),
            x_label: "idle descriptors".into(),
            y_label: "µs per call".into(),
            log_x: true,
            log_y: true,
            series: vec![Series {
                name: "poll".into(),
                points: vec![(10.0, 0.5), (10_000.0, 200.0)],
            }],
        });
        lines.draw_svg(&dir.join("lines.svg")).unwrap();
        let bars = Chart::Bars(BarChart {
            title: "throughput".into(),
            y_label: "requests/s".into(),
            log_y: false,
            groups: vec!["GET".into(), "SET".into()],
            series: vec![
                ("ours".into(), vec![100.0, 90.0]),
                ("redis".into(), vec![80.0, 70.0]),
            ],
        });
        bars.draw_svg(&dir.join("bars.svg")).unwrap();
        for file in ["lines.svg", "bars.svg"] {
            let svg = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(svg.starts_with("<svg"), "{file}");
            assert!(svg.contains("<text"), "{file}");
        }
        let bars = std::fs::read_to_string(dir.join("bars.svg")).unwrap();
        assert!(bars.contains(">\nGET\n</text>") || bars.contains(">GET</text>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(compact(2_160_976.0), "2.16M");
        assert_eq!(compact(273_168.0), "273k");
        assert_eq!(compact(2_948.0), "2,948");
        assert_eq!(compact(0.0420), "0.042");
        assert_eq!(tick(0.1), "0.1");
        assert_eq!(tick(10.0), "10");
    }

    #[test]
    fn ranges_leave_room() {
        assert_eq!(
            padded_range([3.0, 450.0].into_iter(), true, true),
            (1.0, 1000.0)
        );
        let (low, high) = padded_range([10.0, 100.0].into_iter(), false, true);
        assert_eq!(low, 0.0);
        assert!(high > 100.0);
    }
}
