//! The application side of the engine: answers every request Malachite makes (build a block,
//! check a streamed one, commit a decision, serve and take synced blocks), over a [`Chain`].
//!
//! Safety rests on two rules kept here: a block body is stored durably before consensus hears
//! of it (so a restarted validator can still commit what its log decides), and a block is
//! committed only on `Decided`, with the engine's certificate.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_malachitebft_app_channel::app::engine::host::{HeightParams, Next};
use arc_malachitebft_app_channel::app::streaming::StreamId;
use arc_malachitebft_app_channel::app::types::core::{CommitCertificate as MCommit, Round};
use arc_malachitebft_app_channel::app::types::sync::RawDecidedValue;
use arc_malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId};
use arc_malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use bytes::Bytes;
use credledger_core::block::{Block, Header, ValidatorSet as CoreSet};
use credledger_core::encoding::encode;
use credledger_core::ids::Height as CoreHeight;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::chain::{Chain, ChainError, Pending};
use super::codec::engine_commit;
use super::context::{Address, BlockId, Ctx, Height, ProposalHead, ValidatorSet};
use super::early::EarlyProposals;
use super::pacing::{HeldProposal, Hold, Pacing};
use super::peers::{PeerGate, request};
use super::rotation;
use super::signing::to_core_commit;
use super::streams::{Streams, split};

mod received;

use received::proposed;

/// Blocks served to a syncing peer per request.
const SYNC_BATCH: u64 = 16;

/// Consensus progress, shared with the metrics endpoint.
#[derive(Debug, Default)]
pub struct Progress {
    /// The height consensus works on.
    pub height: AtomicU64,
    /// Its round.
    pub round: AtomicU64,
    /// Peers connected now (refreshed every few seconds).
    pub peers: AtomicU64,
    /// Validators that propose last at this height (spec/blocks.md §7.1).
    pub absent: AtomicU64,
}

/// The application state of one node's consensus.
pub struct App<C: Chain> {
    chain: Arc<C>,
    me: Option<Address>,
    pacing: Pacing,
    progress: Arc<Progress>,
    height: Height,
    round: Round,
    streams: Streams,
    early: EarlyProposals,
    stream_nonce: u64,
    peers: PeerGate,
    last_set: Option<(CoreSet, ValidatorSet)>,
    /// The height whose absent validators were last worked out, and them.
    absent: Option<(u64, rotation::Absence)>,
    /// The committed headers that height's order was worked out from (rotation.rs).
    window: VecDeque<Header>,
    /// When the current height's first round started here.
    height_started: Instant,
    /// The engine's request for this node's proposal, while it waits for a transaction or,
    /// on a busy chain, for its block to grow.
    held: Option<HeldProposal>,
    /// The one block each validator has streamed for each round of the heights not yet
    /// committed: another block from it for the same round is dropped unexecuted.
    streamed: BTreeMap<(Height, u32, PeerId), BlockId>,
}

fn fatal(what: &str, e: impl std::fmt::Display) -> ChainError {
    ChainError(format!("{what}: {e}"))
}

impl<C: Chain> App<C> {
    /// The application for a validator (`me`) or an observer (`None`).
    pub fn new(
        chain: Arc<C>,
        me: Option<Address>,
        pacing: Pacing,
        progress: Arc<Progress>,
        peers: PeerGate,
    ) -> Self {
        App {
            chain,
            me,
            pacing,
            progress,
            height: Height(0),
            round: Round::Nil,
            streams: Streams::default(),
            early: EarlyProposals::default(),
            stream_nonce: 0,
            peers,
            last_set: None,
            absent: None,
            window: VecDeque::new(),
            height_started: Instant::now(),
            held: None,
            streamed: BTreeMap::new(),
        }
    }

    /// The engine's set for height `h`, with the members that propose last there.
    fn set(&mut self, h: Height) -> Result<ValidatorSet, ChainError> {
        let core = self.chain.validator_set(CoreHeight(h.0))?;
        self.height_set(h, &core)
    }

    fn height_set(&mut self, h: Height, core: &CoreSet) -> Result<ValidatorSet, ChainError> {
        let absent = self.absent_at(h, core)?.members;
        Ok(self.engine_set(core)?.with_absent(absent))
    }

    /// Who proposes last at `h` (rotation.rs), from the committed headers before it; kept for
    /// the height, which asks for its set several times.
    fn absent_at(&mut self, h: Height, core: &CoreSet) -> Result<rotation::Absence, ChainError> {
        if let Some((at, absent)) = &self.absent
            && *at == h.0
        {
            return Ok(absent.clone());
        }
        let w = rotation::window(core.validators().len());
        let first = h.0.checked_sub(w).filter(|f| *f >= 1);
        // Committed headers never change, so the window slides: only the heights it gained
        // are read (one per height in a steady chain or a catch-up).
        let recent = &mut self.window;
        match first {
            Some(first) => {
                recent.retain(|hd| hd.height.0 >= first && hd.height.0 < h.0);
                if recent.front().is_some_and(|hd| hd.height.0 != first) {
                    recent.clear();
                }
                let mut k = recent.back().map_or(first, |hd| hd.height.0 + 1);
                while k < h.0 {
                    // Every height below `h` is committed when `h` is asked about; a missing
                    // header would make this node's order differ from the others'.
                    let header = self.chain.header(CoreHeight(k))?.ok_or_else(|| {
                        ChainError(format!(
                            "header {k} is missing, needed for the proposer order of height {h}"
                        ))
                    })?;
                    recent.push_back(header);
                    k += 1;
                }
            }
            None => recent.clear(),
        }
        let absent = rotation::absent_members(core, h.0, recent.make_contiguous());
        self.absent = Some((h.0, absent.clone()));
        Ok(absent)
    }

    /// The engine's form of a set. The last one is kept: sets rarely change, and converting
    /// one decompresses every key, which shows in a catch-up's profile.
    fn engine_set(&mut self, core: &CoreSet) -> Result<ValidatorSet, ChainError> {
        if let Some((known, set)) = &self.last_set
            && known == core
        {
            return Ok(set.clone());
        }
        let set = ValidatorSet::from_core(core).map_err(|e| fatal("validator set", e))?;
        self.last_set = Some((core.clone(), set.clone()));
        Ok(set)
    }

    /// What height `h` starts with: the set that signs it, whose peers are admitted and
    /// those that left it dropped (peers.rs), the timeouts and the pacing.
    fn start_height(
        &mut self,
        h: Height,
        channels: &Channels<Ctx>,
    ) -> Result<HeightParams<Ctx>, ChainError> {
        let core = self.chain.validator_set(CoreHeight(h.0))?;
        let changes = self.peers.follow(&core);
        if !changes.is_empty() {
            let unsent = request(changes, CoreHeight(h.0), &channels.net_requests);
            self.peers.retry(&unsent);
        }
        let absence = self.absent_at(h, &core)?;
        let absent = absence.members.iter().filter(|a| **a).count();
        self.progress.absent.store(absent as u64, Ordering::Relaxed);
        let turn = (h.0 % core.validators().len().max(1) as u64) as usize;
        // A retried validator likely stays away: its round waits less (pacing.rs).
        let timeouts = if absence.retry {
            tracing::debug!(
                height = h.0,
                "the validator whose turn it is comes back for a retry"
            );
            self.pacing.retry_timeouts()
        } else {
            if absence.members.get(turn) == Some(&true) {
                tracing::debug!(
                    height = h.0,
                    absent,
                    "the validator whose turn it is built none of the last 2n blocks: it proposes last"
                );
            }
            self.pacing.timeouts
        };
        let set = self.engine_set(&core)?.with_absent(absence.members);
        // No target time: the engine finalizes each height as soon as it is decided; only the
        // proposer paces (pacing.rs).
        Ok(HeightParams::new(set, timeouts, None))
    }

    fn next_height(&self) -> Result<Height, ChainError> {
        Ok(Height(self.chain.last_height()?.0 + 1))
    }

    /// Serves the engine until it stops; returns only on a failure the node cannot go on from.
    pub async fn run(mut self, channels: &mut Channels<Ctx>) -> Result<(), ChainError> {
        let arrivals = self.chain.arrivals();
        loop {
            let msg = match self.held.as_ref().map(|h| (h.until, h.hold)) {
                None => channels.consensus.recv().await,
                Some((until, hold)) => tokio::select! {
                    msg = channels.consensus.recv() => msg,
                    () = tokio::time::sleep_until(until) => {
                        self.propose_held(channels).await?;
                        continue;
                    }
                    () = arrivals.notified(), if hold == Hold::Idle => {
                        if self.chain.has_waiting_transactions() {
                            self.propose_held(channels).await?;
                        }
                        continue;
                    }
                },
            };
            let Some(msg) = msg else {
                return Ok(());
            };
            self.handle(msg, channels).await?;
        }
    }

    /// Builds and sends the proposal the engine asked for, at once or when it was held.
    async fn propose(
        &mut self,
        channels: &mut Channels<Ctx>,
        height: Height,
        round: Round,
        timeout: Duration,
        reply: oneshot::Sender<LocallyProposedValue<Ctx>>,
    ) -> Result<(), ChainError> {
        let pending = self.own_value(height, round, timeout)?;
        let id = BlockId(pending.block.header.hash());
        let _ = reply.send(LocallyProposedValue::new(height, round, id));
        self.stream(
            channels,
            &pending.block,
            height,
            round,
            Round::Nil,
            pending.proposer,
        )
        .await;
        Ok(())
    }

    async fn propose_held(&mut self, channels: &mut Channels<Ctx>) -> Result<(), ChainError> {
        match self.held.take() {
            Some(h) => {
                self.propose(channels, h.height, h.round, h.timeout, h.reply)
                    .await
            }
            None => Ok(()),
        }
    }

    async fn handle(
        &mut self,
        msg: AppMsg<Ctx>,
        channels: &mut Channels<Ctx>,
    ) -> Result<(), ChainError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let h = self.next_height()?;
                tracing::info!(height = h.0, "consensus ready");
                let params = self.start_height(h, channels)?;
                let _ = reply.send((h, params));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                self.started_round(height, round)?;
                let values = self
                    .chain
                    .pending_at(CoreHeight(height.0))?
                    .into_iter()
                    .filter(|p| Some(p.round) == round.as_u32())
                    .map(|p| proposed(height, &p))
                    .collect();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let ready = self.chain.has_waiting_transactions();
                let waiting = self.chain.waiting_transactions();
                let now = Instant::now();
                match self.pacing.hold_until(
                    round,
                    ready,
                    waiting,
                    self.height_started,
                    now,
                    timeout,
                ) {
                    Some((until, hold)) => {
                        self.held = Some(HeldProposal {
                            height,
                            round,
                            until,
                            timeout,
                            reply,
                            hold,
                        });
                    }
                    None => {
                        self.propose(channels, height, round, timeout, reply)
                            .await?
                    }
                }
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let found = self
                    .chain
                    .pending_at(CoreHeight(height.0))?
                    .into_iter()
                    .find(|p| p.block.header.hash() == value_id.0);
                if let Some(p) = found {
                    self.stream(channels, &p.block, height, round, valid_round, address.0)
                        .await;
                }
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let origin = published_by.unwrap_or(from);
                let value = match self.streams.insert(origin, part, self.height) {
                    Some(done) => self.completed(done)?,
                    None => None,
                };
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.decided(&certificate)?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let next = Height(certificate.height.0 + 1);
                let params = self.start_height(next, channels)?;
                let _ = reply.send(Next::Start(next, params));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range.start().0, range.end().0)?);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self.synced(height, round, proposer, &value_bytes)?;
                let _ = reply.send(outcome);
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
        }
        Ok(())
    }

    fn started_round(&mut self, height: Height, round: Round) -> Result<(), ChainError> {
        self.progress.height.store(height.0, Ordering::Relaxed);
        self.progress
            .round
            .store(u64::from(round.as_u32().unwrap_or(0)), Ordering::Relaxed);
        // A held request for another height or round is stale: the engine has moved on.
        if self
            .held
            .as_ref()
            .is_some_and(|h| h.height != height || h.round != round)
        {
            self.held = None;
        }
        if height != self.height {
            self.height = height;
            self.height_started = Instant::now();
            self.streams.drop_below(height);
            self.streamed.retain(|(h, _, _), _| *h >= height);
            // Proposals that arrived before their height started are checked now.
            for c in self.early.take(height) {
                self.check_and_keep(c)?;
            }
        }
        self.round = round;
        Ok(())
    }

    /// The value this node proposes at (height, round): the one it built before, if it did
    /// (a restart must not propose a second block), else a new block from the mempool, with no
    /// more transactions than execute in a fifth of the round's propose `timeout`, so that
    /// building, sending and checking it fit in the round (spec/blocks.md §7).
    fn own_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<Pending, ChainError> {
        let r = round.as_u32().unwrap_or(0);
        if let Some(p) = self
            .chain
            .pending_at(CoreHeight(height.0))?
            .into_iter()
            .find(|p| p.own && p.round == r)
        {
            return Ok(p);
        }
        let me = self
            .me
            .ok_or_else(|| ChainError("an observer was asked to propose".into()))?;
        let index = self
            .set(height)?
            .index_of(&me)
            .ok_or_else(|| ChainError(format!("{me} is not in the validator set")))?;
        let block = self.chain.build(index as u16, timeout / 5)?;
        if block.header.height.0 != height.0 {
            return Err(ChainError(format!(
                "asked to propose height {height} but the ledger is at {}",
                block.header.height
            )));
        }
        let p = Pending {
            round: r,
            valid_round: None,
            proposer: me.0,
            own: true,
            valid: true,
            block,
        };
        self.chain.put_pending(&p, true)?;
        tracing::debug!(
            height = height.0,
            round = r,
            txs = p.block.transactions.len(),
            "built block"
        );
        Ok(p)
    }

    /// Publishes a block as proposal parts ([`split`]: one part if it fits, else a stream).
    async fn stream(
        &mut self,
        channels: &mut Channels<Ctx>,
        block: &Block,
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: credledger_core::sig::PublicKey,
    ) {
        self.stream_nonce += 1;
        let mut id = Vec::with_capacity(20);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_u32().unwrap_or(0).to_be_bytes());
        id.extend_from_slice(&self.stream_nonce.to_be_bytes());
        let head = ProposalHead {
            height,
            round,
            pol_round,
            proposer: Address(proposer),
        };
        let messages = split(
            StreamId::new(Bytes::from(id)),
            head,
            encode(block),
            BlockId(block.header.hash()),
        );
        for msg in messages {
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .is_err()
            {
                return;
            }
        }
    }

    fn decided(&mut self, cert: &MCommit<Ctx>) -> Result<(), ChainError> {
        let h = CoreHeight(cert.height.0);
        if self.chain.last_height()? >= h {
            return Ok(());
        }
        let block = self
            .chain
            .pending_at(h)?
            .into_iter()
            .find(|p| p.block.header.hash() == cert.value_id.0)
            .ok_or_else(|| {
                ChainError(format!(
                    "decided block {} of height {h} is not held",
                    cert.value_id
                ))
            })?
            .block;
        let commit =
            to_core_commit(cert, &self.set(cert.height)?).map_err(|e| fatal("certificate", e))?;
        self.chain.commit(&block, &commit)
    }

    fn decided_values(&self, from: u64, to: u64) -> Result<Vec<RawDecidedValue<Ctx>>, ChainError> {
        // The engine passes the peer's range unchecked: clamp it to what is held, and cap it.
        let last = self.chain.last_height()?.0;
        let from = from.max(1);
        let to = to.min(last).min(from.saturating_add(SYNC_BATCH - 1));
        let mut out = Vec::new();
        for h in from..=to {
            let Some((block, commit)) = self.chain.decided(CoreHeight(h))? else {
                break;
            };
            let set = self.chain.validator_set(CoreHeight(h))?;
            let id = BlockId(block.header.hash());
            out.push(RawDecidedValue::new(
                Bytes::from(encode(&block)),
                engine_commit(Height(h), id, &commit, &set),
            ));
        }
        Ok(out)
    }
}
