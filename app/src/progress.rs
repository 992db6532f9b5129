//! Progress as a callback: long use cases (recording, catching up) report how far they are
//! through [`Progress`], and the front end draws it (the CLI as a terminal bar) or ignores it.

/// Receives the progress of one long-running step.
pub trait Progress: Send + Sync {
    /// The step begins; `total` units of work are expected.
    fn start(&self, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The step is over (done or abandoned).
    fn finish(&self);
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}
