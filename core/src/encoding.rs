//! Canonical binary encoding (borsh) with bounded, strict decoding of outside bytes.
//!
//! spec/encoding.md §2: a value has exactly one encoding. The decoder refuses input longer
//! than the caller's limit before reading it, refuses trailing bytes, and refuses any input
//! that does not re-encode to the same bytes, which rules out non-canonical lengths, flags and
//! enum tags with one rule. Order within lists is a type's own rule: types whose lists must be
//! sorted (validator sets, Merkle frontiers) check it in their decoders.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why outside bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than the limit for this kind of value.
    #[error("input is {len} bytes; at most {max} allowed")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input ended before the value was complete.
    #[error("input is truncated")]
    Truncated,
    /// Bytes were left over after the value.
    #[error("{count} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// The bytes decode but are not the canonical encoding of what they decode to.
    #[error("non-canonical encoding")]
    NonCanonical,
    /// The bytes are malformed; the message names the field rule that failed.
    #[error("malformed: {0}")]
    Malformed(String),
}

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and our own serializers only fail on values that
    // violate their type's bound, which the constructors already refuse.
    if value.serialize(&mut out).is_err() {
        out.clear();
    }
    out
}

/// Decodes outside bytes strictly: at most `max` bytes, no trailing bytes, canonical only.
pub fn decode<T: BorshDeserialize + BorshSerialize>(
    bytes: &[u8],
    max: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let mut rest = bytes;
    let value = T::deserialize_reader(&mut rest).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DecodeError::Truncated,
        // borsh reports a short input for its own integer and array readers with this message
        // (a private constant of borsh 1.x), not with `UnexpectedEof`.
        _ if e.to_string() == "Unexpected length of input" => DecodeError::Truncated,
        _ => DecodeError::Malformed(e.to_string()),
    })?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes { count: rest.len() });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// An `InvalidData` I/O error, the form borsh decoders report rule violations in.
pub(crate) fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_and_truncated_bytes_are_named() {
        let bytes = encode(&(7u32, 9u64));
        assert_eq!(decode::<(u32, u64)>(&bytes, 64), Ok((7, 9)));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode::<(u32, u64)>(&longer, 64),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(
            decode::<(u32, u64)>(&bytes[..5], 64),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode::<(u32, u64)>(&bytes, 4),
            Err(DecodeError::TooLarge { len: 12, max: 4 })
        );
    }

    #[test]
    fn non_canonical_booleans_and_options_are_refused() {
        assert!(decode::<bool>(&[2], 1).is_err());
        assert!(decode::<Option<u8>>(&[2, 0], 2).is_err());
    }
}
