//! Synthetic T-Road transfer-log records for tests, benchmarks and the devnet: deterministic
//! from a seed, shaped like a security server's message log (spec/troad-log.md §2).

use credledger_core::bounded::Text;
use credledger_core::hash::{Digest, Domain};
use credledger_core::ids::Timestamp;
use credledger_core::troad::LogRecord;

const CLIENTS: [&str; 4] = [
    "TW/GOV/MOJ/lawyer-registry",
    "TW/GOV/MOEA/company-registry",
    "TW/GOV/MOI/household-registry",
    "TW/GOV/NHIA/insurance",
];
const SERVICES: [&str; 5] = [
    "TW/GOV/MOEA/company-registry/getCompany",
    "TW/GOV/MOJ/lawyer-registry/getLicense",
    "TW/GOV/MOI/household-registry/getAddress",
    "TW/GOV/NHIA/insurance/getStatus",
    "TW/GOV/MOF/tax/getStanding",
];

fn text<const MAX: usize>(s: String) -> Text<MAX> {
    Text::new(s).unwrap_or_else(|e| panic!("sample text: {e}"))
}

fn derive(seed: u64, i: u64, what: &[u8]) -> Digest {
    Domain::DevnetDerive.hash(&[b"troad-sample", &seed.to_le_bytes(), &i.to_le_bytes(), what])
}

/// Record number `i` of the sample log of `seed`, logged `7 × i` ms after `start`.
pub fn sample_record(seed: u64, i: u64, start: Timestamp) -> LogRecord {
    let pick = derive(seed, i, b"pick").0;
    LogRecord {
        id: text(format!("{seed:x}-{i:012}")),
        time_ms: Timestamp(start.0 + 7 * i),
        client: text(CLIENTS[pick[0] as usize % CLIENTS.len()].to_string()),
        service: text(SERVICES[pick[1] as usize % SERVICES.len()].to_string()),
        request_digest: derive(seed, i, b"request"),
        response_digest: derive(seed, i, b"response"),
        security_server: text(format!("TW/GOV/SS/{}", pick[2] % 3)),
        signature_digest: derive(seed, i, b"signature"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_deterministic_distinct_and_valid_lines() {
        let a = sample_record(1, 5, Timestamp(0));
        assert_eq!(a, sample_record(1, 5, Timestamp(0)));
        assert_ne!(a.digest(), sample_record(1, 6, Timestamp(0)).digest());
        assert_ne!(a.digest(), sample_record(2, 5, Timestamp(0)).digest());
        assert_eq!(LogRecord::from_line(a.to_line().as_bytes()).unwrap(), a);
    }
}
