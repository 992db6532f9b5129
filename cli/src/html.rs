//! The CLI's side of the HTML views (which live in `opsledger_views`): the usage error for
//! `--format html` asked of a command that has none.

/// Where an HTML view exists, for the usage error every other command gives.
pub const HTML_VIEWS: &str = "`report sla`, `report obligations`, `report billing` and `timeline`";

/// `--format html` asked of a command that has no HTML view: a usage error (exit 64).
#[derive(Debug)]
pub struct NoHtmlView {
    /// The command that was asked.
    pub command: &'static str,
}

impl std::fmt::Display for NoHtmlView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--format html is not available for `{}`; HTML views exist for {HTML_VIEWS}",
            self.command
        )
    }
}

impl std::error::Error for NoHtmlView {}
