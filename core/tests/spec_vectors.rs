//! The accept/reject vectors of spec/vectors/: every case is checked with `verify_text`, and the
//! files must equal what this code generates, so an encoding or hashing change cannot slip in
//! unnoticed. To change the format on purpose, regenerate with
//! `CREDLEDGER_REGENERATE_VECTORS=1 cargo test -p credledger-core --test spec_vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credledger_core::block::HEADER_VERSION;
use credledger_core::credential::{Disclosure, HeldCredential};
use credledger_core::devnet::{Devnet, DevnetParams, LAWYER_LICENSE, master_from_text};
use credledger_core::genesis::Genesis;
use credledger_core::ids::Timestamp;
use credledger_core::presentation::Presentation;
use credledger_core::state::{CredentialStatus, IssuerKeyRecord, ReasonCode};
use credledger_core::testkit::{World, lawyer_claims};
use credledger_core::verify::{Policy, TrustAnchor, verify_text};
use serde_json::{Value, json};

fn t(ms_after_genesis: u64) -> Timestamp {
    Timestamp(DevnetParams::default().genesis_time.0 + ms_after_genesis)
}

struct Case {
    name: &'static str,
    description: &'static str,
    text: String,
    now: Timestamp,
    policy: &'static str,
}

fn mutate(p: &Presentation, f: impl FnOnce(&mut Presentation)) -> Presentation {
    let mut q = p.clone();
    f(&mut q);
    q
}

/// Builds the vector world: a 7-validator devnet whose genesis also holds a revoked MOJ key.
fn generate() -> (Genesis, Vec<Case>) {
    let params = DevnetParams {
        validators: 7,
        ..DevnetParams::default()
    };
    let mut devnet = Devnet::build(&master_from_text("spec-vectors"), &params).unwrap();
    let old =
        credledger_core::sig::Keypair::from_seed(&master_from_text("spec-vectors/moj-2025-01"));
    let mut keys = devnet.genesis.issuer_keys.clone().into_inner();
    keys.push(IssuerKeyRecord {
        issuer: "moj".parse().unwrap(),
        key_id: "moj-2025-01".parse().unwrap(),
        public_key: old.public(),
        valid_from: t(0),
        revoked_from: Some(t(5_000)),
    });
    devnet.genesis.issuer_keys = credledger_core::bounded::ShortVec::new(keys).unwrap();
    devnet
        .issuer_keys
        .push(("moj".into(), "moj-2025-01".into(), old));
    let genesis = devnet.genesis.clone();
    let mut w = World::with_devnet(devnet);

    let good = w.lawyer_license(1, Some(t(10 * 365 * 86_400_000)));
    let expiring = w.lawyer_license(2, Some(t(15_000)));
    let revoked = w.lawyer_license(3, None);
    let suspended = w.lawyer_license(4, None);
    let old_key = w.issue(
        "moj",
        "moj-2025-01",
        LAWYER_LICENSE,
        5,
        &lawyer_claims(5),
        None,
    );
    let wrong_kind = w.issue(
        "moea",
        "moea-2026-01",
        LAWYER_LICENSE,
        6,
        &lawyer_claims(6),
        None,
    );
    let all: [&HeldCredential; 4] = [&good, &expiring, &revoked, &suspended];
    for c in all {
        w.publish(c);
    }
    // States an honest ledger refuses, written directly so that the vectors show verifiers
    // refusing them too: a credential of a key whose revocation reaches back before its
    // publication, and a kind its issuer may not issue.
    w.force_publish(&old_key, t(10_000));
    w.force_publish(&wrong_kind, t(10_000));
    w.commit(t(10_000));
    w.set_status(
        &revoked,
        CredentialStatus::Revoked {
            reason: ReasonCode::Disciplinary,
        },
    );
    w.set_status(
        &suspended,
        CredentialStatus::Suspended {
            reason: ReasonCode::ConditionNotMet,
        },
    );
    w.commit(t(20_000));

    let now = t(22_000);
    let full = w.full(&good, None);
    let qr = |p: &Presentation| p.to_qr_text();
    let case = |name, description, p: &Presentation, now, policy| Case {
        name,
        description,
        text: qr(p),
        now,
        policy,
    };
    let mut cases = vec![
        case(
            "valid-full",
            "full presentation, all claims, fresh status",
            &full,
            now,
            "live",
        ),
        Case {
            text: full.to_url_text(),
            ..case(
                "valid-full-url-form",
                "the same in the URL form",
                &full,
                now,
                "live",
            )
        },
        case(
            "valid-full-selective",
            "name and license number shown, two claims hidden",
            &w.full(&good, Some(&["name", "license_no"])),
            now,
            "live",
        ),
        case(
            "valid-offline-old-status",
            "status 10 minutes old, reported as of its time",
            &full,
            t(620_000),
            "offline",
        ),
        case(
            "valid-compact-genuineness",
            "compact form, status not required",
            &World::compact(&good, None),
            now,
            "genuineness",
        ),
        case(
            "status-unavailable",
            "compact form where status is required",
            &World::compact(&good, None),
            now,
            "live",
        ),
        case(
            "stale-status",
            "status older than the 10 s bound",
            &full,
            t(60_000),
            "live",
        ),
        case(
            "expired",
            "validity ended at +15 s",
            &w.full(&expiring, None),
            now,
            "live",
        ),
        case(
            "not-yet-valid",
            "checked before the validity window",
            &full,
            Timestamp(t(0).0 - 1_000),
            "offline",
        ),
        case(
            "revoked",
            "revoked for disciplinary action",
            &w.full(&revoked, None),
            now,
            "live",
        ),
        case(
            "suspended",
            "suspended, condition not met",
            &w.full(&suspended, None),
            now,
            "live",
        ),
        case(
            "key-not-valid-at-issuance",
            "signed with a key revoked from +5 s, published at +10 s",
            &w.full(&old_key, None),
            now,
            "live",
        ),
        case(
            "kind-not-authorized",
            "the economic ministry issuing a lawyer license",
            &w.full(&wrong_kind, None),
            now,
            "live",
        ),
    ];
    cases.push(case(
        "claims-mismatch",
        "a disclosed claim value changed",
        &mutate(&full, |p| {
            if let Presentation::Full { compact, .. } = p
                && let Disclosure::All { values, .. } = &mut compact.disclosure
            {
                let mut v = values.clone().into_inner();
                v[0] = credledger_core::bounded::Text::new("李大華").unwrap();
                *values = credledger_core::bounded::ShortVec::new(v).unwrap();
            }
        }),
        now,
        "live",
    ));
    cases.push(case(
        "bad-signature",
        "validity end moved by the holder",
        &mutate(&full, |p| {
            if let Presentation::Full { compact, .. } = p {
                compact.body.valid_until = None;
            }
        }),
        now,
        "live",
    ));
    cases.push(case(
        "unknown-issuer",
        "an issuer that is not registered",
        &mutate(&full, |p| {
            if let Presentation::Full { compact, .. } = p {
                compact.body.issuer = "mohw".parse().unwrap();
            }
        }),
        now,
        "live",
    ));
    cases.push(case(
        "bad-commit",
        "one commit signature altered",
        &mutate(&full, |p| {
            if let Presentation::Full { evidence, .. } = p {
                let mut s = evidence.commit.signatures.clone().into_inner();
                s[1].0[7] ^= 0x20;
                evidence.commit.signatures = credledger_core::bounded::BoundedVec::new(s).unwrap();
            }
        }),
        now,
        "live",
    ));
    cases.push(case(
        "bad-state-proof",
        "a node claims an older publication time",
        &mutate(&full, |p| {
            if let Presentation::Full { evidence, .. } = p {
                evidence.record.published_at = t(9_000);
            }
        }),
        now,
        "live",
    ));
    cases.push(case(
        "header-version",
        "status header of an unknown version",
        &mutate(&full, |p| {
            if let Presentation::Full { evidence, .. } = p {
                evidence.header.version = HEADER_VERSION + 1;
            }
        }),
        now,
        "live",
    ));
    cases.push(case(
        "wrong-chain",
        "status header from another chain",
        &mutate(&full, |p| {
            if let Presentation::Full { evidence, .. } = p {
                evidence.header.chain_id = "credledger-other".parse().unwrap();
            }
        }),
        now,
        "live",
    ));
    let bytes = full.to_bytes();
    let url = |b: &[u8]| format!("cl1.{}", URL_SAFE_NO_PAD.encode(b));
    let raw = |name, description, text: String| Case {
        name,
        description,
        text,
        now,
        policy: "live",
    };
    cases.push(raw(
        "truncated",
        "last byte missing",
        url(&bytes[..bytes.len() - 1]),
    ));
    cases.push(raw(
        "trailing-bytes",
        "one byte appended",
        url(&[bytes.as_slice(), &[0]].concat()),
    ));
    cases.push(raw(
        "unknown-prefix",
        "not a credledger text",
        "HC1:6BFOXN%TS3DH0YOJ58S".into(),
    ));
    cases.push(raw(
        "oversized",
        "over the byte limit",
        url(&vec![0u8; 4500]),
    ));
    (genesis, cases)
}

fn policy(name: &str) -> Policy {
    match name {
        "live" => Policy::LIVE,
        "offline" => Policy::OFFLINE,
        "genuineness" => Policy::GENUINENESS,
        other => panic!("unknown policy {other}"),
    }
}

fn outcome(text: &str, anchor: &TrustAnchor, now: Timestamp, policy: &Policy) -> (String, String) {
    match verify_text(text, anchor, now, policy) {
        Ok(_) => ("valid".into(), "VALID".into()),
        Err(r) => {
            let v = serde_json::to_value(&r).unwrap();
            let o = serde_json::to_value(r.outcome()).unwrap();
            (
                v["rejection"].as_str().unwrap().to_string(),
                o.as_str().unwrap().to_string(),
            )
        }
    }
}

fn render(genesis: &Genesis, cases: &[Case]) -> (String, String) {
    let anchor = TrustAnchor::from_genesis(genesis).unwrap();
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            let (expect, outcome) = outcome(&c.text, &anchor, c.now, &policy(c.policy));
            json!({
                "name": c.name,
                "description": c.description,
                "policy": c.policy,
                "now_ms": c.now.0,
                "expect": expect,
                "outcome": outcome,
                "text": c.text,
            })
        })
        .collect();
    let doc = json!({
        "about": "Accept and reject cases for verify(); see spec/README.md. Checked against genesis.json in this folder.",
        "genesis_hash": genesis.hash().to_hex(),
        "cases": list,
    });
    (
        genesis.to_json() + "\n",
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
}

#[test]
fn spec_vectors_are_current_and_hold() {
    let (genesis, cases) = generate();
    let (genesis_json, cases_json) = render(&genesis, &cases);
    let dir = common::spec_vectors();
    if std::env::var_os("CREDLEDGER_REGENERATE_VECTORS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("genesis.json"), &genesis_json).unwrap();
        std::fs::write(dir.join("presentations.json"), &cases_json).unwrap();
    }
    let on_disk_genesis =
        std::fs::read_to_string(dir.join("genesis.json")).expect("spec/vectors/genesis.json");
    let on_disk_cases = std::fs::read_to_string(dir.join("presentations.json"))
        .expect("spec/vectors/presentations.json");
    assert!(
        on_disk_genesis == genesis_json && on_disk_cases == cases_json,
        "spec/vectors differ from what the code generates: the format changed. If on purpose, regenerate \
         (CREDLEDGER_REGENERATE_VECTORS=1) and review the diff."
    );

    // Check every case from the files alone, as another implementation would.
    let g = Genesis::from_json(on_disk_genesis.as_bytes()).unwrap();
    let anchor = TrustAnchor::from_genesis(&g).unwrap();
    let doc: Value = serde_json::from_str(&on_disk_cases).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let mut expects = std::collections::BTreeSet::new();
    for c in cases {
        let now = Timestamp(c["now_ms"].as_u64().unwrap());
        let (got, outcome) = outcome(
            c["text"].as_str().unwrap(),
            &anchor,
            now,
            &policy(c["policy"].as_str().unwrap()),
        );
        assert_eq!(got, c["expect"].as_str().unwrap(), "case {}", c["name"]);
        assert_eq!(
            outcome,
            c["outcome"].as_str().unwrap(),
            "case {}",
            c["name"]
        );
        expects.insert(got);
    }
    // The cases must exercise every verdict they name, not collapse into a few.
    for want in [
        "valid",
        "status_unavailable",
        "stale_status",
        "expired",
        "not_yet_valid",
        "revoked",
        "suspended",
        "key_not_valid_at_issuance",
        "kind_not_authorized",
        "claims_mismatch",
        "bad_signature",
        "unknown_issuer",
        "bad_commit",
        "bad_state_proof",
        "wrong_chain",
        "header_version",
        "malformed",
        "oversized",
    ] {
        assert!(expects.contains(want), "no vector expects {want}");
    }
}
