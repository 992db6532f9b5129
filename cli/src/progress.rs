//! Progress on the terminal: an indicatif bar behind the application layer's [`Progress`]
//! callback (drawn on standard error, hidden when that is not a terminal).

use opsledger_app::Progress;

/// A terminal progress bar.
#[derive(Debug)]
pub struct Bar(indicatif::ProgressBar);

impl Bar {
    /// A bar drawn with `template` (indicatif's syntax).
    pub fn new(template: &str) -> Self {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
        Bar(bar)
    }

    /// The bar of bringing the projections up to date.
    pub fn projecting() -> Self {
        Self::new("  projecting {bar:40} {pos}/{len} events {per_sec} eta {eta}")
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
