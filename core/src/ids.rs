//! Newtypes for the protocol's identifiers and numbers, so that a height is never a nonce.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::bounded::{BoundError, Ident};

macro_rules! ident_newtype {
    ($(#[$doc:meta])* $name:ident, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Ident<$max>);

        impl $name {
            /// Makes the identifier, naming what is wrong with a bad one.
            pub fn new(s: impl Into<String>) -> Result<Self, BoundError> {
                Ident::new(s).map(Self)
            }

            /// The identifier as a `&str`.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = BoundError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

ident_newtype!(
    /// The chain's name; every signature commits to it, so nothing signed for one chain is valid on another.
    ChainId, 64
);
ident_newtype!(
    /// A ministry that issues credentials, e.g. `moj` (Ministry of Justice).
    IssuerId, 32
);
ident_newtype!(
    /// One signing key of an issuer, e.g. `moj-2026-01`.
    KeyId, 48
);
ident_newtype!(
    /// A credential kind, e.g. `lawyer-license`; the issuer registry says who may issue which.
    KindId, 32
);
ident_newtype!(
    /// A T-Road transfer-log source (one security server's message log).
    LogSourceId, 48
);
ident_newtype!(
    /// The name of a claim inside a credential, e.g. `name` or `license_no`.
    ClaimKey, 32
);

macro_rules! number_newtype {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

number_newtype!(
    /// A block height; the first block after genesis is height 1.
    Height, u64
);
number_newtype!(
    /// A consensus round within a height.
    Round, u32
);
number_newtype!(
    /// Milliseconds since 1970-01-01T00:00:00Z (UTC), the one time unit of the protocol.
    Timestamp, u64
);
number_newtype!(
    /// A per-signer sequence number that makes each transaction usable once.
    Nonce, u64
);
number_newtype!(
    /// A validator's voting power.
    VotingPower, u64
);

impl Height {
    /// The next height, or `None` at the end of the number range.
    pub fn next(self) -> Option<Height> {
        self.0.checked_add(1).map(Height)
    }
}

impl Timestamp {
    /// `self + ms`, saturating at the end of the range.
    pub fn plus_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The time as people in Taiwan read it: `2026-11-22 17:23:44 (UTC+8)` (Taiwan keeps
    /// UTC+8 all year); the milliseconds themselves if the date is out of the calendar's range.
    pub fn taiwan_time(self) -> String {
        let secs = i64::try_from(self.0 / 1000)
            .ok()
            .and_then(|s| s.checked_add(8 * 3600));
        match secs.map(time::OffsetDateTime::from_unix_timestamp) {
            Some(Ok(d)) => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} (UTC+8)",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            ),
            _ => format!("{} ms", self.0),
        }
    }
}

/// `, revoked from <time>` for a revoked key's window in messages; nothing if not revoked.
pub(crate) fn revoked_from_text(revoked_from: &Option<Timestamp>) -> String {
    match revoked_from {
        Some(t) => format!(", revoked from {}", t.taiwan_time()),
        None => String::new(),
    }
}

/// A credential's 16-byte identifier, chosen by the issuer (the CLI derives it so that a
/// re-run batch gets the same ids); shown as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct CredentialId(pub [u8; 16]);

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", hex::encode(self.0))
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Why a credential id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a credential id is 32 hex digits; got {0:?}")]
pub struct CredentialIdParseError(pub String);

impl FromStr for CredentialId {
    type Err = CredentialIdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| CredentialIdParseError(s.chars().take(80).collect()))?;
        Ok(CredentialId(out))
    }
}

impl Serialize for CredentialId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for CredentialId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn taiwan_time_is_utc_plus_eight_and_never_panics() {
        assert_eq!(Timestamp(0).taiwan_time(), "1970-01-01 08:00:00 (UTC+8)");
        assert_eq!(
            Timestamp(1_767_225_600_000).taiwan_time(),
            "2026-01-01 08:00:00 (UTC+8)"
        );
        assert_eq!(
            Timestamp(u64::MAX).taiwan_time(),
            format!("{} ms", u64::MAX)
        );
    }
}
