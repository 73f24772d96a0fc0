//! Issuer signatures of many presentations checked together (spec/signatures.md §3): a verifier
//! that holds a batch of presentations checks their signatures in ZIP-215 batches, and `verify`
//! then finds each one's verdict here instead of checking it alone. ZIP-215 batch and single checks
//! accept exactly the same signatures, so a presentation's verdict never depends on the
//! company it arrives in.

use std::collections::HashSet;

use super::TrustAnchor;
use crate::hash::{Digest, Domain};
use crate::presentation::CompactPresentation;
use crate::sig::{BatchVerifier, PreparedKey, PublicKey, Signature, SignatureError};

/// Groups this small are checked one signature at a time: halving further costs more than it
/// saves.
const SMALLEST_BATCH: usize = 4;

/// One signature to check: the key (decompressed once, as the registry holds it, so a check
/// alone does not decompress it again), the body's digest (which names its signing message),
/// the signing message and the signature.
struct Item {
    key: PreparedKey,
    digest: Digest,
    message: Vec<u8>,
    signature: Signature,
}

/// Credential signatures known to be valid, or invalid, under ZIP-215, by `(key, body digest,
/// signature)`.
#[derive(Debug, Default)]
pub struct SignatureBatch {
    valid: HashSet<(PublicKey, Digest, Signature)>,
    invalid: HashSet<(PublicKey, Digest, Signature)>,
}

/// The signatures of some presentations, gathered from the registry so they can be checked
/// without holding it (a verifier's trust lock, say).
#[derive(Default)]
pub struct SignatureItems(Vec<Item>);

impl SignatureItems {
    /// How many signatures are gathered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no signature is gathered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Moves `other`'s signatures into these, so the signatures of several presentations
    /// gathered apart (concurrent scans, say) are checked in one batch.
    pub fn append(&mut self, other: &mut SignatureItems) {
        self.0.append(&mut other.0);
    }
}

impl SignatureBatch {
    /// No signature checked in advance: `verify` checks each one alone.
    pub fn none() -> Self {
        Self::default()
    }

    /// Checks the issuer signatures of `presentations` whose key `anchor` registers:
    /// [`SignatureBatch::items`] then [`SignatureBatch::check_items`].
    pub fn check<'a>(
        presentations: impl IntoIterator<Item = &'a CompactPresentation>,
        anchor: &TrustAnchor,
    ) -> Self {
        Self::check_items(Self::items(presentations, anchor))
    }

    /// The signatures of `presentations` whose key `anchor` registers, with their messages.
    pub fn items<'a>(
        presentations: impl IntoIterator<Item = &'a CompactPresentation>,
        anchor: &TrustAnchor,
    ) -> SignatureItems {
        let registry = anchor.registry();
        let items: Vec<Item> = presentations
            .into_iter()
            .filter_map(|c| {
                let key = registry.key(&c.body.issuer, &c.body.key_id)?;
                let message = c.body.signing_message(anchor.chain_id());
                Some(Item {
                    key: key.prepared.clone(),
                    digest: Domain::Credential.hash(&[&message]),
                    message,
                    signature: c.signature,
                })
            })
            .collect();
        SignatureItems(items)
    }

    /// Checks `items` in batches. A batch that holds records all of its signatures as valid.
    /// A batch that fails is halved, and each half that fails is halved again, down to groups
    /// of four checked one by one. So the work grows with the number of forgeries times the
    /// logarithm of the batch's size, not with the batch: a forgery or two among a busy
    /// verifier's genuine scans cost the others a few smaller batches, never a single check
    /// each. Every signature ends up recorded as valid or invalid. Genuine signatures by one
    /// key cost about a quarter of a single check each; a batch of nothing but forgeries costs
    /// about two single checks per signature at 64 (one per level of halving, at a quarter
    /// each, plus the last single checks), the forger's own requests paying for most of it.
    pub fn check_items(items: SignatureItems) -> Self {
        let mut checked = Self::none();
        if items.0.len() <= 1 {
            // A batch of one costs more than the single check it would replace.
            checked.check_alone(&items.0);
        } else if checked.batch_holds(&items.0) {
            checked.mark_valid(&items.0);
        } else {
            checked.find_forgeries(&items.0);
        }
        checked
    }

    /// How many signatures are recorded as valid.
    pub fn valid_count(&self) -> usize {
        self.valid.len()
    }

    /// How many signatures are recorded as invalid.
    pub fn invalid_count(&self) -> usize {
        self.invalid.len()
    }

    fn batch_holds(&self, items: &[Item]) -> bool {
        let mut batch = BatchVerifier::new();
        for i in items {
            batch.queue(
                &i.key.public(),
                Domain::SignCredential,
                &i.message,
                &i.signature,
            );
        }
        batch.verify().is_ok()
    }

    fn mark_valid(&mut self, items: &[Item]) {
        self.valid.extend(
            items
                .iter()
                .map(|i| (i.key.public(), i.digest, i.signature)),
        );
    }

    fn check_alone(&mut self, items: &[Item]) {
        for i in items {
            let entry = (i.key.public(), i.digest, i.signature);
            match i
                .key
                .verify(Domain::SignCredential, &i.message, &i.signature)
            {
                Ok(()) => self.valid.insert(entry),
                Err(_) => self.invalid.insert(entry),
            };
        }
    }

    /// `items`, checked together, failed.
    fn find_forgeries(&mut self, items: &[Item]) {
        if items.len() <= SMALLEST_BATCH {
            self.check_alone(items);
            return;
        }
        let (left, right) = items.split_at(items.len() / 2);
        if self.batch_holds(left) {
            // The forgery is on the right, which therefore fails as a whole.
            self.mark_valid(left);
            self.find_forgeries(right);
        } else if self.batch_holds(right) {
            self.mark_valid(right);
            self.find_forgeries(left);
        } else {
            // Forgeries on both sides: each side is searched the same way, so two forgeries
            // cost two searches, not a single check of every signature.
            self.find_forgeries(left);
            self.find_forgeries(right);
        }
    }

    /// The ZIP-215 check of `signature` over `message` (whose digest is `digest`) under `key`:
    /// found among the signatures checked in a batch, valid or not, or else checked alone.
    pub(crate) fn holds(
        &self,
        key: &PreparedKey,
        digest: &Digest,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        let entry = (key.public(), *digest, *signature);
        if self.valid.contains(&entry) {
            return Ok(());
        }
        if self.invalid.contains(&entry) {
            return Err(SignatureError::Invalid);
        }
        key.verify(Domain::SignCredential, message, signature)
    }
}
