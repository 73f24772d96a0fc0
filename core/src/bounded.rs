//! Length-bounded strings and lists whose limits are part of their type and their encoding.
//!
//! Every list or string that can arrive from outside is one of these types, so that a decoder
//! never allocates more than the limit and the limit is visible where the type is declared.
//! They encode with a one-byte length prefix (spec/encoding.md §3), which keeps QR payloads small.

use std::fmt;
use std::io::{Read, Write};
use std::ops::Deref;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::invalid;

/// Why a value could not be made into a bounded type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    /// The value is longer than the type allows.
    #[error("{what} is {len} long; at most {max} allowed")]
    TooLong {
        /// Which kind of value.
        what: &'static str,
        /// Its length (bytes for strings, items for lists).
        len: usize,
        /// The type's limit.
        max: usize,
    },
    /// The value is empty where the type requires content.
    #[error("{what} must not be empty")]
    Empty {
        /// Which kind of value.
        what: &'static str,
    },
    /// An identifier holds a character outside `[a-z0-9._-]`.
    #[error("{what} {value:?} may only hold a-z, 0-9, '.', '_' and '-'")]
    BadChar {
        /// Which kind of value.
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// A UTF-8 string of at most `MAX` bytes (`MAX` ≤ 255), encoded as `u8 length ‖ bytes`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    const CHECK: () = assert!(MAX <= 255, "Text<MAX> is limited to 255 bytes");

    /// Makes a bounded text, refusing one that is too long.
    pub fn new(s: impl Into<String>) -> Result<Self, BoundError> {
        let () = Self::CHECK;
        let s = s.into();
        if s.len() > MAX {
            return Err(BoundError::TooLong {
                what: "text",
                len: s.len(),
                max: MAX,
            });
        }
        Ok(Self(s))
    }

    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> Deref for Text<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Debug for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> BorshSerialize for Text<MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        write_len(writer, self.0.len(), MAX)?;
        writer.write_all(self.0.as_bytes())
    }
}

impl<const MAX: usize> BorshDeserialize for Text<MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = read_len(reader, MAX, "text")?;
        let mut buf = vec![0u8; len];
        reader.read_exact(&mut buf)?;
        let s = String::from_utf8(buf).map_err(|_| invalid("text is not valid UTF-8"))?;
        Ok(Self(s))
    }
}

impl<const MAX: usize> Serialize for Text<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// A non-empty identifier of at most `MAX` bytes drawn from `[a-z0-9._-]`.
///
/// Identifiers are compared byte for byte, so restricting their alphabet removes look-alike
/// and case-folding ambiguities between ministries' ids (spec/encoding.md §3.2).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident<const MAX: usize>(Text<MAX>);

impl<const MAX: usize> Ident<MAX> {
    /// Makes an identifier, naming what is wrong with a bad one.
    pub fn new(s: impl Into<String>) -> Result<Self, BoundError> {
        let s = s.into();
        check_ident(&s)?;
        Ok(Self(Text::new(s)?))
    }

    /// The identifier as a `&str`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn check_ident(s: &str) -> Result<(), BoundError> {
    if s.is_empty() {
        return Err(BoundError::Empty { what: "identifier" });
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(BoundError::BadChar {
            what: "identifier",
            value: s.to_owned(),
        });
    }
    Ok(())
}

impl<const MAX: usize> Deref for Ident<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl<const MAX: usize> fmt::Debug for Ident<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const MAX: usize> fmt::Display for Ident<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const MAX: usize> BorshSerialize for Ident<MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl<const MAX: usize> BorshDeserialize for Ident<MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let t = Text::<MAX>::deserialize_reader(reader)?;
        check_ident(t.as_str()).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self(t))
    }
}

impl<const MAX: usize> Serialize for Ident<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Ident<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

impl<const MAX: usize> std::str::FromStr for Ident<MAX> {
    type Err = BoundError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A list of at most `MAX` items (`MAX` ≤ 255), encoded as `u8 count ‖ items`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ShortVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> Default for ShortVec<T, MAX> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const MAX: usize> ShortVec<T, MAX> {
    const CHECK: () = assert!(MAX <= 255, "ShortVec<T, MAX> is limited to 255 items");

    /// Makes a bounded list, refusing one with too many items.
    pub fn new(v: Vec<T>) -> Result<Self, BoundError> {
        let () = Self::CHECK;
        if v.len() > MAX {
            return Err(BoundError::TooLong {
                what: "list",
                len: v.len(),
                max: MAX,
            });
        }
        Ok(Self(v))
    }

    /// An empty list.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The items as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The items, consuming the list.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Deref for ShortVec<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: fmt::Debug, const MAX: usize> fmt::Debug for ShortVec<T, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<T: BorshSerialize, const MAX: usize> BorshSerialize for ShortVec<T, MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        write_len(writer, self.0.len(), MAX)?;
        for item in &self.0 {
            item.serialize(writer)?;
        }
        Ok(())
    }
}

impl<T: BorshDeserialize, const MAX: usize> BorshDeserialize for ShortVec<T, MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = read_len(reader, MAX, "list")?;
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            v.push(T::deserialize_reader(reader)?);
        }
        Ok(Self(v))
    }
}

impl<T: Serialize, const MAX: usize> Serialize for ShortVec<T, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for ShortVec<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_seq(AtMost::<T, MAX>(std::marker::PhantomData))?;
        Self::new(v).map_err(serde::de::Error::custom)
    }
}

/// A list of at most `MAX` items, encoded as borsh's `u32 count ‖ items`, for lists that may be
/// longer than 255 (batches of credentials, proofs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// Makes a bounded list, refusing one with too many items.
    pub fn new(v: Vec<T>) -> Result<Self, BoundError> {
        if v.len() > MAX {
            return Err(BoundError::TooLong {
                what: "list",
                len: v.len(),
                max: MAX,
            });
        }
        Ok(Self(v))
    }

    /// An empty list.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The items, consuming the list.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Deref for BoundedVec<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: fmt::Debug, const MAX: usize> fmt::Debug for BoundedVec<T, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<T: BorshSerialize, const MAX: usize> BorshSerialize for BoundedVec<T, MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl<T: BorshDeserialize, const MAX: usize> BorshDeserialize for BoundedVec<T, MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = u32::deserialize_reader(reader)? as usize;
        if len > MAX {
            return Err(invalid(&format!(
                "list of {len} items; at most {MAX} allowed"
            )));
        }
        // Capacity grows with the items actually read, so a false count in a short input
        // cannot make the decoder reserve memory up front.
        let mut v = Vec::with_capacity(len.min(64));
        for _ in 0..len {
            v.push(T::deserialize_reader(reader)?);
        }
        Ok(Self(v))
    }
}

impl<T: Serialize, const MAX: usize> Serialize for BoundedVec<T, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_seq(AtMost::<T, MAX>(std::marker::PhantomData))?;
        Self::new(v).map_err(serde::de::Error::custom)
    }
}

/// Reads a JSON (or other serde) list of at most `MAX` items, refusing it at the first item
/// past the limit, so a long list from a node or a file is not read whole before its length
/// is checked (as `Vec`'s own deserializer would).
struct AtMost<T, const MAX: usize>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> serde::de::Visitor<'de> for AtMost<T, MAX> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of at most {MAX} items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The size hint is the sender's claim: it sizes the first allocation only up to a
        // small bound.
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX).min(64));
        while let Some(item) = seq.next_element()? {
            if v.len() == MAX {
                return Err(serde::de::Error::custom(format!(
                    "list longer than {MAX} items; at most {MAX} allowed"
                )));
            }
            v.push(item);
        }
        Ok(v)
    }
}

fn write_len<W: Write>(writer: &mut W, len: usize, max: usize) -> std::io::Result<()> {
    if len > max {
        return Err(invalid(&format!("length {len} exceeds the limit {max}")));
    }
    let byte = u8::try_from(len).map_err(|_| invalid("length does not fit one byte"))?;
    writer.write_all(&[byte])
}

fn read_len<R: Read>(reader: &mut R, max: usize, what: &str) -> std::io::Result<usize> {
    let mut b = [0u8; 1];
    reader.read_exact(&mut b)?;
    let len = usize::from(b[0]);
    if len > max {
        return Err(invalid(&format!(
            "{what} of length {len}; at most {max} allowed"
        )));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{decode, encode};

    #[test]
    fn ident_refuses_uppercase_and_empty() {
        assert!(matches!(
            Ident::<8>::new("MoJ"),
            Err(BoundError::BadChar { .. })
        ));
        assert!(matches!(Ident::<8>::new(""), Err(BoundError::Empty { .. })));
        assert!(matches!(
            Ident::<3>::new("abcd"),
            Err(BoundError::TooLong { .. })
        ));
        assert_eq!(
            Ident::<8>::new("moj-1")
                .map(|i| i.to_string())
                .ok()
                .as_deref(),
            Some("moj-1")
        );
    }

    #[test]
    fn text_decoder_enforces_its_limit() {
        let long = encode(&Text::<10>::new("0123456789").unwrap_or_default());
        assert!(decode::<Text<9>>(&long, 64).is_err());
        assert!(decode::<Text<10>>(&long, 64).is_ok());
    }

    #[test]
    fn bounded_vec_refuses_a_false_count_without_allocating() {
        // A count of u32::MAX followed by nothing must fail fast, not reserve 4 G items.
        let bytes = [0xff, 0xff, 0xff, 0xff];
        assert!(decode::<BoundedVec<u64, { usize::MAX }>>(&bytes, 64).is_err());
    }

    /// In JSON, a list is refused at its first item past the limit, and one within the limit
    /// reads as before.
    #[test]
    fn json_lists_are_refused_at_the_first_item_past_the_limit() {
        let ok: BoundedVec<u8, 3> = serde_json::from_str("[1,2,3]").unwrap();
        assert_eq!(ok.to_vec(), [1, 2, 3]);
        let short: ShortVec<u8, 3> = serde_json::from_str("[]").unwrap();
        assert!(short.is_empty());
        // The error comes at the fourth item, before the rest of the text is read: the
        // garbage after it would be a different error if it were reached.
        let e = serde_json::from_str::<BoundedVec<u8, 3>>("[1,2,3,4,garbage")
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than 3 items"), "{e}");
        let e = serde_json::from_str::<ShortVec<u8, 2>>("[1,2,3]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than 2 items"), "{e}");
    }
}
