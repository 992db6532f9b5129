//! Rendering reports for people and for jobs: terminal tables, JSON and CSV from any
//! serializable report, by flattening it into dotted paths.
//!
//! Reports are plain data; flattening keeps the table and CSV forms in step with the JSON form
//! without a hand-written renderer per report that would drift from the structs.

use std::io::Write;

use clap::ValueEnum;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;
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

/// Flattens a JSON value into `(path, scalar)` pairs; arrays of objects are left to
/// [`sections`].
pub fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            out.push((
                prefix.to_owned(),
                format!("{} rows (see below)", items.len()),
            ));
        }
        Value::Array(items) => {
            let text: Vec<String> = items.iter().map(scalar).collect();
            out.push((prefix.to_owned(), text.join(", ")));
        }
        other => out.push((prefix.to_owned(), scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => value.to_string(),
        other => other.to_string(),
    }
}

/// The arrays of objects in a report (the obligations, the invoices, …), by path.
fn sections(prefix: &str, value: &Value, out: &mut Vec<(String, Vec<Value>)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                sections(&path, v, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            out.push((prefix.to_owned(), items.clone()));
        }
        _ => {}
    }
}

/// The rows of a section: one per item, columns the union of the items' flattened paths in
/// first-seen order.
fn section_rows(items: &[Value]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut columns: Vec<String> = Vec::new();
    let mut flat_rows = Vec::with_capacity(items.len());
    for item in items {
        let mut pairs = Vec::new();
        flatten("", item, &mut pairs);
        for (k, _) in &pairs {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        flat_rows.push(pairs);
    }
    let rows = flat_rows
        .into_iter()
        .map(|pairs| {
            columns
                .iter()
                .map(|c| {
                    pairs
                        .iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    (columns, rows)
}

/// Writes `report` in `format` (HTML is rendered elsewhere; here it falls back to JSON).
pub fn write<T: Serialize>(report: &T, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let value = serde_json::to_value(report)?;
    match format {
        Format::Json | Format::Html => {
            serde_json::to_writer_pretty(&mut *out, &value)?;
            writeln!(out)?;
        }
        Format::Table => {
            let mut pairs = Vec::new();
            flatten("", &value, &mut pairs);
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(vec!["figure", "value"]);
            for (k, v) in pairs {
                table.add_row(vec![k, v]);
            }
            writeln!(out, "{table}")?;
            let mut found = Vec::new();
            sections("", &value, &mut found);
            for (name, items) in found {
                let (columns, rows) = section_rows(&items);
                let mut table = Table::new();
                table
                    .load_preset(UTF8_FULL_CONDENSED)
                    .set_content_arrangement(ContentArrangement::Dynamic)
                    .set_header(columns);
                for row in rows {
                    table.add_row(row);
                }
                writeln!(out, "\n{name} ({} rows)\n{table}", items.len())?;
            }
        }
        Format::Csv => {
            // One CSV document: the main section (the longest list) if there is one, so a job
            // gets one row per obligation/invoice/record; otherwise the figures as key,value.
            let mut found = Vec::new();
            sections("", &value, &mut found);
            let main = found.into_iter().max_by_key(|(_, items)| items.len());
            let mut csv = csv::Writer::from_writer(&mut *out);
            match main {
                Some((section, items)) => {
                    let (columns, rows) = section_rows(&items);
                    let mut header = vec!["section".to_owned()];
                    header.extend(columns);
                    csv.write_record(&header)?;
                    for row in rows {
                        let mut record = vec![section.clone()];
                        record.extend(row);
                        csv.write_record(&record)?;
                    }
                }
                None => {
                    let mut pairs = Vec::new();
                    flatten("", &value, &mut pairs);
                    csv.write_record(["figure", "value"])?;
                    for (k, v) in pairs {
                        csv.write_record([k, v])?;
                    }
                }
            }
            csv.flush()?;
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
    fn flattening_names_every_scalar_by_its_path() {
        let mut out = Vec::new();
        flatten(
            "",
            &json!({"calls": {"offered": 33, "answered": 3}, "as_of": {"basis": "head"}, "tags": ["a", "b"], "items": [{"x": 1}]}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                ("as_of.basis".to_owned(), "head".to_owned()),
                ("calls.answered".to_owned(), "3".to_owned()),
                ("calls.offered".to_owned(), "33".to_owned()),
                ("items".to_owned(), "1 rows (see below)".to_owned()),
                ("tags".to_owned(), "a, b".to_owned()),
            ]
        );
    }

    #[test]
    fn csv_takes_the_longest_list_one_row_per_item() {
        let report = json!({"client": "acme", "invoices": [{"id": "i1", "due": {"amount": 5}}, {"id": "i2", "paid": true}], "notes": [{"n": 1}]});
        let mut out = Vec::new();
        write(&report, Format::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "section,due.amount,id,paid\ninvoices,5,i1,\ninvoices,,i2,true\n"
        );
    }
}
