//! T-Road inputs: record lines and evidence bundles from outside never panic, and what decodes
//! re-encodes to the same digest or bytes.
#![no_main]

use credledger_core::troad::LogRecord;
use credledger_core::verify::LogEvidence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = LogRecord::from_line(data) {
        let again = LogRecord::from_line(r.to_line().as_bytes()).expect("a record's own line reads back");
        assert_eq!(again.digest(), r.digest());
    }
    if let Ok(ev) = LogEvidence::from_bytes(data) {
        assert_eq!(ev.to_bytes(), data, "bundles are canonical");
    }
});
