//! Signing and checking of votes, proposals and validator proofs for the engine, over the
//! sign-bytes core defines, so a vote signed here verifies in a commit certificate checked by
//! `core`. Malachite's Ed25519 crate signs; every check goes through `core::sig`, so votes,
//! proposals and commit certificates are judged by one implementation of ZIP-215.

use std::collections::HashMap;
use std::sync::Mutex;

use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommit, SignedMessage, ValidatorProof, VoteExtensionScope,
};
use arc_malachitebft_app_channel::{Signer, Verifier};
use arc_malachitebft_signing::{Error, VerificationResult};
use arc_malachitebft_signing_ed25519::{
    PrivateKey, PublicKey as EdPublicKey, Signature as EdSignature,
};
use async_trait::async_trait;
use credledger_core::block::{CommitCertificate, ProposalSignBytes};
use credledger_core::hash::Domain;
use credledger_core::ids::{ChainId, Height as CoreHeight, Round as CoreRound};
use credledger_core::sig::{PreparedKey, PublicKey, Signature};

use super::context::{Address, Ctx, Proposal, ValidatorSet, Vote};

/// Keys kept decompressed at most: a validator set's worth, so that a peer sending proofs for
/// ever new keys cannot grow the map.
const MAX_PREPARED: usize = 256;

/// Signs for one validator and checks others' signatures, for one chain.
pub struct ConsensusSigner {
    chain_id: ChainId,
    key: PrivateKey,
    /// Validators' keys, decompressed once: every vote and proposal is checked against one of
    /// the set's few keys, and decompressing it again for each took about 2 % of a validator's
    /// time per block.
    prepared: Mutex<HashMap<[u8; 32], PreparedKey>>,
}

impl ConsensusSigner {
    /// The signer of the validator with this 32-byte seed.
    pub fn new(chain_id: ChainId, seed: [u8; 32]) -> ConsensusSigner {
        ConsensusSigner {
            chain_id,
            key: PrivateKey::from(seed),
            prepared: Mutex::new(HashMap::new()),
        }
    }

    /// `core`'s ZIP-215 check of `sig` over `message` framed under `domain` (spec/signatures.md
    /// §2): the rule commit certificates are checked by, from the same code, so the engine
    /// never counts a vote that a certificate made of it would fail, nor the reverse.
    fn check(&self, key: &[u8; 32], domain: Domain, message: &[u8], sig: &EdSignature) -> bool {
        let sig = Signature(sig.to_bytes());
        let prepared = self.prepared.lock().ok().and_then(|mut keys| {
            if let Some(k) = keys.get(key) {
                return Some(k.clone());
            }
            let k = PublicKey(*key).prepare().ok()?;
            if keys.len() < MAX_PREPARED {
                keys.insert(*key, k.clone());
            }
            Some(k)
        });
        match prepared {
            Some(k) => k.verify(domain, message, &sig).is_ok(),
            // A key `prepare` refuses (not a point, or of small order) is in no validator set;
            // it is judged exactly as before, by the same ZIP-215 check on the raw key.
            None => PublicKey(*key).verify_zip215(domain, message, &sig).is_ok(),
        }
    }

    /// This validator's address.
    pub fn address(&self) -> Address {
        Address(credledger_core::sig::PublicKey(
            *self.key.public_key().as_bytes(),
        ))
    }

    /// A vote's message, before framing under [`Domain::SignVote`].
    fn vote_message(&self, vote: &Vote) -> Vec<u8> {
        vote.sign_bytes(&self.chain_id).message()
    }

    /// A proposal's message, before framing under [`Domain::SignProposal`].
    fn proposal_message(&self, p: &Proposal) -> Vec<u8> {
        ProposalSignBytes {
            chain_id: self.chain_id.clone(),
            height: CoreHeight(p.height.0),
            round: CoreRound(p.round.as_u32().unwrap_or(u32::MAX)),
            pol_round: p.pol_round.as_u32().map(CoreRound),
            block: p.value.0,
        }
        .message()
    }
}

#[async_trait]
impl Signer<Ctx> for ConsensusSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<Ctx, Vote>, Error> {
        let sig = self
            .key
            .sign(&Domain::SignVote.signing_bytes(&self.vote_message(&vote)));
        Ok(SignedMessage::new(vote, sig))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<Ctx, Proposal>, Error> {
        let sig = self
            .key
            .sign(&Domain::SignProposal.signing_bytes(&self.proposal_message(&proposal)));
        Ok(SignedMessage::new(proposal, sig))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<Ctx>,
        _ext: (),
    ) -> Result<SignedMessage<Ctx, ()>, Error> {
        // Vote extensions are disabled: nothing is ever signed as one.
        Err(Error::from_source(
            "vote extensions are not used by credledger",
        ))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<Ctx>, Error> {
        // Malachite's own preimage ("PoV" ‖ lengths ‖ key ‖ peer id) cannot collide with our
        // domain-framed messages, which start with the tag's length byte.
        let sig = self
            .key
            .sign(&ValidatorProof::<Ctx>::signing_bytes(&public_key, &peer_id));
        Ok(ValidatorProof::new(public_key, peer_id, sig))
    }
}

#[async_trait]
impl Verifier<Ctx> for ConsensusSigner {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        sig: &EdSignature,
        key: &EdPublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::from_bool(self.check(
            key.as_bytes(),
            Domain::SignVote,
            &self.vote_message(vote),
            sig,
        )))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        sig: &EdSignature,
        key: &EdPublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::from_bool(self.check(
            key.as_bytes(),
            Domain::SignProposal,
            &self.proposal_message(proposal),
            sig,
        )))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<Ctx>,
        _ext: &(),
        _sig: &EdSignature,
        _key: &EdPublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<Ctx>,
    ) -> Result<VerificationResult, Error> {
        let Ok(bytes) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(VerificationResult::from_bool(zip215(
            &bytes,
            &proof.preimage(),
            &proof.signature,
        )))
    }
}

/// `core`'s ZIP-215 check of `sig` over `framed`: Malachite's validator proof, whose preimage is
/// its own, not one of our domains (checked once per connection).
fn zip215(key: &[u8; 32], framed: &[u8], sig: &EdSignature) -> bool {
    PublicKey(*key)
        .verify_zip215_raw(framed, &Signature(sig.to_bytes()))
        .is_ok()
}

/// An engine certificate refers to a validator outside the set.
#[derive(Debug, thiserror::Error)]
#[error("commit signature by {0}, which is not in the height's validator set")]
pub struct UnknownSigner(pub Address);

/// The engine's commit certificate in core's compact form (bitmap and signatures in validator
/// order), which is what the node stores and serves (spec/blocks.md §4).
pub fn to_core_commit(
    cert: &MCommit<Ctx>,
    set: &ValidatorSet,
) -> Result<CommitCertificate, UnknownSigner> {
    let mut sigs = Vec::with_capacity(cert.commit_signatures.len());
    for cs in &cert.commit_signatures {
        let i = set.index_of(&cs.address).ok_or(UnknownSigner(cs.address))?;
        sigs.push((i, Signature(cs.signature.to_bytes())));
    }
    let round = CoreRound(cert.round.as_u32().unwrap_or(u32::MAX));
    Ok(CommitCertificate::from_signatures(
        round,
        set_len(set),
        sigs,
    ))
}

fn set_len(set: &ValidatorSet) -> usize {
    use arc_malachitebft_app_channel::app::types::core::ValidatorSet as _;
    set.count()
}
