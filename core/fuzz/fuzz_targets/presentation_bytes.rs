//! Binary presentations: decoding never panics, and what decodes re-encodes to the same bytes.
#![no_main]

use credledger_core::presentation::Presentation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Presentation::from_bytes(data) {
        assert_eq!(p.to_bytes(), data, "decoding must be canonical");
        let _ = Presentation::from_text(&p.to_qr_text()).expect("own QR text decodes");
    }
});
