//! Canonical JSON text for event data: the exact bytes the store hashes and keeps.
//!
//! Object keys are sorted by their UTF-8 bytes, there is no insignificant whitespace, strings
//! use serde_json's minimal escaping and numbers its shortest round-trip form. Writing the
//! keys in order here (instead of trusting `serde_json::Map` to be a `BTreeMap`) keeps the
//! format stable even if a dependency turns on serde_json's `preserve_order` feature.

use std::fmt::Write;

/// Why data could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("data nests deeper than {limit} levels")]
    TooDeep { limit: usize },
}

/// Writes `value` as canonical JSON text, refusing nesting deeper than `max_depth`.
pub fn to_canonical_string(
    value: &serde_json::Value,
    max_depth: usize,
) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, 0, max_depth)?;
    Ok(out)
}

fn write_value(
    out: &mut String,
    value: &serde_json::Value,
    depth: usize,
    max_depth: usize,
) -> Result<(), CanonicalError> {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write!(out, "{n}").expect("writing to a String cannot fail"),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= max_depth {
                return Err(CanonicalError::TooDeep { limit: max_depth });
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, depth + 1, max_depth)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= max_depth {
                return Err(CanonicalError::TooDeep { limit: max_depth });
            }
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item, depth + 1, max_depth)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    // serde_json's string escaping is the canonical one we pin with the golden vector below.
    out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn golden_vector() {
        let v = json!({"z": 1, "a": {"y": [1, 2.5, "x\"\n\u{1}é"], "b": null}, "m": false});
        assert_eq!(
            to_canonical_string(&v, 8).unwrap(),
            r#"{"a":{"b":null,"y":[1,2.5,"x\"\n\u0001é"]},"m":false,"z":1}"#
        );
    }

    #[test]
    fn depth_is_limited() {
        let mut v = json!(1);
        for _ in 0..10 {
            v = json!([v]);
        }
        assert_eq!(
            to_canonical_string(&v, 5),
            Err(CanonicalError::TooDeep { limit: 5 })
        );
        assert!(to_canonical_string(&v, 10).is_ok());
    }

    #[test]
    fn canonical_text_reparses_to_the_same_value() {
        let v = json!({"k": [1, {"b": 2, "a": 1}], "u": "ünï"});
        let text = to_canonical_string(&v, 8).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(to_canonical_string(&back, 8).unwrap(), text);
    }
}
