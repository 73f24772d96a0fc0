//! Genesis files: parsing and checking never panic.
#![no_main]

use credledger_core::genesis::Genesis;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Genesis::from_json(data) {
        let _ = g.problems();
        let _ = g.hash();
    }
});
