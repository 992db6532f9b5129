//! Reading `events` rows as binary `COPY … TO STDOUT` output, parsed by hand from the received
//! bytes: whole-log reads and `verify` decode envelopes or hash chain entries without a
//! per-column type lookup, and `verify` hashes the stored bytes without copying them.
//!
//! The binary format (PostgreSQL manual, "COPY", "Binary Format"): an 11-byte signature, a
//! 32-bit flags field and a 32-bit header-extension length followed by that many bytes; then per
//! row a 16-bit field count and, per field, a 32-bit byte length (-1 for NULL) and the value in
//! its type's binary send form; then a 16-bit -1 as trailer. Every field is read in the order
//! and with the types of [`EVENT_COLUMNS`], which the migrations fix.

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use futures_util::{pin_mut, TryStreamExt};
use uuid::Uuid;

use crate::envelope::{Metadata, RecordedEvent, StreamId};
use crate::error::{Result, StoreError};
use crate::hash::{view_digest, ChainEntry, EventView, Hash};

use super::pg_error;
use super::rows::EVENT_COLUMNS;

/// Columns of [`EVENT_COLUMNS`], in order.
const FIELDS: usize = 16;
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 00:00 UTC, in which
/// binary timestamps count.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// One row's fields as received: `None` for NULL.
type Fields<'a> = [Option<&'a [u8]>; FIELDS];

/// A binary `COPY` stream cut into rows, whatever the boundaries of the messages carrying it.
#[derive(Debug, Default)]
struct RowSplitter {
    header_read: bool,
    finished: bool,
    /// The start of a row (or of the header) whose end has not arrived yet.
    pending: BytesMut,
}

impl RowSplitter {
    /// Hands every complete row of `chunk` (after what is pending) to `row`, keeping an
    /// incomplete tail for the next chunk.
    fn feed(
        &mut self,
        chunk: &Bytes,
        row: &mut impl FnMut(&Fields<'_>) -> Result<()>,
    ) -> Result<()> {
        if self.pending.is_empty() {
            // Each row usually arrives in a message of its own: parse it in place.
            let used = self.split(chunk, row)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let pending = std::mem::take(&mut self.pending);
            let used = self.split(&pending, row)?;
            self.pending.extend_from_slice(&pending[used..]);
        }
        Ok(())
    }

    /// Parses the header and rows at the start of `bytes`; returns how many bytes it used.
    fn split(
        &mut self,
        bytes: &[u8],
        row: &mut impl FnMut(&Fields<'_>) -> Result<()>,
    ) -> Result<usize> {
        let mut at = 0;
        if !self.header_read {
            let fixed = SIGNATURE.len() + 8;
            let Some(head) = bytes.get(..fixed) else {
                return Ok(0);
            };
            if &head[..SIGNATURE.len()] != SIGNATURE {
                return Err(malformed("the binary COPY signature is missing"));
            }
            let extension = be_u32(&head[fixed - 4..]);
            let extension = usize::try_from(extension).expect("u32 fits in usize");
            if bytes.len() < fixed + extension {
                return Ok(0);
            }
            at = fixed + extension;
            self.header_read = true;
        }
        let mut fields: Fields<'_> = [None; FIELDS];
        while !self.finished {
            match parse_row(&bytes[at..], &mut fields)? {
                Parsed::Incomplete => break,
                Parsed::Trailer => {
                    at += 2;
                    self.finished = true;
                }
                Parsed::Row(len) => {
                    row(&fields)?;
                    at += len;
                }
            }
        }
        Ok(at)
    }

    /// Checks the stream ended where the format says it does.
    fn finish(&self) -> Result<()> {
        if self.finished && self.pending.is_empty() {
            Ok(())
        } else {
            Err(malformed("the binary COPY output ended inside a row"))
        }
    }
}

/// What the start of some bytes holds.
enum Parsed {
    /// Not a whole row yet.
    Incomplete,
    /// The end of the output.
    Trailer,
    /// A row of this many bytes, its fields written to the caller's array.
    Row(usize),
}

/// Reads the row at the start of `bytes` into `fields`.
fn parse_row<'a>(bytes: &'a [u8], fields: &mut Fields<'a>) -> Result<Parsed> {
    let Some(count) = bytes.get(..2) else {
        return Ok(Parsed::Incomplete);
    };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Parsed::Trailer);
    }
    if usize::try_from(count).ok() != Some(FIELDS) {
        return Err(malformed(&format!(
            "a row has {count} fields, not {FIELDS}"
        )));
    }
    let mut at = 2;
    for field in fields.iter_mut() {
        let Some(len) = bytes.get(at..at + 4) else {
            return Ok(Parsed::Incomplete);
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        if len == -1 {
            *field = None;
            continue;
        }
        let len = usize::try_from(len).map_err(|_| malformed("a field has a negative length"))?;
        let Some(value) = bytes.get(at..at + len) else {
            return Ok(Parsed::Incomplete);
        };
        *field = Some(value);
        at += len;
    }
    Ok(Parsed::Row(at))
}

fn malformed(detail: &str) -> StoreError {
    StoreError::Unavailable(format!("unreadable COPY output from the server: {detail}"))
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Typed access to one row's fields, each error naming the row's position.
struct Row<'r, 'a> {
    fields: &'r Fields<'a>,
    position: u64,
}

impl<'r, 'a> Row<'r, 'a> {
    fn new(fields: &'r Fields<'a>) -> Result<Self> {
        let raw_position = fields[0]
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_be_bytes)
            .ok_or_else(|| corrupt(0, "global_position is not an 8-byte integer"))?;
        let position = u64::try_from(raw_position)
            .map_err(|_| corrupt(0, &format!("global_position is negative ({raw_position})")))?;
        Ok(Self { fields, position })
    }

    fn corrupt(&self, detail: &str) -> StoreError {
        corrupt(self.position, detail)
    }

    /// What is wrong with one column, e.g. `data is not UTF-8`.
    fn column_error(&self, column: &str, problem: &str) -> StoreError {
        self.corrupt(&format!("{column} {problem}"))
    }

    fn bytes(&self, i: usize, column: &str) -> Result<&'a [u8]> {
        self.fields[i].ok_or_else(|| self.column_error(column, "is NULL"))
    }

    fn fixed<const N: usize>(&self, i: usize, column: &str) -> Result<[u8; N]> {
        <[u8; N]>::try_from(self.bytes(i, column)?)
            .map_err(|_| self.column_error(column, "has the wrong length"))
    }

    fn opt_fixed<const N: usize>(&self, i: usize, column: &str) -> Result<Option<[u8; N]>> {
        self.fields[i]
            .map(|b| {
                <[u8; N]>::try_from(b)
                    .map_err(|_| self.column_error(column, "has the wrong length"))
            })
            .transpose()
    }

    fn unsigned(&self, i: usize, column: &str) -> Result<u64> {
        let value = i64::from_be_bytes(self.fixed(i, column)?);
        u64::try_from(value).map_err(|_| self.corrupt(&format!("{column} is negative ({value})")))
    }

    fn schema_version(&self) -> Result<u32> {
        let schema_version = i32::from_be_bytes(self.fixed(5, "schema_version")?);
        u32::try_from(schema_version)
            .map_err(|_| self.corrupt(&format!("schema_version is {schema_version}")))
    }

    fn uuid(&self, i: usize, column: &str) -> Result<Uuid> {
        self.fixed(i, column).map(Uuid::from_bytes)
    }

    fn opt_uuid(&self, i: usize, column: &str) -> Result<Option<Uuid>> {
        Ok(self.opt_fixed(i, column)?.map(Uuid::from_bytes))
    }

    /// A timestamp as microseconds since the Unix epoch.
    fn micros(&self, i: usize, column: &str) -> Result<i64> {
        i64::from_be_bytes(self.fixed(i, column)?)
            .checked_add(PG_EPOCH_UNIX_MICROS)
            .ok_or_else(|| self.column_error(column, "is out of range"))
    }

    fn time(&self, i: usize, column: &str) -> Result<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.micros(i, column)?)
            .ok_or_else(|| self.column_error(column, "is out of range"))
    }

    fn text(&self, i: usize, column: &str) -> Result<&'a str> {
        std::str::from_utf8(self.bytes(i, column)?)
            .map_err(|_| self.column_error(column, "is not UTF-8"))
    }

    fn opt_text(&self, i: usize, column: &str) -> Result<Option<&'a str>> {
        self.fields[i]
            .map(|b| std::str::from_utf8(b).map_err(|_| self.column_error(column, "is not UTF-8")))
            .transpose()
    }

    fn hash(&self, i: usize, column: &str) -> Result<Hash> {
        self.fixed(i, column).map(Hash)
    }
}

fn corrupt(position: u64, detail: &str) -> StoreError {
    StoreError::CorruptRow {
        position,
        detail: detail.to_owned(),
    }
}

/// Decodes one row of [`EVENT_COLUMNS`] into an envelope, as `rows::decode_row` does for a
/// row of a query.
fn event_of(fields: &Fields<'_>) -> Result<RecordedEvent> {
    let r = Row::new(fields)?;
    let stream_id =
        StreamId::parse(r.text(2, "stream_id")?).map_err(|e| r.corrupt(&e.to_string()))?;
    Ok(RecordedEvent {
        global_position: r.position,
        event_id: r.uuid(1, "event_id")?,
        stream_id,
        stream_version: r.unsigned(3, "stream_version")?,
        event_type: r.text(4, "event_type")?.to_owned(),
        schema_version: r.schema_version()?,
        client_id: r.opt_text(6, "client_id")?.map(str::to_owned),
        occurred_at: r.time(7, "occurred_at")?,
        recorded_at: r.time(8, "recorded_at")?,
        metadata: Metadata {
            correlation_id: r.opt_uuid(9, "correlation_id")?,
            causation_id: r.opt_uuid(10, "causation_id")?,
            actor: r.opt_text(11, "actor")?.map(str::to_owned),
            source: r.opt_text(12, "source")?.map(str::to_owned),
        },
        data: r.text(13, "data")?.to_owned(),
        prev_hash: r.hash(14, "prev_hash")?,
        hash: r.hash(15, "hash")?,
    })
}

/// What a chain walk needs of one row, hashed straight from the received bytes. The text
/// columns are hashed as the bytes the server sent, which are the bytes it stores (the
/// connection's encoding is UTF-8, as the database's), so no UTF-8 check or copy is needed.
fn chain_entry_of(fields: &Fields<'_>) -> Result<ChainEntry> {
    let r = Row::new(fields)?;
    let view = EventView {
        global_position: r.position,
        event_id: r.uuid(1, "event_id")?,
        stream_id: r.bytes(2, "stream_id")?,
        stream_version: r.unsigned(3, "stream_version")?,
        event_type: r.bytes(4, "event_type")?,
        schema_version: r.schema_version()?,
        client_id: fields[6],
        occurred_at_micros: r.micros(7, "occurred_at")?,
        recorded_at_micros: r.micros(8, "recorded_at")?,
        correlation_id: r.opt_uuid(9, "correlation_id")?,
        causation_id: r.opt_uuid(10, "causation_id")?,
        actor: fields[11],
        source: fields[12],
        data: r.bytes(13, "data")?,
    };
    Ok(ChainEntry {
        position: r.position,
        prev_hash: r.hash(14, "prev_hash")?,
        hash: r.hash(15, "hash")?,
        digest: view_digest(&view),
    })
}

/// Runs `sql`, a `COPY (SELECT {EVENT_COLUMNS} …) TO STDOUT (FORMAT binary)`, handing each row
/// to `row` as it arrives, so decoding overlaps the server's producing the rest.
async fn copy_rows(
    conn: &Object,
    sql: &str,
    mut row: impl FnMut(&Fields<'_>) -> Result<()>,
) -> Result<()> {
    let stream = conn.copy_out(sql).await.map_err(pg_error)?;
    pin_mut!(stream);
    let mut splitter = RowSplitter::default();
    while let Some(chunk) = stream.try_next().await.map_err(pg_error)? {
        splitter.feed(&chunk, &mut row)?;
    }
    splitter.finish()
}

/// The statement reading up to `limit` events from position `from`, in order. `COPY` takes no
/// bind parameters, so the two integers are written into the text; an `i64` prints as an
/// optional sign and digits, nothing else.
fn read_all_sql(from: i64, limit: i64) -> String {
    format!(
        "COPY (SELECT {EVENT_COLUMNS} FROM events WHERE global_position >= {from} \
         ORDER BY global_position LIMIT {limit}) TO STDOUT (FORMAT binary)"
    )
}

/// The statement reading the events at positions `first..=last`, in order; integers as in
/// [`read_all_sql`].
fn range_sql(first: i64, last: i64) -> String {
    format!(
        "COPY (SELECT {EVENT_COLUMNS} FROM events WHERE global_position BETWEEN {first} AND {last} \
         ORDER BY global_position) TO STDOUT (FORMAT binary)"
    )
}

/// Up to `limit` events from position `from`, in order, as envelopes.
pub(crate) async fn read_all(conn: &Object, from: i64, limit: i64) -> Result<Vec<RecordedEvent>> {
    let mut events = Vec::with_capacity(usize::try_from(limit.min(4096)).unwrap_or(0));
    copy_rows(conn, &read_all_sql(from, limit), |fields| {
        events.push(event_of(fields)?);
        Ok(())
    })
    .await?;
    Ok(events)
}

/// The chain entries of the events at positions `first..=last`, in order.
pub(crate) async fn chain_entries(conn: &Object, first: u64, last: u64) -> Result<Vec<ChainEntry>> {
    let (Ok(first_i), Ok(last_i)) = (i64::try_from(first), i64::try_from(last)) else {
        return Err(corrupt(first, "a position past i64::MAX"));
    };
    let capacity = usize::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(0);
    let mut entries = Vec::with_capacity(capacity.min(1 << 16));
    copy_rows(conn, &range_sql(first_i, last_i), |fields| {
        entries.push(chain_entry_of(fields)?);
        Ok(())
    })
    .await?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(b"ext");
        b
    }

    fn row(position: i64, data: &[u8]) -> Vec<u8> {
        let mut b = 16i16.to_be_bytes().to_vec();
        for i in 0..FIELDS {
            let value: Option<Vec<u8>> = match i {
                0 => Some(position.to_be_bytes().to_vec()),
                6 | 9..=12 => None,
                13 => Some(data.to_vec()),
                _ => Some(vec![7; i + 1]),
            };
            match value {
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    b.extend_from_slice(&i32::try_from(v.len()).unwrap().to_be_bytes());
                    b.extend_from_slice(&v);
                }
            }
        }
        b
    }

    fn stream() -> Vec<u8> {
        let mut b = header();
        b.extend(row(5, b"{\"a\":1}"));
        b.extend(row(6, b"{}"));
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b
    }

    /// Splits `bytes` at `cuts` into chunks and returns the (position, data) of every row.
    fn split_at(bytes: &[u8], cuts: &[usize]) -> Result<Vec<(i64, Vec<u8>)>> {
        let mut splitter = RowSplitter::default();
        let mut seen = Vec::new();
        let mut start = 0;
        for end in cuts.iter().copied().chain([bytes.len()]) {
            let chunk = Bytes::copy_from_slice(&bytes[start..end]);
            splitter.feed(&chunk, &mut |f: &Fields<'_>| {
                let position = i64::from_be_bytes(f[0].unwrap().try_into().unwrap());
                assert!(f[6].is_none() && f[12].is_none());
                seen.push((position, f[13].unwrap().to_vec()));
                Ok(())
            })?;
            start = end;
        }
        splitter.finish()?;
        Ok(seen)
    }

    #[test]
    fn rows_are_found_wherever_the_messages_cut_them() {
        let bytes = stream();
        let expected = vec![(5, b"{\"a\":1}".to_vec()), (6, b"{}".to_vec())];
        assert_eq!(split_at(&bytes, &[]).unwrap(), expected);
        // Every single cut, including inside the header, a length and a value.
        for cut in 1..bytes.len() {
            assert_eq!(split_at(&bytes, &[cut]).unwrap(), expected, "cut at {cut}");
        }
        let every_byte: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(split_at(&bytes, &every_byte).unwrap(), expected);
    }

    #[test]
    fn a_truncated_stream_or_a_wrong_shape_is_an_error() {
        let bytes = stream();
        let cut = &bytes[..bytes.len() - 2];
        assert!(split_at(cut, &[]).is_err(), "no trailer");
        let mut wrong = header();
        wrong.extend_from_slice(&3i16.to_be_bytes());
        assert!(split_at(&wrong, &[]).is_err(), "three fields");
        let mut bad = stream();
        bad[0] = b'X';
        assert!(split_at(&bad, &[]).is_err(), "no signature");
    }
}
