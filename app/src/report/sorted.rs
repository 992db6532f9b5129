//! A pretty JSON formatter that writes every object's keys in sorted order as it serializes,
//! so a report prints exactly as its `serde_json::Value` would without building that tree.
//!
//! A report's JSON document has always been its `Value` printed by `to_writer_pretty`: two-space
//! indents and every object's keys sorted, because serde_json's map keeps its keys in order.
//! Serializing the report's structs directly writes the same scalars, strings, arrays and
//! indentation (every byte passes through the `Formatter`), only with each struct's fields in
//! declaration order and an enum's tag first. This formatter therefore writes each object's
//! entries into a buffer, notes where every entry begins and ends, and at the object's end moves
//! the entries into key order in place. Within one object every entry is separated from the next
//! by the same comma, newline and indent, and an entry's nested objects were sorted when they
//! ended, so reordering the entries' bytes gives the document the `Value` would print. Two keys
//! equal in one object (the `Value` would keep only the last) are refused, not printed.
//!
//! Objects opened fewer than `stream_depth` levels deep are written straight through instead,
//! so a document whose outer object is a (sorted) `Value` map and whose long lists hold the
//! structs is never held whole: only one list element at a time is buffered. The keys of such
//! an object must arrive in order, and one that does not is refused.

use std::cmp::Ordering;
use std::io::{self, Write};

use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// The indent `to_writer_pretty` uses.
const INDENT: &[u8] = b"  ";

/// One entry of a buffered object: offsets into the buffer.
#[derive(Clone, Copy)]
struct Entry {
    /// Where the key's opening quote is.
    start: usize,
    /// Just after the key's closing quote.
    key_end: usize,
    /// Just after the value.
    end: usize,
}

/// An open object.
enum Open {
    /// Written straight through; the last key written, to check the next comes after it.
    Streamed { last_key: Option<Vec<u8>> },
    /// Buffered until its end, then put in key order.
    Sorted { entries: Vec<Entry> },
}

/// See the module documentation.
pub(crate) struct SortedPretty {
    stream_depth: usize,
    /// Open arrays and objects, as `PrettyFormatter`'s `current_indent`.
    level: usize,
    /// As `PrettyFormatter`'s: whether the innermost container got a value.
    has_value: bool,
    objects: Vec<Open>,
    /// The bytes of the open sorted objects (and of a streamed object's key being checked).
    buf: Vec<u8>,
    /// Set between a streamed object's `begin_object_key` and `end_object_key`.
    capturing_key: bool,
    /// Reused while reordering one object's entries.
    scratch: Vec<u8>,
    /// Reused entry lists of closed objects (an obligation opens several small objects).
    spare: Vec<Vec<Entry>>,
}

impl SortedPretty {
    /// A formatter writing objects opened fewer than `stream_depth` levels deep straight
    /// through (0: every object is buffered and sorted).
    pub(crate) fn new(stream_depth: usize) -> Self {
        Self {
            stream_depth,
            level: 0,
            has_value: false,
            objects: Vec::new(),
            buf: Vec::new(),
            capturing_key: false,
            scratch: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn buffering(&self) -> bool {
        self.capturing_key || matches!(self.objects.last(), Some(Open::Sorted { .. }))
    }

    /// Where the next bytes go: the buffer while a sorted object (or a checked key) is open.
    fn sink<'a, W: ?Sized + Write>(&'a mut self, writer: &'a mut W) -> Sink<'a, W> {
        if self.buffering() {
            Sink::Buffer(&mut self.buf)
        } else {
            Sink::Out(writer)
        }
    }

    fn newline_and_indent<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        lead: &[u8],
    ) -> io::Result<()> {
        let level = self.level;
        let mut sink = self.sink(writer);
        sink.write_all(lead)?;
        for _ in 0..level {
            sink.write_all(INDENT)?;
        }
        Ok(())
    }

    fn flush_buffer<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// The buffer or the output.
enum Sink<'a, W: ?Sized> {
    Buffer(&'a mut Vec<u8>),
    Out(&'a mut W),
}

impl<W: ?Sized + Write> Write for Sink<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Buffer(buf) => buf.write(bytes),
            Sink::Out(out) => out.write(bytes),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Buffer(buf) => {
                buf.extend_from_slice(bytes);
                Ok(())
            }
            Sink::Out(out) => out.write_all(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Buffer(_) => Ok(()),
            Sink::Out(out) => out.flush(),
        }
    }
}

/// A key as the `Value`'s map orders it: the unescaped string (its UTF-8 bytes order as the
/// string does). `quoted` is the key as written, quotes included.
fn key_text(quoted: &[u8]) -> io::Result<std::borrow::Cow<'_, [u8]>> {
    let inner = quoted
        .get(1..quoted.len().saturating_sub(1))
        .ok_or_else(|| io::Error::other("an object key is not a JSON string"))?;
    if inner.contains(&b'\\') {
        let text: String = serde_json::from_slice(quoted).map_err(io::Error::other)?;
        Ok(std::borrow::Cow::Owned(text.into_bytes()))
    } else {
        Ok(std::borrow::Cow::Borrowed(inner))
    }
}

fn duplicate_key(key: &[u8]) -> io::Error {
    io::Error::other(format!(
        "the key {} appears twice in one object",
        String::from_utf8_lossy(key)
    ))
}

/// Puts the entries of one object (all within `buf`, separated by equal separators) in key
/// order, in place.
fn sort_entries(buf: &mut [u8], entries: &[Entry], scratch: &mut Vec<u8>) -> io::Result<()> {
    let (Some(first), Some(last), Some(second)) = (entries.first(), entries.last(), entries.get(1))
    else {
        return Ok(());
    };
    {
        let mut keyed = Vec::with_capacity(entries.len());
        for entry in entries {
            keyed.push((key_text(&buf[entry.start..entry.key_end])?, *entry));
        }
        if keyed.windows(2).all(|p| p[0].0 < p[1].0) {
            return Ok(());
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = keyed.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(duplicate_key(&pair[0].0));
        }
        // Every separator is the one after the first entry: a comma, a newline and the indent.
        let separator = &buf[first.end..second.start];
        scratch.clear();
        for (i, (_, entry)) in keyed.iter().enumerate() {
            if i > 0 {
                scratch.extend_from_slice(separator);
            }
            scratch.extend_from_slice(&buf[entry.start..entry.end]);
        }
    }
    buf[first.start..last.end].copy_from_slice(scratch);
    Ok(())
}

/// Scalars and strings are written as `CompactFormatter` (and so `PrettyFormatter`) writes
/// them, into the buffer or the output.
macro_rules! delegate {
    ($($name:ident($ty:ty)),* $(,)?) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, writer: &mut W, value: $ty) -> io::Result<()> {
                CompactFormatter.$name(&mut self.sink(writer), value)
            }
        )*
    };
}

impl Formatter for SortedPretty {
    delegate!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
        write_number_str(&str),
        write_string_fragment(&str),
        write_char_escape(CharEscape),
        write_raw_fragment(&str),
    );

    fn write_null<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        CompactFormatter.write_null(&mut self.sink(writer))
    }

    fn begin_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        CompactFormatter.begin_string(&mut self.sink(writer))
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        CompactFormatter.end_string(&mut self.sink(writer))
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        self.sink(writer).write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline_and_indent(writer, b"\n")?;
        }
        self.sink(writer).write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.newline_and_indent(writer, if first { b"\n" } else { b",\n" })
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        // The brace goes where the enclosing content goes; the entries may go to the buffer.
        self.sink(writer).write_all(b"{")?;
        let streamed = self.level < self.stream_depth && !self.buffering();
        self.objects.push(if streamed {
            Open::Streamed { last_key: None }
        } else {
            let mut entries = self.spare.pop().unwrap_or_default();
            entries.clear();
            Open::Sorted { entries }
        });
        self.level += 1;
        self.has_value = false;
        Ok(())
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.level -= 1;
        let open = self
            .objects
            .pop()
            .ok_or_else(|| io::Error::other("an object ended that was not begun"))?;
        match open {
            Open::Sorted { entries } => {
                sort_entries(&mut self.buf, &entries, &mut self.scratch)?;
                self.spare.push(entries);
                // The closing brace belongs to the buffered bytes it ends.
                if self.has_value {
                    let level = self.level;
                    self.buf.push(b'\n');
                    for _ in 0..level {
                        self.buf.extend_from_slice(INDENT);
                    }
                }
                self.buf.push(b'}');
                if !self.buffering() {
                    self.flush_buffer(writer)?;
                }
                Ok(())
            }
            Open::Streamed { .. } => {
                if self.has_value {
                    self.newline_and_indent(writer, b"\n")?;
                }
                self.sink(writer).write_all(b"}")
            }
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.newline_and_indent(writer, if first { b"\n" } else { b",\n" })?;
        let start = self.buf.len();
        match self.objects.last_mut() {
            Some(Open::Sorted { entries }) => entries.push(Entry {
                start,
                key_end: start,
                end: start,
            }),
            Some(Open::Streamed { .. }) => self.capturing_key = true,
            None => return Err(io::Error::other("a key outside an object")),
        }
        Ok(())
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let end = self.buf.len();
        match self.objects.last_mut() {
            Some(Open::Sorted { entries }) => {
                if let Some(entry) = entries.last_mut() {
                    entry.key_end = end;
                }
            }
            Some(Open::Streamed { last_key }) => {
                let key = key_text(&self.buf)?.into_owned();
                if let Some(previous) = last_key {
                    match previous.as_slice().cmp(&key) {
                        Ordering::Less => {}
                        Ordering::Equal => return Err(duplicate_key(&key)),
                        Ordering::Greater => {
                            return Err(io::Error::other(format!(
                                "the key {} of a streamed object comes after {}",
                                String::from_utf8_lossy(&key),
                                String::from_utf8_lossy(previous)
                            )))
                        }
                    }
                }
                *last_key = Some(key);
                self.capturing_key = false;
                self.flush_buffer(writer)?;
            }
            None => return Err(io::Error::other("a key outside an object")),
        }
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.sink(writer).write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        let end = self.buf.len();
        if let Some(Open::Sorted { entries }) = self.objects.last_mut() {
            if let Some(entry) = entries.last_mut() {
                entry.end = end;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case", tag = "kind")]
    enum Tagged {
        Call { call_id: String },
        Coverage { to: u64, from: u64, agents: u64 },
        Client,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Plain {
        Unit,
        Newtype(i64),
        Tuple(u8, String),
        Struct { zulu: bool, alpha: Option<u32> },
    }

    #[derive(Serialize)]
    struct Inner {
        z: Vec<Tagged>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u32>,
        a: Option<String>,
        m: BTreeMap<String, u32>,
    }

    #[derive(Serialize)]
    struct Outer {
        zeta: Inner,
        empty: Vec<u32>,
        nothing: BTreeMap<String, u32>,
        plain: Vec<Plain>,
        #[serde(rename = "Capital")]
        capital: i128,
        bytes: serde_json::Value,
        beta: Vec<Vec<Inner>>,
        alpha: &'static str,
    }

    fn inner(n: u32) -> Inner {
        Inner {
            z: vec![
                Tagged::Coverage {
                    to: 9,
                    from: 1,
                    agents: u64::from(n),
                },
                Tagged::Call {
                    call_id: format!("call \"{n}\"\n\u{1F600}"),
                },
                Tagged::Client,
            ],
            skipped: (n % 2 == 0).then_some(n),
            a: (n % 3 == 0).then(|| "é\\t".to_owned()),
            // Keys with escapes order by their text, not by their escaped bytes.
            m: [
                ("b\"".to_owned(), 1),
                ("b".to_owned(), 2),
                ("a\n".to_owned(), 3),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn outer() -> Outer {
        Outer {
            zeta: inner(3),
            empty: Vec::new(),
            nothing: BTreeMap::new(),
            plain: vec![
                Plain::Unit,
                Plain::Newtype(-7),
                Plain::Tuple(3, "x".to_owned()),
                Plain::Struct {
                    zulu: true,
                    alpha: None,
                },
            ],
            capital: -42,
            bytes: serde_json::json!({"y": [], "x": {}}),
            beta: vec![vec![inner(1), inner(2)], Vec::new(), vec![inner(6)]],
            alpha: "last",
        }
    }

    fn sorted_pretty(value: &impl Serialize, stream_depth: usize) -> io::Result<String> {
        let mut out = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut out, SortedPretty::new(stream_depth));
        value.serialize(&mut serializer).map_err(io::Error::other)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn as_value_pretty(value: &impl Serialize) -> String {
        serde_json::to_string_pretty(&serde_json::to_value(value).unwrap()).unwrap()
    }

    #[test]
    fn structs_print_as_their_value_does() {
        let value = outer();
        let expected = as_value_pretty(&value);
        // The plain pretty printer keeps declaration order: the case is not trivially equal.
        assert_ne!(serde_json::to_string_pretty(&value).unwrap(), expected);
        assert_eq!(sorted_pretty(&value, 0).unwrap(), expected);
        for item in [inner(0), inner(5)] {
            assert_eq!(sorted_pretty(&item, 0).unwrap(), as_value_pretty(&item));
        }
        assert_eq!(sorted_pretty(&Vec::<u8>::new(), 0).unwrap(), "[]");
    }

    #[test]
    fn a_streamed_outer_map_prints_the_same_and_must_come_in_order() {
        let value = serde_json::json!({
            "a": 1,
            "list": serde_json::to_value([inner(1), inner(4)]).unwrap(),
            "z": {"q": []},
        });
        let mut map = BTreeMap::new();
        map.insert("a", serde_json::json!(1));
        map.insert("z", serde_json::json!({"q": []}));
        let list = [inner(1), inner(4)];
        #[derive(Serialize)]
        struct Mixed<'a> {
            a: u32,
            list: &'a [Inner],
            z: &'a serde_json::Value,
        }
        let mixed = Mixed {
            a: 1,
            list: &list,
            z: &map["z"],
        };
        let expected = serde_json::to_string_pretty(&value).unwrap();
        for depth in [0, 1, 2] {
            assert_eq!(sorted_pretty(&mixed, depth).unwrap(), expected, "{depth}");
        }
        // Streaming the list's structs too would print their fields unsorted: refused.
        let err = sorted_pretty(&mixed, 3).unwrap_err();
        assert!(err.to_string().contains("comes after"), "{err}");
        // A streamed object whose keys come out of order is refused, not printed unsorted.
        #[derive(Serialize)]
        struct Backwards {
            b: u32,
            a: u32,
        }
        let err = sorted_pretty(&Backwards { b: 1, a: 2 }, 1).unwrap_err();
        assert!(err.to_string().contains("comes after"), "{err}");
        assert_eq!(
            sorted_pretty(&Backwards { b: 1, a: 2 }, 0).unwrap(),
            "{\n  \"a\": 2,\n  \"b\": 1\n}"
        );
    }

    #[test]
    fn a_key_twice_in_one_object_is_refused() {
        struct Twice(&'static [&'static str]);
        impl Serialize for Twice {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                for key in self.0 {
                    map.serialize_entry(key, &1)?;
                }
                map.end()
            }
        }
        for (keys, depth) in [(&["b", "a", "b"][..], 0), (&["a", "b", "b"][..], 1)] {
            let err = sorted_pretty(&Twice(keys), depth).unwrap_err();
            assert!(err.to_string().contains("appears twice"), "{depth}: {err}");
        }
    }
}
