//! Rendering reports for people and for jobs: JSON (the full model), tidy CSV sections and
//! generic tables from any serializable report, and the small text helpers every table uses.
//!
//! Reports are plain data; deriving the sections from the JSON keeps the CSV form in step with
//! it without a hand-written renderer per report that would drift from the structs. A section
//! is one list or keyed map of the report, one row per record, so no cell ever stands for rows
//! printed elsewhere.

use std::io::Write;

use clap::ValueEnum;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde_json::Value;

/// Output formats of reports and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Html,
}

/// The widest a table cell is printed, in characters; longer text is cut with a marker
/// (the JSON and CSV forms keep it whole).
pub const CELL_CHARS: usize = 60;

/// `text` cut to `max_chars` characters, ending in `…` when something was left out, so a
/// table stays readable and the reader knows the cell is not all there is.
pub fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// An instant in UTC, to the second, with the zone named.
pub fn utc_time(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{} UTC", at.format("%Y-%m-%d %H:%M:%S"))
}

/// The word for `n` things: `one` for exactly one, `many` otherwise ("0 clients").
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `n` and its word: "1 client", "2 clients".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", plural(n, one, many))
}

/// One table of a report's tidy form: the report's own figures (one row), or a list or keyed
/// map inside it (one row per item). Rows of a nested list name their parent's `row`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The path of the list in the report (`obligations`, `obligations.evidence`), or
    /// `report` for the report's own figures.
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A scalar as a cell: text as is, numbers and booleans as JSON writes them, null empty,
/// and lists of scalars as their JSON text so nothing is lost (`["en","es"]`).
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether an object is a map keyed by data (rule ids, queue names) rather than a record:
/// every value an object, all of much the same shape. Fields a model leaves out when empty
/// (a tally's `no_data` or `chain_exhausted`) make shapes differ a little, so the test is that
/// the fields every value has are at least half of all the fields met; the section's columns
/// are the union, and a missing field is an empty cell.
fn is_keyed_map(map: &serde_json::Map<String, Value>) -> bool {
    let mut shared: Option<std::collections::BTreeSet<&String>> = None;
    let mut all = std::collections::BTreeSet::new();
    for value in map.values() {
        let Some(object) = value.as_object() else {
            return false;
        };
        let keys: std::collections::BTreeSet<&String> = object.keys().collect();
        all.extend(keys.iter().copied());
        shared = Some(match shared {
            None => keys,
            Some(before) => before.intersection(&keys).copied().collect(),
        });
    }
    shared.is_some_and(|shared| !shared.is_empty() && shared.len() * 2 >= all.len())
}

/// Builds sections from a report: every list of records and every keyed map becomes its own
/// section, wherever it sits; everything else is a column of the record that holds it.
struct Tidy {
    sections: Vec<(String, Vec<Record>)>,
}

/// One record's cells as (column, text), in the order met.
type Record = Vec<(String, String)>;

impl Tidy {
    fn section(&mut self, name: &str) -> usize {
        match self.sections.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.sections.push((name.to_owned(), Vec::new()));
                self.sections.len() - 1
            }
        }
    }

    /// Adds one record to section `name` and returns its row number there.
    fn record(&mut self, name: &str, lead: Vec<(String, String)>, value: &Value) -> usize {
        let slot = self.section(name);
        let row = self.sections[slot].1.len();
        self.sections[slot].1.push(Vec::new());
        let mut cells = lead;
        if name != "report" {
            cells.insert(0, ("row".to_owned(), row.to_string()));
        }
        self.fields(name, row, "", value, &mut cells);
        self.sections[slot].1[row] = cells;
        row
    }

    fn fields(
        &mut self,
        section: &str,
        row: usize,
        prefix: &str,
        value: &Value,
        cells: &mut Vec<(String, String)>,
    ) {
        let child = |key: &str| {
            if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            }
        };
        let nested = |path: &str| {
            if section == "report" {
                path.to_owned()
            } else {
                format!("{section}.{path}")
            }
        };
        match value {
            Value::Object(map) if !prefix.is_empty() && !map.is_empty() && is_keyed_map(map) => {
                let name = nested(prefix);
                for (key, item) in map {
                    let mut lead = vec![("key".to_owned(), key.clone())];
                    if section != "report" {
                        lead.insert(0, ("parent_row".to_owned(), row.to_string()));
                    }
                    self.record(&name, lead, item);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.fields(section, row, &child(k), v, cells);
                }
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                let name = nested(prefix);
                for item in items {
                    let lead = if section == "report" {
                        Vec::new()
                    } else {
                        vec![("parent_row".to_owned(), row.to_string())]
                    };
                    self.record(&name, lead, item);
                }
            }
            Value::Array(_) => cells.push((prefix.to_owned(), value.to_string())),
            other => cells.push((prefix.to_owned(), cell(other))),
        }
    }
}

/// A report in tidy form: the `report` section first (its figures, one row), then one section
/// per list or keyed map in the order met. Every scalar of the report is in exactly one cell.
pub fn sections(report: &Value) -> Vec<Section> {
    let mut tidy = Tidy {
        sections: Vec::new(),
    };
    tidy.record("report", Vec::new(), report);
    tidy.sections
        .into_iter()
        .map(|(name, rows)| {
            let mut columns: Vec<String> = Vec::new();
            for row in &rows {
                for (k, _) in row {
                    if !columns.contains(k) {
                        columns.push(k.clone());
                    }
                }
            }
            let rows = rows
                .into_iter()
                .map(|row| {
                    columns
                        .iter()
                        .map(|c| {
                            row.iter()
                                .find(|(k, _)| k == c)
                                .map(|(_, v)| v.clone())
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .collect();
            Section {
                name,
                columns,
                rows,
            }
        })
        .collect()
}

/// Writes one section as a CSV document.
pub fn write_csv(section: &Section, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(&section.columns)?;
    for row in &section.rows {
        csv.write_record(row)?;
    }
    csv.flush()?;
    Ok(())
}

/// Writes `report` as JSON (the full model) or as tables, one per section, long cells cut.
/// CSV goes through [`sections`] and [`write_csv`], one document per section.
pub fn write(value: &Value, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json | Format::Html | Format::Csv => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)?;
        }
        Format::Table => {
            for section in sections(value) {
                if section.name == "report" {
                    // The report's own figures read down, one per line.
                    let mut table = Table::new();
                    table
                        .load_preset(UTF8_FULL_CONDENSED)
                        .set_content_arrangement(ContentArrangement::Dynamic)
                        .set_header(vec!["figure", "value"]);
                    for (k, v) in section.columns.iter().zip(section.rows.iter().flatten()) {
                        table.add_row(vec![k.clone(), cut(v, CELL_CHARS)]);
                    }
                    writeln!(out, "{table}")?;
                    continue;
                }
                let mut table = Table::new();
                table
                    .load_preset(UTF8_FULL_CONDENSED)
                    .set_content_arrangement(ContentArrangement::Dynamic)
                    .set_header(section.columns.clone());
                for row in &section.rows {
                    table.add_row(row.iter().map(|c| cut(c, CELL_CHARS)).collect::<Vec<_>>());
                }
                let n = u64::try_from(section.rows.len()).unwrap_or(u64::MAX);
                writeln!(
                    out,
                    "\n{} ({})\n{table}",
                    section.name,
                    count(n, "row", "rows")
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_cells_are_cut_with_a_marker_and_counts_take_the_right_word() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdefghijkl", 5), "abcd…");
        assert_eq!(cut("ééééé", 5), "ééééé");
        assert_eq!(count(1, "client", "clients"), "1 client");
        assert_eq!(count(0, "client", "clients"), "0 clients");
        assert_eq!(count(2, "miss", "misses"), "2 misses");
    }

    #[test]
    fn a_keyed_map_whose_values_leave_out_an_empty_field_is_still_a_section() {
        // A tally leaves `no_data` out when zero, so rule tallies differ in one field.
        let report = json!({
            "client": "acme",
            "rules": {
                "R-A": {"met": 1, "missed": 0},
                "R-B": {"met": 0, "missed": 1, "no_data": 2}
            }
        });
        let found = sections(&report);
        let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["report", "rules"]);
        assert_eq!(found[1].columns, ["row", "key", "met", "missed", "no_data"]);
        assert_eq!(
            found[1].rows,
            [["0", "R-A", "1", "0", ""], ["1", "R-B", "0", "1", "2"]]
        );
    }

    #[test]
    fn every_list_and_keyed_map_is_its_own_section_and_nothing_is_lost() {
        let report = json!({
            "client": "acme",
            "balance": {"amount_minor": 5, "currency": "USD"},
            "tags": ["a", "b"],
            "notices": [],
            "invoices": [
                {"id": "i1", "evidence": [{"position": 1}, {"position": 2}]},
                {"id": "i2", "paid": true, "evidence": [{"position": 3}]}
            ],
            "rules": {"R-A": {"met": 1}, "R-B": {"met": 0}}
        });
        let found = sections(&report);
        let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["report", "invoices", "invoices.evidence", "rules"]);
        assert_eq!(
            found[0].columns,
            [
                "balance.amount_minor",
                "balance.currency",
                "client",
                "notices",
                "tags"
            ]
        );
        assert_eq!(found[0].rows, [["5", "USD", "acme", "[]", r#"["a","b"]"#]]);
        assert_eq!(found[1].columns, ["row", "id", "paid"]);
        assert_eq!(found[1].rows, [["0", "i1", ""], ["1", "i2", "true"]]);
        assert_eq!(found[2].columns, ["row", "parent_row", "position"]);
        assert_eq!(
            found[2].rows,
            [["0", "0", "1"], ["1", "0", "2"], ["2", "1", "3"]]
        );
        assert_eq!(found[3].columns, ["row", "key", "met"]);
        assert_eq!(found[3].rows, [["0", "R-A", "1"], ["1", "R-B", "0"]]);
        let mut out = Vec::new();
        write_csv(&found[2], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "row,parent_row,position\n0,0,1\n1,0,2\n2,1,3\n"
        );
        let mut out = Vec::new();
        write(&report, Format::Table, &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(!table.contains("see below"), "{table}");
        assert!(table.contains("invoices.evidence (3 rows)"), "{table}");
    }
}
