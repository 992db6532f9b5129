//! A generated demo month appended to a ledger as `opsledger demo` records it, for the tests of
//! the application and the server that want a realistic month of every event type.

use std::ops::Range;
use std::sync::Arc;

use opsledger_app::crypto::Sealer;
use opsledger_store::{EventStore, Metadata};
use opsledger_tools::demo::sealed_batch;
use opsledger_tools::demo_data::{self, DemoMonth, DemoScale};
use uuid::Uuid;

/// Events per atomic batch in [`record`], as `opsledger demo` appends them.
pub const BATCH: usize = 1000;

/// The demo month generated from `seed` with `calls_per_client_per_day` calls for each client
/// on each business day, starting where `opsledger demo` starts it.
pub fn month(seed: u64, calls_per_client_per_day: u32) -> DemoMonth {
    demo_data::generate_month(
        seed,
        demo_data::demo_month_start(),
        DemoScale {
            calls_per_client_per_day,
        },
    )
    .expect("the demo month generates")
}

/// The event id [`append`] gives `month.events[index]`: fixed by the index, so a test can tell
/// which generated event a recorded one is, and the same month recorded twice has the same ids.
pub fn event_id(index: usize) -> Uuid {
    Uuid::from_u128(u128::try_from(index).expect("an index fits in u128") + 1)
}

/// Appends `month.events[range]` in one atomic batch as the demo groups it
/// ([`sealed_batch`]), each event's personal fields sealed under its client's key and its id
/// [`event_id`] of its index.
pub async fn append(store: &Arc<dyn EventStore>, month: &DemoMonth, range: Range<usize>) {
    let mut sealer = Sealer::new(Arc::clone(store));
    let ids_and_events = range.map(|index| (event_id(index), &month.events[index]));
    let batch = sealed_batch(&mut sealer, ids_and_events, &Metadata::default())
        .await
        .expect("a generated month seals");
    store
        .append_batch(batch)
        .await
        .expect("the generated month appends");
}

/// Appends the whole month with [`append`], [`BATCH`] events at a time.
pub async fn record(store: &Arc<dyn EventStore>, month: &DemoMonth) {
    let total = month.events.len();
    for from in (0..total).step_by(BATCH) {
        append(store, month, from..(from + BATCH).min(total)).await;
    }
}
