//! Fuzzes the raw-append path of `opsledger append` and `import ndjson` as far as it goes
//! without a ledger: `opsledger_app::append::read_envelopes`, which parses each NDJSON line
//! strictly (`canonical::parse_strict`), reads the envelope, and checks a domain-typed payload
//! with the codec. Nothing may panic, with or without foreign types allowed, and whatever it
//! accepts names the line it came from (issue 12).

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsledger_app::append::read_envelopes;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count();
    for allow_foreign_types in [false, true] {
        if let Ok(batch) = read_envelopes("fuzz.ndjson", data, allow_foreign_types) {
            for entry in &batch.entries {
                assert!(entry.line >= 1 && entry.line <= lines, "line {} of {lines}", entry.line);
            }
        }
    }
});
