//! credledger's Malachite `Context`: the consensus engine's view of heights, validators,
//! proposals and votes, built on core's types (spec/adr/001-consensus-malachite.md).
//!
//! Newtypes are needed because both Malachite's traits and core's types are foreign here; none
//! of them leaves the consensus module.

use std::fmt;

use arc_malachitebft_app_channel::app::types::core::{
    self as mc, NilOrVal, Round, SignedExtension, VoteType,
};
use arc_malachitebft_signing_ed25519::{Ed25519, PublicKey as EdPublicKey};
use credledger_core::block::{ValidatorSet as CoreSet, VoteKind, VoteSignBytes};
use credledger_core::hash::Digest;
use credledger_core::ids::{ChainId, Height as CoreHeight, Round as CoreRound};
use credledger_core::sig::PublicKey;

/// A block height as the engine counts it; never 0 (the engine's WAL does not replay there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its consensus public key, so the set's order by address is its order
/// by key, which is the order of the commit bitmap (spec/blocks.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub PublicKey);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Address for Address {}

/// What consensus agrees on: a block's hash. The body travels as proposal parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub Digest);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// One validator with its key decoded for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    address: Address,
    key: EdPublicKey,
    power: u64,
}

impl mc::Validator<Ctx> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &EdPublicKey {
        &self.key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// A height's validator set, in core's order (by public key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total: u64,
    /// Members that go last in this height's proposer order (spec/blocks.md §7.1); empty when
    /// nobody does.
    absent: Vec<bool>,
}

impl ValidatorSet {
    /// The validators, in order.
    pub fn members(&self) -> &[Validator] {
        &self.validators
    }

    /// The same set for a height at which the members marked in `absent` (in set order) go
    /// last in the proposer order ([`super::rotation::absent_members`]).
    pub fn with_absent(mut self, absent: Vec<bool>) -> ValidatorSet {
        self.absent = absent;
        self
    }
}

/// A validator key the engine cannot use.
#[derive(Debug, thiserror::Error)]
#[error("validator key {0} is not a valid Ed25519 point")]
pub struct BadValidatorKey(pub PublicKey);

impl ValidatorSet {
    /// The engine's view of a core validator set.
    pub fn from_core(set: &CoreSet) -> Result<ValidatorSet, BadValidatorKey> {
        let mut validators = Vec::with_capacity(set.validators().len());
        for v in set.validators() {
            let key = EdPublicKey::from_bytes(v.public_key.0)
                .map_err(|_| BadValidatorKey(v.public_key))?;
            validators.push(Validator {
                address: Address(v.public_key),
                key,
                power: v.power.0,
            });
        }
        Ok(ValidatorSet {
            validators,
            total: set.total_power(),
            absent: Vec::new(),
        })
    }

    /// The position of an address, which is its bit in a commit certificate.
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
    }
}

impl mc::ValidatorSet<Ctx> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.total
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.index_of(address).and_then(|i| self.validators.get(i))
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A proposal of a block hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block's hash.
    pub value: BlockId,
    /// The round of the polka this re-proposal rests on, or nil.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl mc::Proposal<Ctx> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// Who proposes a block, at which height and round: what a proposal's stream opens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProposalHead {
    /// Height.
    pub height: Height,
    /// Round the block is proposed in.
    pub round: Round,
    /// The round of the polka a re-proposal rests on, or nil.
    pub pol_round: Round,
    /// The validator proposing it in `round`.
    pub proposer: Address,
}

/// A piece of a proposed block as streamed to peers: the encoded block in chunks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Who built the block, for which height and round.
    Init(ProposalHead),
    /// A chunk of the encoded block.
    Data(Vec<u8>),
    /// The block's hash, which the receiver checks against the reassembled block.
    Fin(BlockId),
    /// A block that fits one part, in one message: what `Init`, `Data` and `Fin` say in a
    /// stream of several (spec/blocks.md §7). Most blocks are this small, and every message
    /// costs each validator its relaying and signature checks.
    Whole {
        /// Who proposes it, at which height and round.
        head: ProposalHead,
        /// The encoded block, at most one part's bytes.
        block: Vec<u8>,
        /// The block's hash, which the receiver checks against the block.
        id: BlockId,
    },
}

impl mc::ProposalPart<Ctx> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init(_) | ProposalPart::Whole { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_) | ProposalPart::Whole { .. })
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// The voter.
    pub voter: Address,
}

impl Vote {
    /// The bytes this vote's signature covers (spec/blocks.md §3): everything but the voter.
    pub fn sign_bytes(&self, chain: &ChainId) -> VoteSignBytes {
        VoteSignBytes {
            chain_id: chain.clone(),
            kind: match self.kind {
                VoteType::Prevote => VoteKind::Prevote,
                VoteType::Precommit => VoteKind::Precommit,
            },
            height: CoreHeight(self.height.0),
            // Votes are only ever cast in a defined round; nil (-1) has no encoding.
            round: CoreRound(self.round.as_u32().unwrap_or(u32::MAX)),
            block: match self.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(id) => Some(id.0),
            },
        }
    }
}

impl mc::Vote<Ctx> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &Address {
        &self.voter
    }

    // Vote extensions are not used: credledger's votes carry nothing but the vote.
    fn extension(&self) -> Option<&SignedExtension<Ctx>> {
        None
    }

    fn take_extension(&mut self) -> Option<SignedExtension<Ctx>> {
        None
    }

    fn extend(self, _extension: SignedExtension<Ctx>) -> Self {
        self
    }
}

/// The proposer of `round` at `height`: round-robin over the set, shifted by height, so each
/// validator proposes in turn, with the set's absent members moved last (spec/blocks.md §7.1).
/// The one rule, for the engine and for checking who may stream a proposal.
pub fn proposer_of(set: &ValidatorSet, height: Height, round: Round) -> &Validator {
    let i = super::rotation::proposer_index(
        set.validators.len(),
        &set.absent,
        height.0,
        round.as_u32().unwrap_or(0),
    );
    // An empty set never reaches consensus: sets are checked non-empty when built.
    &set.validators[i.min(set.validators.len().saturating_sub(1))]
}

/// Whether validator `index` (in set order) can have built a block proposed in `round` on the
/// polka of `pol_round`: a new block names the round's proposer; a re-proposal keeps its
/// builder's index, the proposer of some round up to `pol_round` (spec/blocks.md §7). The
/// proposer order reads these indices (§7.1), so a block naming another builder would make a
/// member look present or absent at later heights.
pub fn may_have_built(
    set: &ValidatorSet,
    height: Height,
    round: Round,
    pol_round: Round,
    index: u16,
) -> bool {
    let n = set.validators.len();
    let built_in =
        |r: u32| super::rotation::proposer_index(n, &set.absent, height.0, r) == usize::from(index);
    match pol_round.as_u32() {
        None => built_in(round.as_u32().unwrap_or(0)),
        // The order repeats every n rounds, so the first n cover all earlier rounds.
        Some(vr) => (0..=vr).take(n).any(built_in),
    }
}

/// The context: the chain whose votes it builds.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The chain id every vote and proposal signs.
    pub chain_id: ChainId,
}

impl mc::Context for Ctx {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mc::LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin over the set, shifted by height, absent members last ([`proposer_of`]).
    fn select_proposer<'a>(
        &self,
        set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        proposer_of(set, height, round)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            kind: VoteType::Prevote,
            height,
            round,
            value,
            voter: address,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            kind: VoteType::Precommit,
            height,
            round,
            value,
            voter: address,
        }
    }
}
