//! Issuer signatures of many presentations checked together (spec/signatures.md §3): a verifier
//! that holds a batch of presentations checks their signatures in ZIP-215 batches, and `verify`
//! then finds each valid one here instead of checking it alone. ZIP-215 batch and single checks
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

/// One signature to check: the key, the body's digest (which names its signing message), the
/// signing message and the signature.
struct Item {
    key: PublicKey,
    digest: Digest,
    message: Vec<u8>,
    signature: Signature,
}

/// Credential signatures known to be valid under ZIP-215, by `(key, body digest, signature)`.
#[derive(Debug, Default)]
pub struct SignatureBatch {
    valid: HashSet<(PublicKey, Digest, Signature)>,
}

impl SignatureBatch {
    /// No signature checked in advance: `verify` checks each one alone.
    pub fn none() -> Self {
        Self::default()
    }

    /// Checks the issuer signatures of `presentations` whose key `anchor` registers. A batch
    /// that holds records all of its signatures as valid; a batch that fails is halved and each
    /// half checked again, so one forged presentation costs a few more batches, not a single
    /// check for every other one. Signatures found invalid are not recorded: `verify` checks
    /// them alone and refuses them by name.
    pub fn check<'a>(
        presentations: impl IntoIterator<Item = &'a CompactPresentation>,
        anchor: &TrustAnchor,
    ) -> Self {
        let registry = anchor.registry();
        let items: Vec<Item> = presentations
            .into_iter()
            .filter_map(|c| {
                let key = registry.key(&c.body.issuer, &c.body.key_id)?;
                let message = c.body.signing_message(anchor.chain_id());
                Some(Item {
                    key: key.prepared.public(),
                    digest: Domain::Credential.hash(&[&message]),
                    message,
                    signature: c.signature,
                })
            })
            .collect();
        let mut checked = Self::none();
        checked.check_group(&items);
        checked
    }

    /// How many signatures are recorded as valid.
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.valid.is_empty()
    }

    fn check_group(&mut self, items: &[Item]) {
        if items.len() <= SMALLEST_BATCH {
            for i in items {
                if i.key
                    .verify_zip215(Domain::SignCredential, &i.message, &i.signature)
                    .is_ok()
                {
                    self.valid.insert((i.key, i.digest, i.signature));
                }
            }
            return;
        }
        let mut batch = BatchVerifier::new();
        for i in items {
            batch.queue(&i.key, Domain::SignCredential, &i.message, &i.signature);
        }
        if batch.verify().is_ok() {
            self.valid
                .extend(items.iter().map(|i| (i.key, i.digest, i.signature)));
        } else {
            let (left, right) = items.split_at(items.len() / 2);
            self.check_group(left);
            self.check_group(right);
        }
    }

    /// The ZIP-215 check of `signature` over `message` (whose digest is `digest`) under `key`:
    /// found among the signatures checked in a batch, or else checked alone.
    pub(crate) fn holds(
        &self,
        key: &PreparedKey,
        digest: &Digest,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        if self.valid.contains(&(key.public(), *digest, *signature)) {
            return Ok(());
        }
        key.verify(Domain::SignCredential, message, signature)
    }
}
