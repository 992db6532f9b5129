//! The chain walk of `verify` on PostgreSQL: the log read as binary `COPY` in chunks of
//! positions by several connections at once, each hashing its rows' digests from the received
//! bytes, while one walker checks positions and links in order.

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Result, StoreError};
use crate::hash::{ChainEntry, ChainWalker};

use super::{copy_out, pool_error};

/// Positions per `COPY` of the walk: large enough that a statement's round trips are noise,
/// small enough that the chunks in flight stay a few megabytes.
const CHUNK_EVENTS: u64 = 16_384;
/// Connections reading chunks at once. The server's row output and the digests are the
/// walk's cost and both are per row, so two readers keep two cores busy, and the pool
/// (`READ_POOL_SIZE`) keeps connections for other readers.
const READERS: u64 = 2;

/// Aborts the reader task when the walk ends early (a break found, an error), so it stops
/// reading a log nobody walks any more.
struct Reader(JoinHandle<()>);

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Feeds `walker` every event at positions `first..=last`, in order, until it breaks.
///
/// Chunk `k` covers positions `first + k * CHUNK_EVENTS …` and is read by reader
/// `k % READERS`; the walker takes the chunks in order from the readers in turn, so it sees
/// exactly the rows a single ordered read of the range returns. Each reader runs at most one
/// chunk ahead of the walker.
pub(crate) async fn walk(
    pool: &Pool,
    first: u64,
    last: u64,
    walker: &mut ChainWalker,
) -> Result<()> {
    assert!(first <= last, "the caller walks a non-empty range");
    let chunks = (last - first) / CHUNK_EVENTS + 1;
    let readers = READERS.min(chunks);
    let mut feeds = Vec::new();
    let mut tasks = Vec::new();
    for r in 0..readers {
        let conn = pool.get().await.map_err(pool_error)?;
        let (tx, rx) = mpsc::channel::<Result<Vec<ChainEntry>>>(1);
        tasks.push(Reader(tokio::spawn(async move {
            let mut k = r;
            while k < chunks {
                let start = first + k * CHUNK_EVENTS;
                let end = last.min(start + (CHUNK_EVENTS - 1));
                let chunk = copy_out::chain_entries(&conn, start, end).await;
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    return;
                }
                k += readers;
            }
        })));
        feeds.push(rx);
    }
    for k in 0..chunks {
        let reader = usize::try_from(k % readers).expect("fewer readers than usize::MAX");
        let chunk = feeds[reader].recv().await.ok_or_else(|| {
            StoreError::Unavailable("a verify reader stopped before its chunk".to_owned())
        })??;
        if !walker.check_entries(chunk) {
            break;
        }
    }
    drop(tasks);
    Ok(())
}
