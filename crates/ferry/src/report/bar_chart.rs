//! A horizontal grouped bar chart in static SVG: one group per target, in its colour, one
//! bar per measure (compare's capacity and cost charts).

use std::fmt::Write;

use super::svg::{PALETTE, escape};

/// A target's bars: its name, its colour, and (label, value) per bar; an unknown value is
/// drawn as no bar and "—", never as 0.
pub type BarGroup = (String, usize, Vec<(String, Option<f64>)>);

/// A horizontal grouped bar chart: one group per target (in its colour), one bar per measure.
pub fn bar_chart(title: &str, groups: &[BarGroup], format: &dyn Fn(f64) -> String) -> String {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 120.0;
    const RIGHT: f64 = 160.0;
    const BAR: f64 = 22.0;
    const GAP: f64 = 14.0;
    const LINE: f64 = 18.0;
    let bars: usize = groups.iter().map(|(_, _, bars)| bars.len()).sum();
    // A title's later lines (after `\n`) are smaller, each pushing the bars down a line.
    let (heading, rest) = title.split_once('\n').unwrap_or((title, ""));
    let subtitles: Vec<&str> = rest.lines().collect();
    let top = subtitles.len() as f64 * LINE;
    let height = 50.0 + top + bars as f64 * (BAR + 4.0) + groups.len() as f64 * GAP + 10.0;
    let max = groups
        .iter()
        .flat_map(|(_, _, bars)| bars.iter().filter_map(|(_, value)| *value))
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let scale = (WIDTH - LEFT - RIGHT) / max;
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"system-ui,sans-serif\" font-size=\"12\"><text x=\"{LEFT}\" y=\"24\" font-size=\"14\" font-weight=\"600\">{}</text>",
        escape(heading)
    );
    for (index, line) in subtitles.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{:.0}\" fill=\"#555\">{}</text>",
            24.0 + (index + 1) as f64 * LINE,
            escape(line)
        );
    }
    let mut y = 40.0 + top;
    for (group, colour, bars) in groups {
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"600\">{}</text>",
            LEFT - 10.0,
            y + BAR * 0.7,
            escape(group)
        );
        for (index, (label, value)) in bars.iter().enumerate() {
            let Some(value) = value else {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\">{} —</text>",
                    LEFT + 6.0,
                    y + BAR * 0.7,
                    escape(label)
                );
                y += BAR + 4.0;
                continue;
            };
            let width = (value * scale).max(1.0);
            let opacity = if index == 0 { 1.0 } else { 0.55 };
            let _ = write!(
                svg,
                "<rect x=\"{LEFT}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR}\" fill=\"{}\" fill-opacity=\"{opacity}\"/><text x=\"{:.1}\" y=\"{:.1}\">{} {}</text>",
                PALETTE[colour % PALETTE.len()],
                LEFT + width + 6.0,
                y + BAR * 0.7,
                escape(label),
                escape(&format(*value))
            );
            y += BAR + 4.0;
        }
        y += GAP;
    }
    svg.push_str("</svg>");
    svg
}
