//! Presentation text (QR or URL form) through decoding and `verify`: never a panic.
#![no_main]

use std::sync::OnceLock;

use credledger_core::ids::Timestamp;
use credledger_core::testkit::World;
use credledger_core::{Policy, TrustAnchor, verify_text};
use libfuzzer_sys::fuzz_target;

fn anchor() -> &'static TrustAnchor {
    static A: OnceLock<TrustAnchor> = OnceLock::new();
    A.get_or_init(|| World::new(1, 4).anchor())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = verify_text(text, anchor(), Timestamp(1_767_225_700_000), &Policy::LIVE);
    }
});
