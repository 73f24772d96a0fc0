//! T-Road transfer-log records (spec/troad-log.md): the JSON-lines format a security server's
//! message log is exported in, its strict reading, and the digest and RFC 6962 leaf that an
//! agency's log tree holds. Record contents stay at the agency; only tree heads are anchored.

use borsh::BorshSerialize;
use serde::{Deserialize, Serialize};

use crate::bounded::Text;
use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::ids::Timestamp;
use crate::merkle::leaf_hash;

/// Longest record line accepted, in bytes, line break excluded (spec/troad-log.md §2).
pub const MAX_RECORD_LINE: usize = 4096;
/// The record format version this code writes and reads.
pub const RECORD_VERSION: u8 = 1;

/// One logged transfer between two agencies' subsystems, modelled on X-Road's message log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// The message id the client's security server gave the exchange.
    pub id: Text<128>,
    /// When the security server logged it, ms since 1970 (UTC).
    pub time_ms: Timestamp,
    /// The calling subsystem, e.g. `TW/GOV/MOJ/lawyer-registry`.
    pub client: Text<255>,
    /// The service called, e.g. `TW/GOV/MOEA/company-registry/getCompany`.
    pub service: Text<255>,
    /// SHA-256 of the request body (hex): the body itself never leaves the agency.
    pub request_digest: Digest,
    /// SHA-256 of the response body (hex).
    pub response_digest: Digest,
    /// The security server that logged the record.
    pub security_server: Text<255>,
    /// SHA-256 of the security server's signature over the exchange (hex).
    pub signature_digest: Digest,
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The line is longer than [`MAX_RECORD_LINE`].
    #[error("record line is {len} bytes; at most {max} allowed")]
    TooLong {
        /// Length given.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The line is not a record's JSON object (names the field or syntax at fault).
    #[error("not a T-Road record: {0}")]
    Invalid(String),
}

impl LogRecord {
    /// Reads one line strictly: bounded, every field present, no other field (§2).
    pub fn from_line(line: &[u8]) -> Result<LogRecord, RecordError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_RECORD_LINE {
            return Err(RecordError::TooLong {
                len: line.len(),
                max: MAX_RECORD_LINE,
            });
        }
        serde_json::from_slice(line).map_err(|e| RecordError::Invalid(e.to_string()))
    }

    /// The record as one JSON line, without the line break.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `H_log-record(version ‖ encode(record))` (§3): independent of the JSON spelling.
    pub fn digest(&self) -> Digest {
        Domain::LogRecord.hash(&[&[RECORD_VERSION], &encode(self)])
    }

    /// The RFC 6962 leaf hash of the record in its source's log tree: `SHA-256(0x00 ‖ digest)`.
    pub fn leaf(&self) -> Digest {
        leaf_hash(&self.digest().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> LogRecord {
        LogRecord {
            id: Text::new("msg-0001").unwrap(),
            time_ms: Timestamp(1_767_225_600_000),
            client: Text::new("TW/GOV/MOJ/lawyer-registry").unwrap(),
            service: Text::new("TW/GOV/MOEA/company-registry/getCompany").unwrap(),
            request_digest: Digest([1; 32]),
            response_digest: Digest([2; 32]),
            security_server: Text::new("TW/GOV/MOJ/ss1").unwrap(),
            signature_digest: Digest([3; 32]),
        }
    }

    #[test]
    fn a_record_reads_back_and_its_digest_ignores_json_spelling() {
        let r = sample();
        let line = r.to_line();
        assert_eq!(LogRecord::from_line(line.as_bytes()).unwrap(), r);
        // Same fields, other order and spacing, CRLF: same record, same digest.
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().iter().collect();
        keys.reverse();
        let respelled = format!(
            "{{ {} }}\r\n",
            keys.iter()
                .map(|(k, v)| format!("\"{k}\" : {v}"))
                .collect::<Vec<_>>()
                .join(" , ")
        );
        let again = LogRecord::from_line(respelled.as_bytes()).unwrap();
        assert_eq!(again.digest(), r.digest());
        assert_eq!(r.leaf(), leaf_hash(&r.digest().0));
    }

    #[test]
    fn any_changed_field_changes_the_digest() {
        let r = sample();
        let mut changed = vec![r.clone(); 4];
        changed[0].time_ms = Timestamp(r.time_ms.0 + 1);
        changed[1].request_digest.0[31] ^= 1;
        changed[2].id = Text::new("msg-0002").unwrap();
        changed[3].service = Text::new("TW/GOV/MOEA/x").unwrap();
        for c in changed {
            assert_ne!(c.digest(), r.digest());
        }
    }

    #[test]
    fn bad_lines_are_named() {
        let line = sample().to_line();
        let extra = line.replace('}', ",\"note\":\"x\"}");
        assert!(matches!(
            LogRecord::from_line(extra.as_bytes()),
            Err(RecordError::Invalid(e)) if e.contains("note")
        ));
        let missing = line.replace("\"id\":\"msg-0001\",", "");
        assert!(matches!(
            LogRecord::from_line(missing.as_bytes()),
            Err(RecordError::Invalid(e)) if e.contains("id")
        ));
        let long = vec![b' '; MAX_RECORD_LINE + 1];
        assert!(matches!(
            LogRecord::from_line(&long),
            Err(RecordError::TooLong { .. })
        ));
        let bad_digest = line.replace(&"01".repeat(32), "zz");
        assert!(LogRecord::from_line(bad_digest.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = LogRecord::from_line(&bytes);
        }
    }
}
