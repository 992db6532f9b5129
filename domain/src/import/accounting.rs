//! Row accounting shared by the importers: what became of every row (line or record) read.
//!
//! An import must never drop input without saying so. Each importer gives every row it read
//! exactly one [`Disposition`] and lists it in an [`Accounting`], so that the counts add up to
//! the rows read and a per-row list can name `file:line` for each of them. Blank lines are not
//! rows.
//!
//! Ids taken from foreign files are escaped into the id alphabet by [`escape_id`] (and
//! [`escape_agent_id`]), never folded: two different source ids always give two different ids.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::import::queue_log::LineRef;

/// What became of one input row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// The row's facts are among the import's events, as written.
    Imported,
    /// Imported, with an instant moved by the mapping's declared clock tolerance (e.g. a
    /// service start up to the tolerance before the queue entry is read as the queue entry).
    Clamped,
    /// Imported as answered at queue exit (or queue entry), with talk time unknown, because
    /// the row says an agent served the call but gives no service start.
    AnsweredWithoutServiceStart,
    /// Imported, but its call had no outcome when the input ended (still queued or still
    /// talking): the call is offered and unresolved.
    UnresolvedAtEnd,
    /// A call line whose call never entered the queue in the input (its start lies before
    /// the first file): nothing is imported for it.
    CutOffAtStart,
    /// A row of a call that never reached the queue (e.g. it left from the VRU): not an
    /// offered call.
    NotOffered,
    /// A row whose outcome the mapping says to ignore (e.g. a virtual call).
    IgnoredByMapping,
    /// A line or record that is not about a queue call: system, member, pause and agent
    /// session lines, outbound calls, other dialplan applications, unknown event types.
    NotQueueCall,
    /// A line of a queue call that carries no fact the ledger records (`DID`,
    /// `RINGNOANSWER`, …).
    NoCallFact,
    /// A queue call the ledger already holds from a finer source (a CDR of a call the
    /// queue_log described): nothing is imported for it.
    Superseded,
    /// The same row (same identity, same content) as an earlier one: nothing new.
    ExactRepeat,
    /// The same identity as an earlier row with different content: the earlier row is kept
    /// and this one is not imported.
    ConflictingRepeat,
    /// Malformed, skipped on request.
    SkippedInvalid,
    /// Translated, but the ledger refused a fact of it (a rule of the domain, named in the
    /// detail), skipped on request. Importers never give this; the command that records
    /// their events does.
    RefusedByLedger,
}

impl Disposition {
    /// Every disposition, in the order a table lists them.
    pub const ALL: [Disposition; 14] = [
        Disposition::Imported,
        Disposition::Clamped,
        Disposition::AnsweredWithoutServiceStart,
        Disposition::UnresolvedAtEnd,
        Disposition::CutOffAtStart,
        Disposition::NotOffered,
        Disposition::IgnoredByMapping,
        Disposition::NotQueueCall,
        Disposition::NoCallFact,
        Disposition::Superseded,
        Disposition::ExactRepeat,
        Disposition::ConflictingRepeat,
        Disposition::SkippedInvalid,
        Disposition::RefusedByLedger,
    ];

    /// The snake_case name used in tables, JSON and per-row reports.
    pub fn name(self) -> &'static str {
        match self {
            Disposition::Imported => "imported",
            Disposition::Clamped => "clamped",
            Disposition::AnsweredWithoutServiceStart => "answered_without_service_start",
            Disposition::UnresolvedAtEnd => "unresolved_at_end",
            Disposition::CutOffAtStart => "cut_off_at_start",
            Disposition::NotOffered => "not_offered",
            Disposition::IgnoredByMapping => "ignored_by_mapping",
            Disposition::NotQueueCall => "not_queue_call",
            Disposition::NoCallFact => "no_call_fact",
            Disposition::Superseded => "superseded",
            Disposition::ExactRepeat => "exact_repeat",
            Disposition::ConflictingRepeat => "conflicting_repeat",
            Disposition::SkippedInvalid => "skipped_invalid",
            Disposition::RefusedByLedger => "refused_by_ledger",
        }
    }

    /// Whether rows of this disposition contributed events to the import.
    pub fn is_imported(self) -> bool {
        matches!(
            self,
            Disposition::Imported
                | Disposition::Clamped
                | Disposition::AnsweredWithoutServiceStart
                | Disposition::UnresolvedAtEnd
        )
    }
}

/// One row and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDisposition {
    /// Where the row is (its first physical line, header included, 1-based).
    pub source: LineRef,
    /// What became of it.
    pub disposition: Disposition,
    /// Why, in a few words (the event name, the error, the earlier line repeated …).
    pub detail: String,
}

/// Every row of an import with its disposition, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounting {
    /// One entry per row read.
    pub rows: Vec<RowDisposition>,
}

impl Accounting {
    /// Records a row and returns its index, so that a later fact (the end of the input, a
    /// conflict) can change its disposition.
    pub fn push(&mut self, source: LineRef, disposition: Disposition, detail: String) -> usize {
        self.rows.push(RowDisposition {
            source,
            disposition,
            detail,
        });
        self.rows.len() - 1
    }

    /// Changes the disposition of an earlier row.
    pub fn set(&mut self, index: usize, disposition: Disposition) {
        if let Some(row) = self.rows.get_mut(index) {
            row.disposition = disposition;
        }
    }

    /// The rows read.
    pub fn rows_read(&self) -> u64 {
        u64::try_from(self.rows.len()).unwrap_or(u64::MAX)
    }

    /// Rows per disposition; every disposition is present, with 0 when no row had it, so
    /// that a table or JSON reader sees the full set.
    pub fn counts(&self) -> BTreeMap<Disposition, u64> {
        let mut counts: BTreeMap<Disposition, u64> =
            Disposition::ALL.iter().map(|d| (*d, 0)).collect();
        for row in &self.rows {
            *counts.entry(row.disposition).or_insert(0) += 1;
        }
        counts
    }
}

/// Physical line numbers of byte offsets in one input, for the CSV readers.
///
/// The `csv` crate's own line count drifts on files with CRLF line ends (it names the line
/// before the record), so rows are placed by their byte offset instead: the line of a row is
/// one plus the number of line feeds before its first byte, blank lines skipped.
pub(crate) struct LineIndex<'b> {
    bytes: &'b [u8],
    /// The offset of every line feed, ascending.
    newlines: Vec<usize>,
}

impl<'b> LineIndex<'b> {
    /// Indexes the line feeds of `bytes`.
    pub(crate) fn new(bytes: &'b [u8]) -> Self {
        let newlines = bytes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| (*b == b'\n').then_some(i))
            .collect();
        Self { bytes, newlines }
    }

    /// The 1-based physical line of the first byte at or after `offset` that is not a line
    /// break (a reader's record position may point at the blank lines it skipped).
    pub(crate) fn line_at(&self, offset: u64) -> u64 {
        let mut at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while self
            .bytes
            .get(at)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            at += 1;
        }
        let before = self.newlines.partition_point(|n| *n < at);
        u64::try_from(before).map_or(u64::MAX, |n| n.saturating_add(1))
    }
}

/// The characters kept as they are in an escaped id. `_` is the escape character and `:`
/// separates the parts of a call id, so neither is kept.
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.')
}

fn escape_with(text: &str, slash_as_colon: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_safe(c) {
            out.push(c);
        } else if slash_as_colon && c == '/' {
            out.push(':');
        } else {
            let mut buf = [0_u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push('_');
                out.push_str(&format!("{byte:02X}"));
            }
        }
    }
    out
}

/// Escapes foreign id text into the id alphabet without folding: ASCII letters, digits, `-`
/// and `.` are kept, and every other character becomes `_` followed by the two upper-case hex
/// digits of each of its UTF-8 bytes (`m 1` → `m_201`, `m_1` → `m_5F1`, `mé1` → `m_C3_A91`).
/// Decoding is unambiguous, so two different texts never give the same id, and the result
/// has no `:`, so ids built by joining escaped parts with `:` stay distinct too.
///
/// Every importer uses this one function for call ids, so that the same call gets the same
/// id whichever file it is imported from.
pub fn escape_id(text: &str) -> String {
    escape_with(text, false)
}

/// Escapes an agent name as [`escape_id`] does, except that `/` becomes `:` so that member
/// interfaces stay readable (`SIP/1001` → `SIP:1001`). This is still one-to-one, because
/// [`escape_id`] never leaves a `:` of the original text as it is.
pub fn escape_agent_id(text: &str) -> String {
    escape_with(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_safe_ids_and_separates_look_alikes() {
        assert_eq!(escape_id("1658814295.0"), "1658814295.0");
        assert_eq!(escape_id("m 1"), "m_201");
        assert_eq!(escape_id("m_1"), "m_5F1");
        assert_eq!(escape_id("mé1"), "m_C3_A91");
        assert_eq!(escape_id("a:b/c"), "a_3Ab_2Fc");
        assert_eq!(escape_agent_id("SIP/1001"), "SIP:1001");
        assert_eq!(escape_agent_id("SIP:1001"), "SIP_3A1001");
        let inputs = [
            "m 1",
            "m_1",
            "mé1",
            "m\u{e8}1",
            "m\u{301}1",
            "m__1",
            "m_201",
        ];
        let escaped: std::collections::BTreeSet<String> =
            inputs.iter().map(|t| escape_id(t)).collect();
        assert_eq!(escaped.len(), inputs.len());
    }

    #[test]
    fn counts_list_every_disposition_and_add_up() {
        let mut a = Accounting::default();
        let line = |n| LineRef {
            file: "f".to_owned(),
            line: n,
        };
        let i = a.push(line(1), Disposition::Imported, String::new());
        a.push(line(2), Disposition::NoCallFact, "DID".to_owned());
        a.set(i, Disposition::UnresolvedAtEnd);
        let counts = a.counts();
        assert_eq!(counts.len(), Disposition::ALL.len());
        assert_eq!(counts[&Disposition::UnresolvedAtEnd], 1);
        assert_eq!(counts[&Disposition::Imported], 0);
        assert_eq!(counts.values().sum::<u64>(), a.rows_read());
    }
}
