//! Inline SVG charts with axes, tick labels, axis titles and an HTML legend: vertical stacked
//! bars (the wait-time histogram, the daily service level) and horizontal stacked bars
//! (obligations by rule). Each chart is drawn twice, wide and narrow, and the page's styles
//! show the one that fits, so text is never scaled down to illegibility on a phone.
//!
//! Coordinates are whole SVG units computed in integers; text is kept inside the drawing by
//! reserving margins for it rather than by trusting it to fit.

use std::fmt::Write as _;

use super::esc;

/// One series of a stacked chart.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub values: Vec<u64>,
}

/// A reference line drawn across a chart, named in the legend.
pub struct Mark {
    pub label: String,
    pub colour: &'static str,
    /// Position as a fraction `num / den` of the axis it sits on (x for vertical marks on the
    /// histogram, y for horizontal ones).
    pub num: i64,
    pub den: i64,
}

/// A vertical stacked bar chart.
pub struct VBars {
    /// Accessible name of the figure.
    pub title: String,
    /// One label per bar; only every `label_every`-th is printed under the axis.
    pub categories: Vec<String>,
    pub label_every_wide: usize,
    pub label_every_narrow: usize,
    pub series: Vec<Series>,
    pub x_title: String,
    pub y_title: String,
    /// A fixed top of the y axis (100 for percentages); otherwise the tallest stack, rounded up.
    pub y_max: Option<u64>,
    /// Printed after each y tick ("%").
    pub y_suffix: &'static str,
    /// Vertical reference lines (fractions of the x axis).
    pub vmarks: Vec<Mark>,
    /// Horizontal reference lines (fractions of the y axis).
    pub hmarks: Vec<Mark>,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_i64_usize(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A "nice" axis top at or above `max` and its tick step.
fn nice_axis(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let mut step = 1u64;
    for candidate in [
        1u64, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000,
        100_000,
    ] {
        step = candidate;
        if max.div_ceil(candidate) <= 5 {
            break;
        }
    }
    (max.div_ceil(step) * step, step)
}

/// The legend. Its keys are small SVG drawings coloured by presentation attributes, not
/// `style` attributes, so a page's Content-Security-Policy can allow its one `<style>` element
/// by hash and no inline style besides.
fn legend(series: &[Series], marks: &[&Mark]) -> String {
    let mut out = String::from("<ul class=legend>");
    for s in series {
        let _ = write!(
            out,
            "<li><svg class=key width=14 height=14 aria-hidden=true focusable=false><rect x=0.5 y=0.5 width=13 height=13 fill=\"{}\" stroke=\"#555\"/></svg>{}</li>",
            s.colour,
            esc(&s.name)
        );
    }
    for m in marks {
        let _ = write!(
            out,
            "<li><svg class=key width=22 height=14 aria-hidden=true focusable=false><line x1=0 y1=7 x2=22 y2=7 stroke=\"{}\" stroke-width=3 stroke-dasharray=\"5 3\"/></svg>{}</li>",
            m.colour,
            esc(&m.label)
        );
    }
    out.push_str("</ul>");
    out
}

impl VBars {
    fn svg(&self, w: i64, h: i64, font: i64, label_every: usize) -> String {
        // The right margin leaves room for half of the last tick label, centred on its bar.
        let (left, right, top, bottom) = (font * 4 + 8, font * 2 + 6, 10, font * 3 + 8);
        let plot_w = w - left - right;
        let plot_h = h - top - bottom;
        let n = self.categories.len().max(1);
        let stacks: Vec<u64> = (0..n)
            .map(|i| {
                self.series
                    .iter()
                    .map(|s| s.values.get(i).copied().unwrap_or(0))
                    .sum()
            })
            .collect();
        let (y_top, step) = match self.y_max {
            Some(m) => (m, m / 4),
            None => nice_axis(stacks.iter().copied().max().unwrap_or(0)),
        };
        let y_top_i = to_i64(y_top).max(1);
        let y_of = |v: i64| top + plot_h - v * plot_h / y_top_i;
        let mut svg = format!(
            r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" font-size="{font}" font-family="system-ui,sans-serif">"#,
            esc(&self.title)
        );
        // Grid lines and y tick labels.
        let mut tick = 0u64;
        while tick <= y_top {
            let y = y_of(to_i64(tick));
            let _ = write!(
                svg,
                r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#d9d9d9"/><text class=tick x="{}" y="{}" text-anchor="end" fill="#333">{tick}{}</text>"##,
                left + plot_w,
                left - 4,
                y + font / 3,
                self.y_suffix
            );
            tick += step.max(1);
        }
        // Bars.
        let n_i = to_i64_usize(n);
        for i in 0..n {
            let i_i = to_i64_usize(i);
            let x0 = left + i_i * plot_w / n_i;
            let x1 = left + (i_i + 1) * plot_w / n_i;
            let mut base = 0i64;
            for s in &self.series {
                let v = to_i64(s.values.get(i).copied().unwrap_or(0));
                if v == 0 {
                    continue;
                }
                let y_hi = y_of(base + v);
                let y_lo = y_of(base);
                let _ = write!(
                    svg,
                    r#"<rect x="{x0}" y="{y_hi}" width="{}" height="{}" fill="{}"><title>{}: {v} {}</title></rect>"#,
                    (x1 - x0 - 1).max(1),
                    (y_lo - y_hi).max(1),
                    s.colour,
                    esc(&self.categories[i]),
                    esc(&s.name)
                );
                base += v;
            }
            if i % label_every.max(1) == 0 {
                let _ = write!(
                    svg,
                    r##"<text class=tick x="{}" y="{}" text-anchor="middle" fill="#333">{}</text>"##,
                    (x0 + x1) / 2,
                    top + plot_h + font + 4,
                    esc(&self.categories[i])
                );
            }
        }
        // Axes.
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{}" stroke="#333"/><line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
            top + plot_h,
            left + plot_w,
            top + plot_h,
            top + plot_h
        );
        for m in &self.vmarks {
            let x = left + plot_w * m.num / m.den.max(1);
            let _ = write!(
                svg,
                r#"<line x1="{x}" x2="{x}" y1="{top}" y2="{}" stroke="{}" stroke-width="2" stroke-dasharray="5 3"><title>{}</title></line>"#,
                top + plot_h,
                m.colour,
                esc(&m.label)
            );
        }
        for m in &self.hmarks {
            let y = top + plot_h - plot_h * m.num / m.den.max(1);
            let _ = write!(
                svg,
                r#"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="{}" stroke-width="2" stroke-dasharray="5 3"><title>{}</title></line>"#,
                left + plot_w,
                m.colour,
                esc(&m.label)
            );
        }
        // Axis titles.
        let _ = write!(
            svg,
            r##"<text class="axis-title x" x="{}" y="{}" text-anchor="middle" fill="#1a1a1a">{}</text><text class="axis-title y" transform="translate({},{}) rotate(-90)" text-anchor="middle" fill="#1a1a1a">{}</text></svg>"##,
            left + plot_w / 2,
            h - 6,
            esc(&self.x_title),
            font + 2,
            top + plot_h / 2,
            esc(&self.y_title)
        );
        svg
    }

    /// The figure: caption, legend, and the wide and narrow drawings.
    pub fn figure(&self, caption: &str) -> String {
        let marks: Vec<&Mark> = self.vmarks.iter().chain(&self.hmarks).collect();
        format!(
            "<figure class=chart><figcaption>{}</figcaption>{}<div class=wide>{}</div><div class=narrow>{}</div></figure>",
            esc(caption),
            legend(&self.series, &marks),
            self.svg(720, 270, 12, self.label_every_wide),
            self.svg(360, 240, 11, self.label_every_narrow)
        )
    }
}

/// One row of a horizontal stacked chart.
pub struct HRow {
    pub label: String,
    pub values: Vec<u64>,
    /// Printed after the bar; `alert` prints it in the missed colour.
    pub note: String,
    pub alert: bool,
}

/// A horizontal stacked bar chart (one bar per row).
pub struct HBars {
    pub title: String,
    /// Names and colours of the segments, in stacking order.
    pub segments: Vec<(String, &'static str)>,
    pub rows: Vec<HRow>,
    pub x_title: String,
    pub y_title: String,
}

/// The narrowest drawn segment, so that a single miss among thousands stays visible.
const MIN_SEGMENT: i64 = 4;

impl HBars {
    fn svg(&self, w: i64, font: i64) -> String {
        let row_h = font * 2;
        let label_w = font * 6;
        let note_w = self
            .rows
            .iter()
            .map(|r| to_i64_usize(r.note.chars().count()))
            .max()
            .unwrap_or(0)
            * font
            * 62
            / 100
            + 8;
        let (left, top) = (label_w + font + 6, 6);
        let slack = MIN_SEGMENT * to_i64_usize(self.segments.len());
        let plot_w = (w - left - note_w - slack).max(40);
        let rows = to_i64_usize(self.rows.len());
        let plot_h = rows * row_h;
        let h = top + plot_h + font * 3 + 10;
        let widest = self
            .rows
            .iter()
            .map(|r| r.values.iter().sum::<u64>())
            .max()
            .unwrap_or(0);
        let (x_top, step) = nice_axis(widest);
        let x_top_i = to_i64(x_top).max(1);
        let mut svg = format!(
            r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" font-size="{font}" font-family="system-ui,sans-serif">"#,
            esc(&self.title)
        );
        let mut tick = 0u64;
        while tick <= x_top {
            let x = left + to_i64(tick) * plot_w / x_top_i;
            let _ = write!(
                svg,
                r##"<line x1="{x}" x2="{x}" y1="{top}" y2="{}" stroke="#e3e3e3"/><text class=tick x="{x}" y="{}" text-anchor="middle" fill="#333">{tick}</text>"##,
                top + plot_h,
                top + plot_h + font + 4
            );
            tick += step.max(1);
        }
        for (i, row) in self.rows.iter().enumerate() {
            let y = top + to_i64_usize(i) * row_h;
            let _ = write!(
                svg,
                r##"<text class=tick x="{label_w}" y="{}" text-anchor="end" fill="#1a1a1a">{}</text>"##,
                y + row_h * 2 / 3,
                esc(&row.label)
            );
            let mut x = left;
            for ((name, colour), v) in self.segments.iter().zip(&row.values) {
                if *v == 0 {
                    continue;
                }
                let width = (to_i64(*v) * plot_w / x_top_i).max(MIN_SEGMENT);
                let _ = write!(
                    svg,
                    r#"<rect x="{x}" y="{}" width="{width}" height="{}" fill="{colour}"><title>{}: {v} {}</title></rect>"#,
                    y + 3,
                    row_h - 6,
                    esc(&row.label),
                    esc(name)
                );
                x += width;
            }
            let _ = write!(
                svg,
                r#"<text class=note x="{}" y="{}" fill="{}"{}>{}</text>"#,
                x + 5,
                y + row_h * 2 / 3,
                if row.alert { "#a1221b" } else { "#333" },
                if row.alert {
                    r#" font-weight="700""#
                } else {
                    ""
                },
                esc(&row.note)
            );
        }
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{}" stroke="#333"/><line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
            top + plot_h,
            left + plot_w,
            top + plot_h,
            top + plot_h
        );
        let _ = write!(
            svg,
            r##"<text class="axis-title x" x="{}" y="{}" text-anchor="middle" fill="#1a1a1a">{}</text><text class="axis-title y" transform="translate({},{}) rotate(-90)" text-anchor="middle" fill="#1a1a1a">{}</text></svg>"##,
            left + plot_w / 2,
            h - 6,
            esc(&self.x_title),
            font,
            top + plot_h / 2,
            esc(&self.y_title)
        );
        svg
    }

    /// The figure: caption, legend, and the wide and narrow drawings.
    pub fn figure(&self, caption: &str) -> String {
        let series: Vec<Series> = self
            .segments
            .iter()
            .map(|(name, colour)| Series {
                name: name.clone(),
                colour,
                values: Vec::new(),
            })
            .collect();
        format!(
            "<figure class=chart><figcaption>{}</figcaption>{}<div class=wide>{}</div><div class=narrow>{}</div></figure>",
            esc(caption),
            legend(&series, &[]),
            self.svg(720, 12),
            self.svg(360, 11)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis_rounds_up_to_at_most_five_ticks() {
        assert_eq!(nice_axis(0), (1, 1));
        assert_eq!(nice_axis(7), (8, 2));
        assert_eq!(nice_axis(123), (125, 25));
        assert_eq!(nice_axis(2923), (3000, 1000));
    }

    #[test]
    fn a_single_miss_among_thousands_is_drawn_visibly() {
        let chart = HBars {
            title: "t".to_owned(),
            segments: vec![
                ("met".to_owned(), "#1e7d3a"),
                ("missed".to_owned(), "#b3261e"),
            ],
            rows: vec![HRow {
                label: "R-ESC-1".to_owned(),
                values: vec![5000, 1],
                note: "1 missed".to_owned(),
                alert: true,
            }],
            x_title: "obligations".to_owned(),
            y_title: "rule".to_owned(),
        };
        let svg = chart.svg(360, 11);
        let red = svg
            .split("<rect")
            .find(|r| r.contains("#b3261e"))
            .expect("the missed segment is drawn");
        assert!(red.contains(&format!("width=\"{MIN_SEGMENT}\"")), "{red}");
        assert!(
            svg.contains(r##"fill="#a1221b" font-weight="700">1 missed"##),
            "{svg}"
        );
    }
}
