//! Static SVG charts, rendered in Rust so that reports need no script and no network.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed: used for service time beside corrected latency.
    pub dashed: bool,
    /// Index into [`PALETTE`]: the lines of one run share a colour.
    pub colour: usize,
}

/// How the x axis maps values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XAxis {
    /// Plain numbers (seconds of a run).
    Linear,
    /// Percentiles 0–100 spread by their "nines", so that 99, 99.9 and 99.99 are evenly spaced
    /// as in HdrHistogram's plots.
    PercentileNines,
}

/// How the y axis maps values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum YAxis {
    Linear,
    /// Powers of ten evenly spaced: for latencies that span orders of magnitude.
    Log,
}

/// A line chart.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_axis: XAxis,
    pub y_axis: YAxis,
    /// Prints a y tick value.
    pub y_format: &'a dyn Fn(f64) -> String,
    pub series: &'a [Series],
}

/// Colours that stay apart for the first runs, and for colour-blind readers.
pub const PALETTE: [&str; 8] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442",
];

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// The plot area, inside the margins.
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
/// The percentile axis stops at six nines.
const MAX_NINES: f64 = 6.0;

/// Escapes text for XML content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn nines(percentile: f64) -> f64 {
    let remaining = (1.0 - percentile / 100.0).max(10f64.powf(-MAX_NINES));
    -remaining.log10()
}

/// Renders the chart as an `<svg>` element.
pub fn line_chart(chart: &LineChart) -> String {
    let points = plotted_points(chart);
    let mut svg = String::new();
    open_chart(&mut svg, chart);
    if points.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="14" fill="#666">no data</text></svg>"##,
            LEFT + PLOT_WIDTH / 2.0 - 30.0,
            TOP + PLOT_HEIGHT / 2.0
        );
        return svg;
    }
    let frame = Frame::fitting(chart, &points);
    draw_y_ticks(&mut svg, chart, &frame);
    draw_x_ticks(&mut svg, chart, &frame);
    draw_border_and_labels(&mut svg, chart);
    for (index, series) in chart.series.iter().enumerate() {
        draw_series(&mut svg, chart, &frame, series);
        draw_legend_entry(&mut svg, index, series);
    }
    svg.push_str("</svg>");
    svg
}

/// A data point in axis units (nines, log10), before scaling to the plot.
fn to_axes(chart: &LineChart, (x, y): (f64, f64)) -> (f64, f64) {
    let x = match chart.x_axis {
        XAxis::Linear => x,
        XAxis::PercentileNines => nines(x),
    };
    let y = match chart.y_axis {
        YAxis::Linear => y,
        YAxis::Log => y.max(1.0).log10(),
    };
    (x, y)
}

/// One series' points in axis units, leaving out those that cannot be drawn (NaN, infinite).
fn drawable(chart: &LineChart, series: &Series) -> impl Iterator<Item = (f64, f64)> {
    series
        .points
        .iter()
        .map(|&point| to_axes(chart, point))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// Every series' drawable points, in axis units.
fn plotted_points(chart: &LineChart) -> Vec<(f64, f64)> {
    chart
        .series
        .iter()
        .flat_map(|series| drawable(chart, series))
        .collect()
}

/// The `<svg>` element's opening, the white background and the title.
fn open_chart(svg: &mut String, chart: &LineChart) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">"#,
        title = escape(chart.title)
    );
    let _ = write!(
        svg,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{LEFT}" y="24" font-size="16" font-weight="600">{}</text>"##,
        escape(chart.title)
    );
}

/// The ranges the plot area shows, in axis units, and how they map to pixels.
struct Frame {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Frame {
    /// The ranges that hold `points` (not empty), rounded to ticks the axes print well.
    fn fitting(chart: &LineChart, points: &[(f64, f64)]) -> Frame {
        let (mut x_min, mut x_max) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), (x, _)| {
                (low.min(*x), high.max(*x))
            });
        let (y_min, y_max) = y_range(chart.y_axis, points);
        if chart.x_axis == XAxis::PercentileNines {
            x_min = 0.0;
            x_max = x_max.ceil().max(1.0);
        }
        if x_max <= x_min {
            x_max = x_min + 1.0;
        }
        Frame {
            x_min,
            x_max,
            y_min,
            y_max,
        }
    }

    /// The pixel column of an x in axis units.
    fn scale_x(&self, x: f64) -> f64 {
        LEFT + (x - self.x_min) / (self.x_max - self.x_min) * PLOT_WIDTH
    }

    /// The pixel row of a y in axis units.
    fn scale_y(&self, y: f64) -> f64 {
        TOP + PLOT_HEIGHT - (y - self.y_min) / (self.y_max - self.y_min) * PLOT_HEIGHT
    }
}

/// The y range for `points` (not empty): from zero on a linear axis, whole powers on a log one.
fn y_range(y_axis: YAxis, points: &[(f64, f64)]) -> (f64, f64) {
    let y_max_value = points
        .iter()
        .fold(f64::NEG_INFINITY, |high, (_, y)| high.max(*y));
    match y_axis {
        // Small whole-number data (a count of errors, often all zero) gets whole-number
        // ticks: 0–4, not 0–1 in quarters that print as 0, 0, 1, 1, 1.
        YAxis::Linear if y_max_value < 4.0 && points.iter().all(|(_, y)| y.fract() == 0.0) => {
            (0.0, 4.0)
        }
        YAxis::Linear => (0.0, nice_ceiling(y_max_value.max(1.0))),
        YAxis::Log => {
            let low = points
                .iter()
                .fold(f64::INFINITY, |low, (_, y)| low.min(*y))
                .floor();
            (low, y_max_value.ceil().max(low + 1.0))
        }
    }
}

/// Horizontal grid lines with their y tick labels: quarters, or powers of ten.
fn draw_y_ticks(svg: &mut String, chart: &LineChart, frame: &Frame) {
    let y_ticks: Vec<f64> = match chart.y_axis {
        YAxis::Linear => (0..=4)
            .map(|step| frame.y_max * step as f64 / 4.0)
            .collect(),
        YAxis::Log => (frame.y_min as i64..=frame.y_max as i64)
            .map(|power| power as f64)
            .collect(),
    };
    for tick in y_ticks {
        let y = frame.scale_y(tick);
        let label = match chart.y_axis {
            YAxis::Linear => (chart.y_format)(tick),
            YAxis::Log => (chart.y_format)(10f64.powf(tick)),
        };
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#444">{}</text>"##,
            LEFT + PLOT_WIDTH,
            LEFT - 6.0,
            y + 4.0,
            escape(&label)
        );
    }
}

/// The x ticks with their labels: one per nine on a percentile axis, else about eight.
fn x_ticks(x_axis: XAxis, frame: &Frame) -> Vec<(f64, String)> {
    match x_axis {
        XAxis::PercentileNines => (0..=frame.x_max as i64)
            .map(|nine| {
                let percentile = 100.0 * (1.0 - 10f64.powi(-(nine as i32)));
                (nine as f64, format!("{}%", trim_number(percentile)))
            })
            .collect(),
        XAxis::Linear => {
            let step = nice_ceiling((frame.x_max - frame.x_min) / 8.0).max(1e-9);
            let mut ticks = Vec::new();
            let mut tick = (frame.x_min / step).ceil() * step;
            while tick <= frame.x_max + step * 1e-9 {
                ticks.push((tick, trim_number(tick)));
                tick += step;
            }
            ticks
        }
    }
}

/// Vertical grid lines with their x tick labels.
fn draw_x_ticks(svg: &mut String, chart: &LineChart, frame: &Frame) {
    for (tick, label) in x_ticks(chart.x_axis, frame) {
        let x = frame.scale_x(tick);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#f0f0f0"/><text x="{x:.1}" y="{}" font-size="11" text-anchor="middle" fill="#444">{}</text>"##,
            TOP + PLOT_HEIGHT,
            TOP + PLOT_HEIGHT + 16.0,
            escape(&label)
        );
    }
}

/// The plot area's border, and the axes' labels.
fn draw_border_and_labels(svg: &mut String, chart: &LineChart) {
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" stroke="#999"/><text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#222">{}</text><text transform="translate(18 {}) rotate(-90)" font-size="12" text-anchor="middle" fill="#222">{}</text>"##,
        LEFT + PLOT_WIDTH / 2.0,
        HEIGHT - 10.0,
        escape(chart.x_label),
        TOP + PLOT_HEIGHT / 2.0,
        escape(chart.y_label)
    );
}

/// The series' stroke colour, and its dash attribute (empty when solid).
fn stroke(series: &Series) -> (&'static str, &'static str) {
    let colour = PALETTE[series.colour % PALETTE.len()];
    let dash = if series.dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    (colour, dash)
}

/// One series as a polyline, its values clamped to the y range; nothing if none can be drawn.
fn draw_series(svg: &mut String, chart: &LineChart, frame: &Frame, series: &Series) {
    let path: Vec<String> = drawable(chart, series)
        .map(|(x, y)| {
            format!(
                "{:.1},{:.1}",
                frame.scale_x(x),
                frame.scale_y(y.clamp(frame.y_min, frame.y_max))
            )
        })
        .collect();
    if path.is_empty() {
        return;
    }
    let (colour, dash) = stroke(series);
    let _ = write!(
        svg,
        r#"<polyline class="series" fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
        path.join(" ")
    );
}

/// The series' line and name in the legend, right of the plot, as the `index`-th entry.
fn draw_legend_entry(svg: &mut String, index: usize, series: &Series) {
    let (colour, dash) = stroke(series);
    let legend_y = TOP + 14.0 + index as f64 * 18.0;
    let legend_x = LEFT + PLOT_WIDTH + 14.0;
    let _ = write!(
        svg,
        r#"<line x1="{legend_x}" x2="{}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="3"{dash}/><text x="{}" y="{}" font-size="12">{}</text>"#,
        legend_x + 24.0,
        legend_x + 30.0,
        legend_y + 4.0,
        escape(&series.name)
    );
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value`.
fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_well_formed_svg_with_one_line_per_series() {
        let series = vec![
            Series {
                name: "a<b".to_string(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
                dashed: false,
                colour: 0,
            },
            Series {
                name: "c".to_string(),
                points: vec![(0.0, 3.0), (1.0, 4.0)],
                dashed: true,
                colour: 1,
            },
        ];
        let svg = line_chart(&LineChart {
            title: "t",
            x_label: "x",
            y_label: "y",
            x_axis: XAxis::Linear,
            y_axis: YAxis::Linear,
            y_format: &|value| format!("{value}"),
            series: &series,
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.8), 1.0);
        assert_eq!(nice_ceiling(1.3), 2.0);
        assert_eq!(nice_ceiling(4100.0), 5000.0);
        assert_eq!(nice_ceiling(7000.0), 10000.0);
    }
}
