//! Fuzzes the generic call-record CSV importer and its mapping parser.
//!
//! The first byte chooses the mapping: even, the shipped `anonymous_bank()` mapping reads the
//! rest of the input as the CSV; odd, the rest is split at its first NUL byte into a JSON
//! mapping (parsed with `parse_mapping`) and the CSV it reads. Both malformed-row modes run,
//! and skipping malformed rows must only fail for a mapping that does not fit the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::csv_mapping::{
    anonymous_bank, import, parse_mapping, CsvImportError, CsvOptions, CsvSource,
};
use opsledger_domain::import::queue_log::MalformedLines;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (mapping, csv) = if selector % 2 == 0 {
        (anonymous_bank(), rest)
    } else {
        let split = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        let (json, csv) = rest.split_at(split);
        let Ok(json) = std::str::from_utf8(json) else {
            return;
        };
        let Ok(mapping) = parse_mapping(json) else {
            return;
        };
        (mapping, csv.get(1..).unwrap_or_default())
    };
    let client_id = ClientId::new("fuzz").expect("a valid client id");
    let source = CsvSource {
        name: "calls.csv",
        bytes: csv,
    };
    for malformed in [MalformedLines::Fail, MalformedLines::Skip] {
        let options = CsvOptions {
            client_id: client_id.clone(),
            malformed,
        };
        match import(&source, &mapping, &options) {
            Err(CsvImportError::Row(_)) if malformed == MalformedLines::Skip => {
                panic!("skipping malformed rows never fails on a row")
            }
            _ => {}
        }
    }
});
