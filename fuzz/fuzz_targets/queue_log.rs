//! Fuzzes the Asterisk `queue_log` importer: any bytes, in both malformed-line modes, as one
//! file and split into two rotated files.
//!
//! Besides "never panics", it checks two properties that hold for every input: skipping
//! malformed lines never fails, and when failing on them succeeds (so no line was malformed)
//! skipping gives the very same import.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::queue_log::{
    import, MalformedLines, QueueLogOptions, QueueLogSource,
};

fuzz_target!(|data: &[u8]| {
    let client_id = ClientId::new("fuzz").expect("a valid client id");
    let options = |malformed| QueueLogOptions {
        client_id: client_id.clone(),
        malformed,
    };
    let whole = [QueueLogSource {
        name: "queue_log",
        bytes: data,
    }];
    let failing = import(&whole, &options(MalformedLines::Fail));
    let skipping = import(&whole, &options(MalformedLines::Skip))
        .expect("skipping malformed lines never fails");
    if let Ok(strict) = failing {
        assert_eq!(strict, skipping, "no malformed line, so both modes agree");
    }
    // The same bytes as two rotated files, split in the middle: a call may span both.
    let (older, newer) = data.split_at(data.len() / 2);
    let rotated = [
        QueueLogSource {
            name: "queue_log-1",
            bytes: older,
        },
        QueueLogSource {
            name: "queue_log",
            bytes: newer,
        },
    ];
    let _ = import(&rotated, &options(MalformedLines::Fail));
    import(&rotated, &options(MalformedLines::Skip)).expect("skipping malformed lines never fails");
});
