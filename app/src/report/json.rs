//! A computed report as the pretty JSON document `report … --format json` prints, written
//! without building the whole document as one `serde_json::Value` first.
//!
//! The document has always been the report's `Value` with its provenance, printed by
//! `serde_json::to_writer_pretty`: object keys sorted (serde_json's map is ordered by key),
//! two-space indents. A month's obligation report holds tens of thousands of obligations, and
//! holding them as one `Value` tree (and dropping it) cost most of the command's time and
//! memory; so did one `Value` per obligation. So the obligations are taken out of the report,
//! the rest becomes a small `Value`, and the list is spliced back in at its key while writing,
//! each obligation serialized straight from its struct by a formatter that puts every object's
//! keys in order (`sorted.rs`): the same bytes, with no tree built.

use std::io::Write;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::sorted::SortedPretty;
use super::{with_provenance, Computed, Provenance};
use crate::error::AppResult;

/// The key of the obligation report's list of obligations.
const OBLIGATIONS: &str = "obligations";
/// The keys of the retention report's lists of records.
const RECORDS: &str = "records";
const DELETIONS_DUE: &str = "deletions_due";

/// Writes `report` with its provenance under `"provenance"` as pretty JSON and a newline:
/// byte for byte what `to_writer_pretty` prints for `with_provenance(report.to_value())`.
pub fn write_pretty(
    report: Computed,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> AppResult<()> {
    match report {
        Computed::Obligations(mut obligations) => {
            let list = std::mem::take(&mut obligations.obligations);
            let head = with_provenance(serde_json::to_value(&obligations)?, provenance)?;
            write_spliced(&head, &[(OBLIGATIONS, &list)], out)?;
        }
        Computed::Retention(mut retention) => {
            let records = std::mem::take(&mut retention.records);
            let due = std::mem::take(&mut retention.deletions_due);
            let head = with_provenance(serde_json::to_value(&retention)?, provenance)?;
            write_spliced(&head, &[(RECORDS, &records), (DELETIONS_DUE, &due)], out)?;
        }
        Computed::Sla(sla) => write_whole(&*sla, provenance, out)?,
        Computed::Billing(billing) => write_whole(&billing, provenance, out)?,
    }
    writeln!(out).map_err(|source| crate::error::AppError::Io {
        context: "writing the report".to_owned(),
        source,
    })?;
    Ok(())
}

/// Writes `head` (a report's object without its long lists) with each list spliced in at its
/// key. The outer object is the head's map, already in key order, so it is written as it comes
/// and never held whole; each list element is buffered and sorted on its own.
fn write_spliced<T: Serialize>(
    head: &Value,
    lists: &[(&'static str, &[T])],
    out: &mut dyn Write,
) -> AppResult<()> {
    let Value::Object(head) = head else {
        unreachable!("a report serializes as a JSON object")
    };
    let spliced = Spliced { head, lists };
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, SortedPretty::new(1));
    spliced.serialize(&mut serializer)?;
    Ok(())
}

/// Writes a report of modest size whole, sorted as it is serialized (no `Value` tree).
fn write_whole<T: Serialize>(
    report: &T,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> AppResult<()> {
    let document = WithProvenance { report, provenance };
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, SortedPretty::new(0));
    document.serialize(&mut serializer)?;
    Ok(())
}

/// A report's fields and `"provenance"` in one object, as `with_provenance` makes it.
#[derive(Serialize)]
struct WithProvenance<'a, T> {
    #[serde(flatten)]
    report: &'a T,
    provenance: &'a Provenance,
}

/// An object whose entries named in `lists` (present in `head`, empty) are written as the
/// lists' items.
struct Spliced<'a, T> {
    head: &'a Map<String, Value>,
    lists: &'a [(&'static str, &'a [T])],
}

impl<T: Serialize> Serialize for Spliced<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `Value::Object` serializes as exactly this: a map of its length, entries in key order.
        let mut map = serializer.serialize_map(Some(self.head.len()))?;
        for (k, v) in self.head {
            match self.lists.iter().find(|(key, _)| *key == k.as_str()) {
                Some((_, items)) => map.serialize_entry(k, &Each(items))?,
                None => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// A list written element by element (a `Value` array serializes as exactly this).
struct Each<'a, T>(&'a [T]);

impl<T: Serialize> Serialize for Each<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Item {
        zeta: u32,
        alpha: Vec<&'static str>,
    }

    fn pretty(value: &impl Serialize) -> String {
        String::from_utf8(serde_json::to_vec_pretty(value).unwrap()).unwrap()
    }

    fn spliced_pretty(spliced: &Spliced<'_, Item>) -> String {
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, SortedPretty::new(1));
        spliced.serialize(&mut serializer).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_spliced_list_prints_as_the_whole_value_does() {
        let items = vec![
            Item {
                zeta: 1,
                alpha: vec!["a", "b"],
            },
            Item {
                zeta: 2,
                alpha: Vec::new(),
            },
        ];
        let whole = serde_json::json!({
            "b": {"y": 1, "x": [1, 2]},
            "list": serde_json::to_value(&items).unwrap(),
            "a": "first",
            "z": [],
        });
        let mut head = whole.as_object().unwrap().clone();
        head.insert("list".to_owned(), Value::Array(Vec::new()));
        let spliced = Spliced {
            head: &head,
            lists: &[("list", &items)],
        };
        assert_eq!(spliced_pretty(&spliced), pretty(&whole));
        // An empty list prints as the empty array it replaces.
        let none: Vec<Item> = Vec::new();
        let empty = Spliced {
            head: &head,
            lists: &[("list", &none)],
        };
        let mut expected = whole.as_object().unwrap().clone();
        expected.insert("list".to_owned(), Value::Array(Vec::new()));
        assert_eq!(spliced_pretty(&empty), pretty(&Value::Object(expected)));
    }
}
