//! T-Road inputs: record lines and evidence bundles from outside never panic, what decodes
//! re-encodes to the same digest or bytes, and checking a decoded bundle (set changes,
//! inclusion and consistency paths at the sizes and indexes the bundle claims) never panics.
#![no_main]

use std::sync::OnceLock;

use credledger_core::TrustAnchor;
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::troad::LogRecord;
use credledger_core::verify::{LogEvidence, verify_log_evidence};
use libfuzzer_sys::fuzz_target;

/// A devnet's trust anchor, built once: the bundles are checked against it.
fn anchor() -> &'static TrustAnchor {
    static ANCHOR: OnceLock<TrustAnchor> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let d = Devnet::build(&[9; 32], &DevnetParams::default()).expect("a devnet builds");
        TrustAnchor::from_genesis(&d.genesis).expect("a devnet's genesis is an anchor")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = LogRecord::from_line(data) {
        let again = LogRecord::from_line(r.to_line().as_bytes()).expect("a record's own line reads back");
        assert_eq!(again.digest(), r.digest());
    }
    if let Ok(ev) = LogEvidence::from_bytes(data) {
        assert_eq!(ev.to_bytes(), data, "bundles are canonical");
        let _ = verify_log_evidence(&ev, anchor(), None);
    }
});
