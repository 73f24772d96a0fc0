//! A devnet genesis and all its keys, derived from one 32-byte master seed.
//!
//! The genesis tool calls this with a random seed (or `--seed` for tests); tests and benchmarks
//! call it with fixed seeds, so every run sees the same chain.

use crate::block::Validator;
use crate::bounded::{BoundedVec, Ident, ShortVec, Text};
use crate::claim_format::ClaimFormat;
use crate::genesis::{GENESIS_VERSION, Genesis};
use crate::hash::Domain;
use crate::ids::{ChainId, ClaimKey, IssuerId, KeyId, KindId, LogSourceId, Timestamp, VotingPower};
use crate::sig::Keypair;
use crate::state::{ClaimDef, IssuerKeyRecord, IssuerRecord, KindDef, LogSourceRecord};

/// Ministries that run the devnet's validators, in order.
pub const VALIDATOR_NAMES: [&str; 10] = [
    "moj", "moea", "moda", "ndc", "moi", "mof", "mohw", "moe", "mol", "mac",
];

/// The kind id of lawyer licenses.
pub const LAWYER_LICENSE: &str = "lawyer-license";
/// The kind id of company registration certificates.
pub const COMPANY_REGISTRATION: &str = "company-registration";

/// What to build.
#[derive(Clone, Debug)]
pub struct DevnetParams {
    /// The chain id.
    pub chain_id: String,
    /// Number of validators (4 to 10).
    pub validators: usize,
    /// Number of governance keys.
    pub governance_keys: usize,
    /// Approvals a governance action needs.
    pub governance_threshold: u8,
    /// Genesis time.
    pub genesis_time: Timestamp,
}

impl Default for DevnetParams {
    fn default() -> Self {
        DevnetParams {
            chain_id: "credledger-devnet".into(),
            validators: 4,
            governance_keys: 3,
            governance_threshold: 2,
            // 2026-01-01T00:00:00Z.
            genesis_time: Timestamp(1_767_225_600_000),
        }
    }
}

/// A devnet genesis and the secret keys behind it.
#[derive(Debug)]
pub struct Devnet {
    /// The genesis document.
    pub genesis: Genesis,
    /// Validator keys, in the order of [`VALIDATOR_NAMES`].
    pub validator_keys: Vec<(String, Keypair)>,
    /// Governance keys.
    pub governance_keys: Vec<(String, Keypair)>,
    /// Issuer keys: `(issuer, key id, key)`.
    pub issuer_keys: Vec<(String, String, Keypair)>,
    /// Log source keys: `(source, key)`.
    pub log_source_keys: Vec<(String, Keypair)>,
}

/// Why a devnet could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevnetError {
    /// A parameter is out of range.
    #[error("{0}")]
    BadParam(String),
}

/// The master seed for a text seed (`credledger-genesis init --seed TEXT`).
pub fn master_from_text(seed: &str) -> [u8; 32] {
    crate::hash::sha256(&[b"credledger-devnet-seed:", seed.as_bytes()]).0
}

fn key(master: &[u8; 32], label: &str) -> Keypair {
    Keypair::from_seed(
        &Domain::DevnetDerive
            .hash(&[b"key", master, label.as_bytes()])
            .0,
    )
}

fn text<const N: usize>(s: &str) -> Result<Text<N>, DevnetError> {
    Text::new(s).map_err(|e| DevnetError::BadParam(e.to_string()))
}

fn claim(key: &str, zh: &str, en: &str, format: ClaimFormat) -> Result<ClaimDef, DevnetError> {
    Ok(ClaimDef {
        key: ClaimKey::new(key).map_err(|e| DevnetError::BadParam(e.to_string()))?,
        label_zh: text(zh)?,
        label_en: text(en)?,
        format,
    })
}

fn ident<T: std::str::FromStr<Err = crate::bounded::BoundError>>(
    s: &str,
) -> Result<T, DevnetError> {
    s.parse()
        .map_err(|e: crate::bounded::BoundError| DevnetError::BadParam(e.to_string()))
}

impl Devnet {
    /// Builds the devnet from a master seed.
    pub fn build(master: &[u8; 32], params: &DevnetParams) -> Result<Devnet, DevnetError> {
        if !(4..=VALIDATOR_NAMES.len()).contains(&params.validators) {
            return Err(DevnetError::BadParam(format!(
                "validators must be between 4 and {}; got {}",
                VALIDATOR_NAMES.len(),
                params.validators
            )));
        }
        if params.governance_keys == 0
            || params.governance_keys > 32
            || params.governance_threshold == 0
            || usize::from(params.governance_threshold) > params.governance_keys
        {
            return Err(DevnetError::BadParam(format!(
                "governance threshold {} of {} keys is not possible",
                params.governance_threshold, params.governance_keys
            )));
        }
        let chain_id: ChainId = ident(&params.chain_id)?;

        let validator_keys: Vec<(String, Keypair)> = VALIDATOR_NAMES[..params.validators]
            .iter()
            .map(|n| (format!("{n}-node"), key(master, &format!("validator/{n}"))))
            .collect();
        let mut validators = Vec::new();
        for (name, k) in &validator_keys {
            validators.push(Validator {
                name: Ident::new(name.as_str())
                    .map_err(|e| DevnetError::BadParam(e.to_string()))?,
                public_key: k.public(),
                power: VotingPower(1),
            });
        }
        validators.sort_by_key(|v| v.public_key);

        let governance_keys: Vec<(String, Keypair)> = (1..=params.governance_keys)
            .map(|i| {
                (
                    format!("council-{i}"),
                    key(master, &format!("governance/{i}")),
                )
            })
            .collect();
        let mut council: Vec<_> = governance_keys.iter().map(|(_, k)| k.public()).collect();
        council.sort();

        let kinds = vec![
            KindDef {
                id: ident(COMPANY_REGISTRATION)?,
                name_zh: text("公司登記證明")?,
                name_en: text("Company registration certificate")?,
                claims: ShortVec::new(vec![
                    claim(
                        "company_name",
                        "公司名稱",
                        "Company name",
                        ClaimFormat::Text,
                    )?,
                    claim(
                        "ubn",
                        "統一編號",
                        "Unified business number",
                        ClaimFormat::Ubn,
                    )?,
                    claim(
                        "cert_type",
                        "證明類別",
                        "Certificate type",
                        ClaimFormat::Text,
                    )?,
                    claim(
                        "registered",
                        "核准設立日期",
                        "Date of registration",
                        ClaimFormat::Date,
                    )?,
                ])
                .map_err(|e| DevnetError::BadParam(e.to_string()))?,
            },
            KindDef {
                id: ident(LAWYER_LICENSE)?,
                name_zh: text("律師證書")?,
                name_en: text("Lawyer license")?,
                claims: ShortVec::new(vec![
                    claim("name", "姓名", "Name", ClaimFormat::Text)?,
                    claim(
                        "license_no",
                        "證書字號",
                        "License number",
                        ClaimFormat::Text,
                    )?,
                    claim("bar", "所屬律師公會", "Bar association", ClaimFormat::Text)?,
                    claim(
                        "admitted",
                        "執業日期",
                        "Date of admission",
                        ClaimFormat::Date,
                    )?,
                ])
                .map_err(|e| DevnetError::BadParam(e.to_string()))?,
            },
        ];

        let issuer =
            |id: &str, zh: &str, en: &str, kind: &str| -> Result<IssuerRecord, DevnetError> {
                Ok(IssuerRecord {
                    id: ident(id)?,
                    name_zh: text(zh)?,
                    name_en: text(en)?,
                    kinds: ShortVec::new(vec![ident::<KindId>(kind)?])
                        .map_err(|e| DevnetError::BadParam(e.to_string()))?,
                    removed_at: None,
                })
            };
        let issuers = vec![
            issuer(
                "moea",
                "經濟部",
                "Ministry of Economic Affairs",
                COMPANY_REGISTRATION,
            )?,
            issuer("moj", "法務部", "Ministry of Justice", LAWYER_LICENSE)?,
        ];

        let issuer_keys: Vec<(String, String, Keypair)> =
            [("moj", "moj-2026-01"), ("moea", "moea-2026-01")]
                .iter()
                .map(|(i, k)| {
                    (
                        i.to_string(),
                        k.to_string(),
                        key(master, &format!("issuer/{i}/{k}")),
                    )
                })
                .collect();
        let mut key_records = Vec::new();
        for (i, kid, k) in &issuer_keys {
            key_records.push(IssuerKeyRecord {
                issuer: ident::<IssuerId>(i)?,
                key_id: ident::<KeyId>(kid)?,
                public_key: k.public(),
                valid_from: params.genesis_time,
                revoked_from: None,
            });
        }

        let log_source_keys = vec![(
            "troad-demo-ss1".to_string(),
            key(master, "log-source/troad-demo-ss1"),
        )];
        let mut sources = Vec::new();
        for (id, k) in &log_source_keys {
            sources.push(LogSourceRecord {
                id: ident::<LogSourceId>(id)?,
                name: text("T-Road demo security server 1")?,
                public_key: k.public(),
                last_sequence: 0,
                last_size: 0,
                last_root: crate::merkle::empty_root(),
                removed_at: None,
            });
        }

        let bad = |e: crate::bounded::BoundError| DevnetError::BadParam(e.to_string());
        let genesis = Genesis {
            version: GENESIS_VERSION,
            chain_id,
            genesis_time: params.genesis_time,
            validators: BoundedVec::new(validators).map_err(bad)?,
            governance_keys: ShortVec::new(council).map_err(bad)?,
            governance_threshold: params.governance_threshold,
            kinds: ShortVec::new(kinds).map_err(bad)?,
            issuers: ShortVec::new(issuers).map_err(bad)?,
            issuer_keys: ShortVec::new(key_records).map_err(bad)?,
            log_sources: ShortVec::new(sources).map_err(bad)?,
        };
        Ok(Devnet {
            genesis,
            validator_keys,
            governance_keys,
            issuer_keys,
            log_source_keys,
        })
    }

    /// The key of an issuer's key id.
    pub fn issuer_key(&self, issuer: &str, key_id: &str) -> Option<&Keypair> {
        self.issuer_keys
            .iter()
            .find(|(i, k, _)| i == issuer && k == key_id)
            .map(|(_, _, k)| k)
    }
}
