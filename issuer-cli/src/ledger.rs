//! What the signing commands share: the ledger's trust root (the genesis file), the nodes to
//! talk to, the issuer key, and submitting one issuer transaction and waiting for its commit.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use credledger_core::TrustAnchor;
use credledger_core::block::{Block, CommitCertificate, Header};
use credledger_core::encoding::encode;
use credledger_core::genesis::Genesis;
use credledger_core::history::{CredentialEvent, CredentialHistory};
use credledger_core::ids::{CredentialId, Height, IssuerId, KeyId, Nonce, Timestamp};
use credledger_core::presentation::StatusEvidence;
use credledger_core::sig::Keypair;
use credledger_core::state::{CredentialRecord, StateKey, StateValue};
use credledger_core::tx::{IssuerAction, IssuerTx, Signed, Transaction};
use credledger_core::verify::{
    HeaderAnswer, Rejection, StateAnswer, check_header, learn_from_answer,
};
use serde_json::Value;

use credledger_issuer::keystore::KeyFile;

use crate::client::Nodes;
use crate::key::Passphrase;

/// The chain and its nodes.
#[derive(Args, Debug)]
pub struct LedgerArgs {
    /// The chain's genesis file: the only thing trusted (or `genesis` in the config file).
    #[arg(long, value_name = "FILE", env = "CREDLEDGER_GENESIS")]
    pub genesis: Option<PathBuf>,
    /// Node API URLs, tried in order (comma-separated or repeated; or `nodes` in the config).
    #[arg(
        long = "node",
        value_name = "URL",
        env = "CREDLEDGER_NODE",
        value_delimiter = ','
    )]
    pub nodes: Vec<String>,
}

/// The issuer key that signs.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// The sealed key file that signs: the issuer's, or for `governance sign` a council
    /// member's (`key generate`, `key import --plain` of a devnet key; or `key` in the config).
    #[arg(long, value_name = "FILE", env = "CREDLEDGER_KEY")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub pass: Passphrase,
}

/// An opened issuer key with the names it is registered under.
pub struct Issuer {
    /// The issuer.
    pub id: IssuerId,
    /// The key's id.
    pub key_id: KeyId,
    /// The key.
    pub key: Keypair,
}

impl KeyArgs {
    /// Opens the key file: its public fields and the key.
    pub fn open_file(&self) -> Result<(KeyFile, Keypair)> {
        let passphrase = self.pass.get(false)?;
        let path = match &self.key {
            Some(k) => k.clone(),
            None => crate::config::load()?.key.ok_or_else(|| {
                anyhow!("no key file: give --key FILE (or `key` in the config file)")
            })?,
        };
        Ok(credledger_issuer::keystore::read(&path, &passphrase)?)
    }

    /// Opens the key file of an issuer key.
    pub fn open(&self) -> Result<Issuer> {
        let (file, key) = self.open_file()?;
        Ok(Issuer {
            id: file
                .issuer
                .parse()
                .map_err(|e| anyhow!("issuer in key file: {e}"))?,
            key_id: file
                .key_id
                .parse()
                .map_err(|e| anyhow!("key id in key file: {e}"))?,
            key,
        })
    }
}

/// The genesis, its trust anchor and the nodes.
pub struct Ledger {
    /// The genesis.
    pub genesis: Genesis,
    /// What answers are checked against: genesis's validators and registry, and the validator
    /// sets learned since (spec/verification.md §3.1).
    anchor: Mutex<TrustAnchor>,
    /// Validator-set changes learned in this run.
    learned: AtomicUsize,
    /// The nodes.
    pub nodes: Nodes,
}

impl LedgerArgs {
    /// Reads the genesis and sets up the node client.
    pub fn open(&self) -> Result<Ledger> {
        let config = crate::config::load()?;
        let path = self.genesis.clone().or(config.genesis).ok_or_else(|| {
            anyhow!("no genesis: give --genesis FILE (or `genesis` in the config file)")
        })?;
        let genesis = read_genesis(&path)?;
        let anchor = TrustAnchor::from_genesis(&genesis)?;
        let nodes = if self.nodes.is_empty() {
            config.nodes
        } else {
            self.nodes.clone()
        };
        Ok(Ledger {
            genesis,
            anchor: Mutex::new(anchor),
            learned: AtomicUsize::new(0),
            nodes: Nodes::new(&nodes)?,
        })
    }
}

fn read_genesis(path: &Path) -> Result<Genesis> {
    let bytes = credledger_issuer::files::read_limited(
        path,
        credledger_issuer::files::MAX_GENESIS_BYTES,
        "a genesis file",
    )
    .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Genesis::from_json(&bytes)?)
}

/// The ledger refused a transaction; the message is the ledger's reason.
#[derive(Debug, thiserror::Error)]
#[error("the ledger refused it: {0}")]
pub struct Refused(pub String);

/// The ledger's proven state shows it would refuse a transaction, which was therefore not
/// sent; the message is the rule. The same exit code as [`Refused`].
#[derive(Debug, thiserror::Error)]
#[error("the ledger would refuse it, so it was not sent: {0}")]
pub struct RefusedUnsent(pub String);

/// A transaction was sent but its fate is not known: no commit within the wait, a full
/// mempool, or a conflict over its nonce (spec/http-api.md §1). It may still commit.
#[derive(Debug, thiserror::Error)]
#[error("transaction {tx} may still commit ({why}); check with `status` before sending it again")]
pub struct Unsettled {
    /// Transaction id.
    pub tx: String,
    /// What the node said, or that the wait ran out.
    pub why: String,
}

/// What became of a submitted transaction.
pub struct Committed {
    /// Transaction id.
    pub tx: String,
    /// Block height.
    pub height: u64,
}

impl Ledger {
    /// The issuer's next nonce in the committed state.
    pub fn next_nonce(&self, issuer: &IssuerId) -> Result<Nonce> {
        let answer = self
            .nodes
            .get(&format!("/v1/state/issuer-nonce/{issuer}"))?;
        if answer.status == 503 {
            bail!("the ledger has no committed block yet; try again in a moment");
        }
        match serde_json::from_value::<Option<StateValue>>(answer.body["value"].clone()) {
            Ok(Some(StateValue::Nonce { next })) => Ok(next),
            Ok(None) => Ok(Nonce(0)),
            _ => bail!(
                "the node's answer for the issuer nonce is not understood: {}",
                answer.body
            ),
        }
    }

    /// Signs `action` as `issuer` with its next nonce, submits it and waits for its commit;
    /// a refusal by the ledger is an error carrying the ledger's reason.
    pub fn submit(&self, issuer: &Issuer, action: IssuerAction) -> Result<Committed> {
        let tx = Transaction::Issuer(Signed::sign(
            &self.genesis.chain_id,
            IssuerTx {
                issuer: issuer.id.clone(),
                key_id: issuer.key_id.clone(),
                nonce: self.next_nonce(&issuer.id)?,
                action,
            },
            &issuer.key,
        ));
        self.submit_tx(&tx)
    }

    /// Submits a signed transaction and waits for its commit; a refusal by the ledger, at
    /// admission or in the block, is a [`Refused`] carrying the ledger's reason.
    pub fn submit_tx(&self, tx: &Transaction) -> Result<Committed> {
        let answer = self.nodes.submit(&encode(tx), 8_000)?;
        let message = || {
            answer.body["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| answer.body.to_string())
        };
        // spec/http-api.md §1: 422 is the ledger's refusal; anything else (a conflict over
        // the nonce, a full mempool, a timeout) says nothing of whether it will commit.
        if answer.status == 422 {
            return Err(Refused(message()).into());
        }
        if answer.status != 200 {
            return Err(Unsettled {
                tx: tx.id().to_string(),
                why: format!("the node answered {}: {}", answer.status, message()),
            }
            .into());
        }
        match (answer.body["state"].as_str(), &answer.body["error"]) {
            (Some("committed"), Value::Null) => Ok(Committed {
                tx: tx.id().to_string(),
                height: answer.body["height"].as_u64().unwrap_or(0),
            }),
            (Some("committed"), Value::String(e)) => Err(Refused(e.clone()).into()),
            _ => Err(Unsettled {
                tx: tx.id().to_string(),
                why: "admitted, but not committed within 8 s".into(),
            }
            .into()),
        }
    }

    /// A state entry (or its absence) from a node at `path`, checked against genesis: the
    /// commit by the validator set of its height and the state proof of `key` under its root.
    pub fn state_entry(&self, path: &str, key: &StateKey) -> Result<Option<StateValue>> {
        let answer = self.nodes.get(path)?;
        if answer.status == 503 {
            bail!("the ledger has no committed block yet; try again in a moment");
        }
        if answer.status != 200 && answer.status != 404 {
            bail!("the node answered {}: {}", answer.status, answer.body);
        }
        let a: StateAnswer = serde_json::from_value(answer.body)
            .context("the node's state answer is not understood")?;
        self.check_answer(&a, key)?;
        Ok(a.value)
    }

    /// Checks that `header` is committed on the genesis's chain (its commit by the validator
    /// set of its height), once per header in a run: the anchor keeps it as verified, and
    /// core's check of a later answer under it (`key affected` asks for every credential a
    /// key signed, and most share a few headers) then checks the proof only.
    fn check_committed(&self, header: &Header, commit: &CommitCertificate) -> Result<()> {
        self.check(|anchor| check_header(header, commit, anchor))?;
        self.anchor()?.mark_verified(header);
        Ok(())
    }

    /// Checks a state answer: its header as by [`Ledger::check_committed`], and its proof of
    /// `key` under the header's state root.
    fn check_answer(&self, a: &StateAnswer, key: &StateKey) -> Result<()> {
        self.check(|anchor| a.check(key, anchor))?;
        self.anchor()?.mark_verified(&a.header);
        Ok(())
    }

    /// Runs `check` against the anchor; if it fails because the validator set changed since
    /// what the anchor knows, learns the changes from the nodes and runs it once more.
    fn check(&self, check: impl Fn(&TrustAnchor) -> Result<(), Rejection>) -> Result<()> {
        // Bound first, so that the anchor's lock guard is dropped before the match: learning
        // takes the lock again.
        let first = check(&*self.anchor()?);
        match first {
            Err(r) if r.signed_by_an_unknown_set() => {
                self.learn_validator_sets()?;
                check(&*self.anchor()?)
                    .map_err(|r| anyhow!("the node's answer does not verify against genesis: {r}"))
            }
            other => {
                other.map_err(|r| anyhow!("the node's answer does not verify against genesis: {r}"))
            }
        }
    }

    fn anchor(&self) -> Result<std::sync::MutexGuard<'_, TrustAnchor>> {
        self.anchor
            .lock()
            .map_err(|_| anyhow!("the trust anchor's lock is poisoned"))
    }

    /// Learns every validator-set change the anchor does not know yet, each from the one
    /// header that announces it, checked by the set in force before it
    /// (spec/verification.md §3.1). The nodes' list of changes only says where to look.
    fn learn_validator_sets(&self) -> Result<()> {
        let answer = self.nodes.get("/v1/validator-sets")?;
        if answer.status != 200 {
            bail!("the node answered {} for its validator sets", answer.status);
        }
        let mut starts: Vec<SetStart> = serde_json::from_value(answer.body["sets"].clone())
            .context("the node's list of validator sets is not understood")?;
        // The list is a node's hint: changes are learned in height order, each once.
        starts.sort_by_key(|s| s.from);
        starts.dedup_by_key(|s| s.from);
        let mut anchor = self.anchor()?;
        let known = anchor
            .validator_sets()
            .map(|(h, _)| h)
            .max()
            .unwrap_or(Height(1));
        for start in starts.iter().filter(|s| s.from > known) {
            let at = Height(start.from.0 - 1);
            let mut learn = || -> Result<bool> {
                let answer = self.nodes.get(&format!("/v1/headers/{at}"))?;
                if answer.status != 200 {
                    bail!("the node answered {}", answer.status);
                }
                let h: HeaderAnswer = serde_json::from_value(answer.body)
                    .context("the node's header is not understood")?;
                Ok(learn_from_answer(&mut anchor, at, h)?.is_some())
            };
            let learned = learn().with_context(|| {
                format!(
                    "learning the validator set that signs from height {} on",
                    start.from
                )
            })?;
            // A listed height whose checked header announces no change was a wrong hint.
            if learned {
                self.learned.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// How many validator-set changes since genesis this run learned and checked.
    pub fn learned_sets(&self) -> usize {
        self.learned.load(Ordering::Relaxed)
    }

    /// A credential's status evidence from a node, checked against genesis: the commit by the
    /// validator set of its height and the state proof under the header's root.
    pub fn evidence(&self, issuer: &IssuerId, id: &str) -> Result<StatusEvidence> {
        let path = format!("/v1/credentials/{issuer}/{id}");
        Ok(self.checked_evidence(issuer, id, &path)?.0)
    }

    /// A credential's status evidence and its whole history, both checked: the evidence as by
    /// [`Ledger::evidence`], and the events by folding them to the proven record's history
    /// digest (spec/state.md §5.1).
    pub fn history(
        &self,
        issuer: &IssuerId,
        id: &str,
    ) -> Result<(StatusEvidence, CredentialHistory)> {
        let path = format!("/v1/credentials/{issuer}/{id}/history");
        let (ev, body) = self.checked_evidence(issuer, id, &path)?;
        let events: Vec<CredentialEvent> = serde_json::from_value(body["events"].clone())
            .context("the node's credential history is not understood")?;
        let history = CredentialHistory { events };
        history
            .check(&ev.record)
            .map_err(|e| anyhow!("the node's credential history does not hold: {e}"))?;
        Ok((ev, history))
    }

    /// The committed header at `h`, checked against genesis (its commit by the validator set
    /// of its height, learning set changes as needed).
    pub fn checked_header(&self, h: u64) -> Result<Header> {
        let answer = self.nodes.get_found(&format!("/v1/headers/{h}"))?;
        if answer.status != 200 {
            bail!("the node answered {} for header {h}", answer.status);
        }
        let a: HeaderAnswer = serde_json::from_value(answer.body)
            .with_context(|| format!("the node's header {h} is not understood"))?;
        if a.header.height.0 != h {
            bail!(
                "the node answered header {} when asked for {h}",
                a.header.height
            );
        }
        self.check_committed(&a.header, &a.commit)?;
        Ok(a.header)
    }

    /// The committed block at `h`, checked against genesis: its header as by
    /// [`Ledger::checked_header`], and its transactions against the header's root.
    pub fn checked_block(&self, h: u64) -> Result<Block> {
        let header = self.checked_header(h)?;
        let answer = self.nodes.get_found(&format!("/v1/blocks/{h}"))?;
        if answer.status != 200 {
            bail!("the node answered {} for block {h}", answer.status);
        }
        let block: Block = serde_json::from_value(answer.body["block"].clone())
            .with_context(|| format!("the node's block {h} is not understood"))?;
        if block.header != header || !block.transactions_match() {
            bail!("the node's block {h} is not the committed one");
        }
        Ok(block)
    }

    /// A credential's record, or its proven absence, checked against genesis as by
    /// [`Ledger::evidence`]; `None` only when no node has it and one proves, under a recent
    /// header, that no such credential exists. A node that lags behind is passed over for one
    /// that has it, and an old proof of absence is not believed: callers delete a holder's
    /// files on `None`.
    pub fn credential_record(
        &self,
        issuer: &IssuerId,
        id: &CredentialId,
    ) -> Result<Option<CredentialRecord>> {
        /// Oldest proof of absence believed, by its header's time: well above the longest
        /// block interval a chain may be configured with (60 s, spec/operations.md), since a
        /// node that lags behind is passed over anyway for one that has the credential.
        const MAX_ABSENCE_AGE_MS: u64 = 10 * 60_000;
        let path = format!("/v1/credentials/{issuer}/{id}");
        let answer = self.nodes.get_found(&path)?;
        if answer.status == 404 {
            // spec/http-api.md: a 404 for a credential carries the proof as `absence`.
            let a: StateAnswer = serde_json::from_value(answer.body["absence"].clone())
                .context("the node's proof of absence is not understood")?;
            let key = StateKey::Credential(issuer.clone(), *id);
            self.check_answer(&a, &key)?;
            let age = now().since(a.header.time);
            if age > MAX_ABSENCE_AGE_MS {
                bail!(
                    "the node proves credential {id} absent only as of block {} ({} s ago); \
                     ask a node that is up to date",
                    a.header.height,
                    age / 1_000
                );
            }
            return match a.value {
                None => Ok(None),
                Some(_) => bail!("the node answered 404 with a value for credential {id}"),
            };
        }
        Ok(Some(
            self.checked_evidence(issuer, &id.to_string(), &path)?
                .0
                .record,
        ))
    }

    fn checked_evidence(
        &self,
        issuer: &IssuerId,
        id: &str,
        path: &str,
    ) -> Result<(StatusEvidence, Value)> {
        let key = StateKey::Credential(
            issuer.clone(),
            id.parse().map_err(|e| anyhow!("credential id: {e}"))?,
        );
        let answer = self.nodes.get(path)?;
        if answer.status == 404 {
            // A node is not trusted to say "none": its answer carries a proof of the absence
            // under a committed header (spec/http-api.md §2), checked like any other answer.
            let absence: StateAnswer = serde_json::from_value(answer.body["absence"].clone())
                .with_context(|| {
                    format!(
                        "the node says there is no credential {id} of issuer {issuer}, without a \
                         proof of it: {}",
                        answer.body
                    )
                })?;
            if absence.value.is_some() {
                bail!("the node says credential {id} is absent but its answer holds a value");
            }
            self.check_answer(&absence, &key)?;
            bail!(
                "the ledger has no credential {id} of issuer {issuer} (its absence is proven as of \
                 block {})",
                absence.header.height
            );
        }
        if answer.status != 200 {
            bail!("the node answered {}: {}", answer.status, answer.body);
        }
        let ev: StatusEvidence = serde_json::from_value(answer.body.clone())
            .context("the node's evidence is not understood")?;
        self.check_answer(&StateAnswer::from(ev.clone()), &key)?;
        Ok((ev, answer.body))
    }
}

/// One entry of `GET /v1/validator-sets`.
#[derive(serde::Deserialize)]
struct SetStart {
    from: Height,
}

/// The clock, in ms since 1970: the one place the CLI reads it.
pub(crate) fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    )
}
