//! A computed report as the pretty JSON document `report … --format json` prints, written
//! without building the whole document as one `serde_json::Value` first.
//!
//! The document has always been the report's `Value` with its provenance, printed by
//! `serde_json::to_writer_pretty`: object keys sorted (serde_json's map is ordered by key),
//! two-space indents. A month's obligation report holds tens of thousands of obligations, and
//! holding them as one `Value` tree (and dropping it) cost most of the command's time and
//! memory. So the obligations are taken out of the report, the rest becomes a small `Value`,
//! and the list is spliced back in at its key while writing, one obligation's `Value` at a
//! time: the same serializer calls in the same order, so the same bytes.

use std::io::Write;

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::{with_provenance, Computed, Provenance};
use crate::error::AppResult;

/// The key of the obligation report's list of obligations.
const OBLIGATIONS: &str = "obligations";

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
            let Value::Object(head) = head else {
                unreachable!("an obligation report serializes as a JSON object")
            };
            let spliced = Spliced {
                head: &head,
                key: OBLIGATIONS,
                items: &list,
            };
            serde_json::to_writer_pretty(&mut *out, &spliced)?;
        }
        other => {
            let value = with_provenance(other.to_value()?, provenance)?;
            serde_json::to_writer_pretty(&mut *out, &value)?;
        }
    }
    writeln!(out).map_err(|source| crate::error::AppError::Io {
        context: "writing the report".to_owned(),
        source,
    })?;
    Ok(())
}

/// An object whose entry `key` (present in `head`, empty) is written as `items`.
struct Spliced<'a, T> {
    head: &'a Map<String, Value>,
    key: &'static str,
    items: &'a [T],
}

impl<T: Serialize> Serialize for Spliced<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `Value::Object` serializes as exactly this: a map of its length, entries in key order.
        let mut map = serializer.serialize_map(Some(self.head.len()))?;
        for (k, v) in self.head {
            if k == self.key {
                map.serialize_entry(k, &Each(self.items))?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// A list written one element's `Value` at a time, so its keys come out sorted as in the
/// whole document's `Value`.
struct Each<'a, T>(&'a [T]);

impl<T: Serialize> Serialize for Each<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            let value = serde_json::to_value(item).map_err(S::Error::custom)?;
            seq.serialize_element(&value)?;
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
            key: "list",
            items: &items,
        };
        assert_eq!(pretty(&spliced), pretty(&whole));
        // An empty list prints as the empty array it replaces.
        let none: Vec<Item> = Vec::new();
        let empty = Spliced {
            head: &head,
            key: "list",
            items: &none,
        };
        let mut expected = whole.as_object().unwrap().clone();
        expected.insert("list".to_owned(), Value::Array(Vec::new()));
        assert_eq!(pretty(&empty), pretty(&Value::Object(expected)));
    }
}
