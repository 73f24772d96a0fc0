//! `governance propose | sign | submit`: a registry, validator or log-source change travels as
//! a proposal file that council members sign in turn (offline if they like); anyone submits it
//! once enough have signed. The ledger refuses it below the threshold.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use credledger_core::bounded::ShortVec;
use credledger_core::hash::Domain;
use credledger_core::ids::ChainId;
use credledger_core::sig::PublicKey;
use credledger_core::state::{GovernanceRecord, StateKey, StateValue};
use credledger_core::tx::{Approval, GovernanceAction, GovernanceProposal, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use credledger_issuer::files::{MAX_DOCUMENT_BYTES, read_limited};

use crate::ledger::{Committed, KeyArgs, LedgerArgs, Refused, RefusedUnsent};

/// Governance commands.
#[derive(Subcommand, Debug)]
pub enum GovernanceCommand {
    /// Write a proposal file for one action, with the council's next nonce from the ledger.
    ///
    /// The action is JSON (inline, or @file), for example:
    ///   {"action":"add_issuer_key","issuer":"moj","key_id":"moj-2026-02","public_key":"…","valid_from":1767225600000}
    ///   {"action":"revoke_issuer_key","issuer":"moj","key_id":"moj-2026-01","effective":1767312000000}
    ///   {"action":"add_issuer","issuer":"mof","name_zh":"財政部","name_en":"Ministry of Finance","kinds":["tax-certificate"]}
    ///   {"action":"add_validator","validator":{"name":"moda","public_key":"…","power":1}}
    ///   {"action":"remove_validator","public_key":"…"}
    ///   {"action":"add_log_source","source":"troad-ss1","name":"T-Road SS 1","public_key":"…"}
    ///
    /// Example: credledger-issuer governance propose --action @add-key.json --out p.json --genesis genesis.json --node http://127.0.0.1:26800
    #[command(verbatim_doc_comment)]
    Propose {
        /// The action as JSON, or @FILE.
        #[arg(long)]
        action: String,
        /// The proposal file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Add your approval to a proposal file (a council key, sealed like an issuer key).
    ///
    /// Example: credledger-issuer governance sign p.json --key council-1.key
    Sign {
        /// The proposal file (updated in place).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Submit a proposal with its approvals and wait for the commit.
    ///
    /// Example: credledger-issuer governance submit p.json --genesis genesis.json --node http://127.0.0.1:26800
    Submit {
        /// The proposal file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
}

/// A proposal file. Fields a later release adds to the file or its council record are passed
/// over rather than refused, so that council members need not all update at once: what each
/// signs is the canonical encoding of the chain id and the proposal alone, which no such field
/// changes. (A field added inside the proposal's action would be dropped by an older release,
/// which would then sign another message: its approval fails at the ledger, never counts for
/// an action it did not read.)
#[derive(Serialize, Deserialize)]
struct ProposalFile {
    chain_id: ChainId,
    proposal: GovernanceProposal,
    approvals: Vec<Approval>,
    /// The council as the ledger held it when the proposal was written, so that members who
    /// sign offline learn whether their key counts and how many approvals are still needed.
    /// Absent from files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    council: Option<Council>,
}

/// A governance council: its keys and the approvals an action needs.
#[derive(Serialize, Deserialize)]
struct Council {
    keys: Vec<PublicKey>,
    threshold: u8,
}

impl Council {
    fn of(g: &GovernanceRecord) -> Council {
        Council {
            keys: g.keys.to_vec(),
            threshold: g.threshold,
        }
    }

    /// How many of `approvals` are by members of this council.
    fn counted(&self, approvals: &[Approval]) -> usize {
        approvals
            .iter()
            .filter(|a| self.keys.contains(&a.key))
            .count()
    }
}

/// The transaction as committed, if a node has it committed: a submission that timed out may
/// have been the one that spent the proposal's nonce. One committed as failed is the ledger's
/// refusal.
fn already_committed(
    ledger: &crate::ledger::Ledger,
    tx: &Transaction,
) -> Result<Option<Committed>> {
    let id = tx.id().to_string();
    let a = ledger.nodes.tx_status(&id, true)?;
    match (a.body["state"].as_str(), &a.body["error"]) {
        (Some("committed"), Value::Null) => Ok(Some(Committed {
            tx: id,
            height: a.body["height"].as_u64().unwrap_or(0),
        })),
        (Some("committed"), Value::String(e)) => Err(Refused(e.clone()).into()),
        _ => Ok(None),
    }
}

/// The council's record, proven under a header the ledger's validators signed.
fn council_record(ledger: &crate::ledger::Ledger) -> Result<GovernanceRecord> {
    match ledger.state_entry("/v1/state/governance", &StateKey::Governance)? {
        Some(StateValue::Governance(g)) => Ok(g),
        _ => bail!("the ledger has no governance council record"),
    }
}

fn read(path: &Path) -> Result<ProposalFile> {
    let bytes = read_limited(path, MAX_DOCUMENT_BYTES, "a proposal file")
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a proposal file", path.display()))
}

fn write(path: &Path, f: &ProposalFile) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(f)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Runs a governance command.
pub fn run(cmd: &GovernanceCommand) -> Result<()> {
    match cmd {
        GovernanceCommand::Propose {
            action,
            out,
            json,
            ledger,
        } => {
            let text = match action.strip_prefix('@') {
                Some(f) => String::from_utf8(
                    read_limited(Path::new(f), MAX_DOCUMENT_BYTES, "an action file")
                        .with_context(|| format!("cannot read {f}"))?,
                )
                .map_err(|_| anyhow!("{f} is not UTF-8"))?,
                None => action.clone(),
            };
            let action: GovernanceAction =
                serde_json::from_str(&text).context("the action is not a governance action")?;
            let ledger = ledger.open()?;
            let council = council_record(&ledger)?;
            let nonce = council.next_nonce;
            if out.exists() {
                bail!("{} exists; choose another file", out.display());
            }
            write(
                out,
                &ProposalFile {
                    chain_id: ledger.genesis.chain_id.clone(),
                    proposal: GovernanceProposal { nonce, action },
                    approvals: Vec::new(),
                    council: Some(Council::of(&council)),
                },
            )?;
            if *json {
                println!(
                    "{}",
                    json!({ "file": out, "nonce": nonce.0, "threshold": council.threshold })
                );
            } else {
                println!(
                    "wrote {} (council nonce {}; {} of the council's {} keys must sign it)",
                    out.display(),
                    nonce.0,
                    council.threshold,
                    council.keys.len()
                );
            }
            Ok(())
        }
        GovernanceCommand::Sign { file, json, key } => {
            let mut f = read(file)?;
            let member = key.open()?;
            let public = member.key.public();
            if f.approvals.iter().any(|a| a.key == public) {
                bail!("{} already carries this key's approval", file.display());
            }
            if let Some(c) = &f.council
                && !c.keys.contains(&public)
            {
                bail!(
                    "key {public} is not one of the council's {} keys this proposal was written \
                     for; its approval would not count",
                    c.keys.len()
                );
            }
            let signature = member.key.sign(
                Domain::SignGovernance,
                &f.proposal.signing_message(&f.chain_id),
            );
            f.approvals.push(Approval {
                key: public,
                signature,
            });
            write(file, &f)?;
            let threshold = f.council.as_ref().map(|c| c.threshold);
            if *json {
                println!(
                    "{}",
                    json!({ "file": file, "approvals": f.approvals.len(), "threshold": threshold })
                );
            } else {
                let n = f.approvals.len();
                let counted = f.council.as_ref().map_or(n, |c| c.counted(&f.approvals));
                let next = match threshold {
                    Some(t) if counted >= usize::from(t) => {
                        format!(
                            "enough to submit it (`governance submit {}`)",
                            file.display()
                        )
                    }
                    Some(t) => format!("{} more needed", usize::from(t) - counted),
                    None => "the file does not record the council's threshold".to_string(),
                };
                println!(
                    "signed: {n} approval{} on {}; {next}",
                    if n == 1 { "" } else { "s" },
                    file.display()
                );
            }
            Ok(())
        }
        GovernanceCommand::Submit { file, json, ledger } => {
            let f = read(file)?;
            let ledger = ledger.open()?;
            if f.chain_id != ledger.genesis.chain_id {
                bail!(
                    "the proposal is for chain {}, not {}",
                    f.chain_id,
                    ledger.genesis.chain_id
                );
            }
            let council = council_record(&ledger)?;
            let counted = Council::of(&council).counted(&f.approvals);
            let nonce = f.proposal.nonce;
            let tx = Transaction::Governance {
                proposal: f.proposal,
                approvals: ShortVec::new(f.approvals).map_err(|e| anyhow!("approvals: {e}"))?,
            };
            let done = if nonce < council.next_nonce {
                // The nonce is spent: by this very proposal if an earlier submit committed it
                // (one that timed out, say), else by another action of the council's, which
                // only the node's answer to the submission can tell apart from a proposal
                // still on its way (exit 6, spec/http-api.md §1).
                match already_committed(&ledger, &tx)? {
                    Some(done) => done,
                    None => ledger.submit_tx(&tx)?,
                }
            } else {
                // At the council's current nonce the ledger's threshold rule is known
                // (spec/transactions.md §3.3): a proposal below it is refused before it is
                // sent, in the council's terms (exit 4).
                if nonce == council.next_nonce && counted < usize::from(council.threshold) {
                    return Err(RefusedUnsent(format!(
                        "{counted} approval{} by current council keys, {} needed: have more \
                         members sign it (`governance sign {}`)",
                        if counted == 1 { "" } else { "s" },
                        council.threshold,
                        file.display()
                    ))
                    .into());
                }
                ledger.submit_tx(&tx)?
            };
            if *json {
                println!(
                    "{}",
                    json!({ "committed": true, "height": done.height, "transaction": done.tx })
                );
            } else {
                println!(
                    "committed in block {} (transaction {})",
                    done.height, done.tx
                );
            }
            Ok(())
        }
    }
}
