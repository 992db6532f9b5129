//! Query parameters read strictly: each one is taken by name and parsed, a value that does not
//! parse is refused naming the parameter, and a parameter nobody took is refused too (a typo
//! such as `as_of_postion` must not silently give the head's answer).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use opsledger_app::report::Basis;
use opsledger_projections::YearMonth;

use crate::error::ApiError;

/// A request's query parameters, taken one by one.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a raw query string (`None`: no query).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(raw)?;
        Ok(Self { pairs })
    }

    /// Every value given for `name`, removed.
    pub fn take_all(&mut self, name: &str) -> Vec<String> {
        let (taken, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pairs)
            .into_iter()
            .partition(|(k, _)| k == name);
        self.pairs = rest;
        taken.into_iter().map(|(_, v)| v).collect()
    }

    /// The one value given for `name`, removed; given twice is refused.
    pub fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.take_all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(ApiError::bad(name, "given more than once")),
        }
    }

    /// The value of `name` parsed as `T`, removed.
    pub fn parsed<T>(&mut self, name: &str, expected: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.take(name)?
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| ApiError::bad(name, format!("{v:?} is not {expected} ({e})")))
            })
            .transpose()
    }

    /// An instant in RFC 3339.
    pub fn instant(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.parsed::<DateTime<Utc>>(name, "an RFC 3339 instant")
    }

    /// A month, `YYYY-MM`.
    pub fn month(&mut self, name: &str) -> Result<Option<YearMonth>, ApiError> {
        self.parsed::<YearMonth>(name, "a month YYYY-MM")
    }

    /// The as-of basis every report and dispute view takes, as the CLI's options: at most
    /// one of `as_of_position`, `as_of_recorded`, `as_of_occurred`, and `evaluated_at`.
    pub fn basis(&mut self) -> Result<Basis, ApiError> {
        let basis = Basis {
            as_of_position: self.parsed("as_of_position", "a log position")?,
            as_of_recorded: self.instant("as_of_recorded")?,
            as_of_occurred: self.instant("as_of_occurred")?,
            evaluated_at: self.instant("evaluated_at")?,
        };
        let given = [
            basis.as_of_position.map(|_| "as_of_position"),
            basis.as_of_recorded.map(|_| "as_of_recorded"),
            basis.as_of_occurred.map(|_| "as_of_occurred"),
        ];
        let given: Vec<&str> = given.into_iter().flatten().collect();
        if given.len() > 1 {
            return Err(ApiError::bad(
                given[1],
                format!("give one as-of bound at most (also given: {})", given[0]),
            ));
        }
        Ok(basis)
    }

    /// Refuses whatever parameter was not taken.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.pairs.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::bad(name, "is not a parameter of this route")),
        }
    }
}

/// `a=1&b=x%20y` as pairs, percent- and plus-decoded; a pair that is not UTF-8 is refused.
fn serde_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k).ok_or_else(|| ApiError::bad("(query)", "not percent-encoded UTF-8"))?;
        let v = decode(v).ok_or_else(|| ApiError::bad(k.clone(), "not percent-encoded UTF-8"))?;
        out.push((k, v));
    }
    Ok(out)
}

/// Percent- and plus-decoding of one query component; `None` when it is not UTF-8 or a
/// percent sign is not followed by two hex digits.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_and_an_unknown_parameter_is_named() {
        let mut p = Params::parse(Some(
            "month=2026-10&as_of_recorded=2026-11-01T00%3A00%3A00Z&x=1",
        ))
        .unwrap();
        assert_eq!(p.month("month").unwrap(), YearMonth::new(2026, 10));
        assert!(p.instant("as_of_recorded").unwrap().is_some());
        match p.finish() {
            Err(ApiError::BadParameter { parameter, .. }) => assert_eq!(parameter, "x"),
            other => panic!("expected the unknown parameter refused, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_value_and_two_bounds_are_refused_naming_the_parameter() {
        let mut p = Params::parse(Some("month=October")).unwrap();
        match p.month("month") {
            Err(ApiError::BadParameter { parameter, detail }) => {
                assert_eq!(parameter, "month");
                assert!(detail.contains("October"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let mut p =
            Params::parse(Some("as_of_position=3&as_of_occurred=2026-01-01T00:00:00Z")).unwrap();
        assert!(matches!(p.basis(), Err(ApiError::BadParameter { .. })));
        assert_eq!(decode("a%2"), None);
        assert_eq!(decode("a+b%41").as_deref(), Some("a bA"));
    }
}
