//! Canonical JSON text for event data: the exact bytes the store hashes and keeps.
//!
//! Object keys are sorted by their UTF-8 bytes, there is no insignificant whitespace, strings
//! use serde_json's minimal escaping and numbers its shortest round-trip form. Writing the
//! keys in order here (instead of trusting `serde_json::Map` to be a `BTreeMap`) keeps the
//! format stable even if a dependency turns on serde_json's `preserve_order` feature.
//!
//! A number is kept only when its text is exact: an integer within i64/u64, or a float whose
//! magnitude is below 2^53. serde_json reads an integer beyond the 64-bit range as the nearest
//! float, so such a number would otherwise be recorded, and hashed, as a value nobody wrote.
//! [`parse_strict`] reads JSON text for the store and also refuses an object with a key twice,
//! where serde_json silently keeps the last.

use std::fmt::Write;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Magnitude from which an `f64` no longer holds every integer exactly (2^53).
const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Why data could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("data nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("the number at {path} cannot be kept exactly (an integer beyond the 64-bit range, or a float of magnitude 2^53 or more); send it as a string")]
    InexactNumber { path: String },
    #[error("the key {key:?} appears twice in the object at {path}")]
    DuplicateKey { path: String, key: String },
    #[error("not valid JSON: {detail}")]
    Syntax { detail: String },
}

/// One step of the path to a value, for naming it in an error.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path as `$.a.b[2]`.
fn render_path(path: &[Step<'_>]) -> String {
    let mut out = String::from("$");
    for step in path {
        match step {
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => write!(out, "[{i}]").expect("writing to a String cannot fail"),
        }
    }
    out
}

/// True when the number's value is the one its text named: every i64/u64, and floats below
/// 2^53 in magnitude.
fn is_exact(n: &Number) -> bool {
    if n.is_i64() || n.is_u64() {
        return true;
    }
    n.as_f64().is_some_and(|f| f.abs() < EXACT_FLOAT_LIMIT)
}

/// Writes `value` as canonical JSON text, refusing nesting deeper than `max_depth`.
pub fn to_canonical_string(
    value: &serde_json::Value,
    max_depth: usize,
) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    let mut path = Vec::new();
    write_value(&mut out, value, &mut path, max_depth)?;
    Ok(out)
}

fn write_value<'v>(
    out: &mut String,
    value: &'v Value,
    path: &mut Vec<Step<'v>>,
    max_depth: usize,
) -> Result<(), CanonicalError> {
    let depth = path.len();
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if !is_exact(n) {
                return Err(CanonicalError::InexactNumber {
                    path: render_path(path),
                });
            }
            write!(out, "{n}").expect("writing to a String cannot fail");
        }
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
                path.push(Step::Index(i));
                write_value(out, item, path, max_depth)?;
                path.pop();
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= max_depth {
                return Err(CanonicalError::TooDeep { limit: max_depth });
            }
            let mut entries: Vec<(&'v String, &'v Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                path.push(Step::Key(key));
                write_value(out, item, path, max_depth)?;
                path.pop();
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Parses JSON text as the store accepts it: like `serde_json::from_str`, but an object that
/// names a key twice is refused (naming the key and where), and so is a number that cannot be
/// kept exactly ([`CanonicalError::InexactNumber`]). Callers that read raw input (an NDJSON
/// append line, an import) use this before handing the value to the store.
pub fn parse_strict(text: &str) -> Result<Value, CanonicalError> {
    let mut found: Option<CanonicalError> = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = StrictSeed {
        path: Vec::new(),
        found: &mut found,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, found) {
        (_, Some(problem)) => Err(problem),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(CanonicalError::Syntax {
            detail: e.to_string(),
        }),
    }
}

/// Deserializes a value strictly; anything objectionable is recorded in `found` (with its
/// path) and aborts the parse.
pub(crate) fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let mut found = None;
    let value = StrictSeed {
        path: Vec::new(),
        found: &mut found,
    }
    .deserialize(d);
    match found {
        Some(problem) => Err(D::Error::custom(problem)),
        None => value,
    }
}

/// The path so far, as owned text: keys borrowed from the input may not outlive one entry.
struct StrictSeed<'f> {
    path: Vec<String>,
    found: &'f mut Option<CanonicalError>,
}

impl StrictSeed<'_> {
    fn path_text(&self) -> String {
        let mut out = String::from("$");
        for step in &self.path {
            out.push_str(step);
        }
        out
    }

    fn fail<E: serde::de::Error>(&mut self, problem: CanonicalError) -> E {
        let message = problem.to_string();
        *self.found = Some(problem);
        E::custom(message)
    }

    fn child(&mut self, step: String) -> StrictSeed<'_> {
        let mut path = self.path.clone();
        path.push(step);
        StrictSeed {
            path,
            found: &mut *self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(mut self, v: f64) -> Result<Value, E> {
        // serde_json hands an integer beyond the 64-bit range over as a float: refuse it
        // rather than keep a value nobody wrote.
        match Number::from_f64(v).filter(is_exact) {
            Some(n) => Ok(Value::Number(n)),
            None => {
                let path = self.path_text();
                Err(self.fail(CanonicalError::InexactNumber { path }))
            }
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = self.child(format!("[{}]", items.len()));
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let path = self.path_text();
                return Err(self.fail(CanonicalError::DuplicateKey { path, key }));
            }
            let value = map.next_value_seed(self.child(format!(".{key}")))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
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
    fn numbers_that_cannot_be_kept_exactly_are_refused_with_their_path() {
        // What serde_json makes of an integer past u64::MAX: the nearest float.
        let overflowed: Value =
            serde_json::from_str(r#"{"a":{"b":[1,123456789012345678901234567890]}}"#).unwrap();
        assert_eq!(
            to_canonical_string(&overflowed, 8),
            Err(CanonicalError::InexactNumber {
                path: "$.a.b[1]".into()
            })
        );
        for exact in [
            json!({"n": i64::MIN, "m": u64::MAX, "f": 2.5, "g": -9_007_199_254_740_991.0}),
            json!({"small": 1e-300}),
        ] {
            assert!(to_canonical_string(&exact, 8).is_ok(), "{exact}");
        }
        assert!(to_canonical_string(&json!({"big": 1e300}), 8).is_err());
    }

    #[test]
    fn strict_parsing_refuses_repeated_keys_and_overflowed_integers() {
        assert_eq!(
            parse_strict(r#"{"a":1,"b":{"c":1,"c":2}}"#),
            Err(CanonicalError::DuplicateKey {
                path: "$.b".into(),
                key: "c".into()
            })
        );
        // An escape spelling the same key is the same key.
        assert!(matches!(
            parse_strict(r#"{"a":1,"\u0061":2}"#),
            Err(CanonicalError::DuplicateKey { .. })
        ));
        assert_eq!(
            parse_strict(r#"{"x":[0,{"n":18446744073709551616}]}"#),
            Err(CanonicalError::InexactNumber {
                path: "$.x[1].n".into()
            })
        );
        assert_eq!(
            parse_strict(r#"{"n":-9223372036854775809}"#),
            Err(CanonicalError::InexactNumber { path: "$.n".into() })
        );
        assert!(matches!(
            parse_strict(r#"{"a":1} x"#),
            Err(CanonicalError::Syntax { .. })
        ));
        let text = r#"{"b":[1,-2,2.5,"s",null,true],"a":{"m":18446744073709551615}}"#;
        assert_eq!(
            parse_strict(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
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
