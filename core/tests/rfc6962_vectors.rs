//! Known-answer tests of the Merkle module against the published RFC 6962 vectors
//! (transparency-dev/merkle testdata, in ../shared/vectors/rfc6962).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credledger_core::hash::Digest;
use credledger_core::merkle::{verify_consistency, verify_inclusion};
use serde_json::Value;

/// A vector hash, or `None` if it is not 32 bytes (such vectors expect an error).
fn digest(v: &Value) -> Option<Digest> {
    let bytes = STANDARD.decode(v.as_str()?).ok()?;
    Some(Digest(bytes.try_into().ok()?))
}

/// A vector root: some vectors use placeholder roots that are not 32 bytes where only their
/// equality matters; those are mapped to their SHA-256, which keeps equal ones equal.
fn root(v: &Value) -> Option<Digest> {
    let bytes = STANDARD.decode(v.as_str()?).ok()?;
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(d) => Some(Digest(d)),
        Err(_) => Some(credledger_core::hash::sha256(&[&bytes])),
    }
}

fn proof(v: &Value) -> Option<Vec<Digest>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(digest).collect(),
        _ => None,
    }
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn inclusion_vectors() {
    let Some(dir) = common::shared_vectors() else {
        return;
    };
    let files = files(&dir.join("rfc6962/inclusion"));
    assert!(
        files.len() > 50,
        "expected the full inclusion vector set, found {}",
        files.len()
    );
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let got = match (
            digest(&v["leafHash"]),
            digest(&v["root"]),
            proof(&v["proof"]),
        ) {
            (Some(leaf), Some(root), Some(p)) => verify_inclusion(
                &leaf,
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
                &p,
                &root,
            )
            .is_ok(),
            _ => false,
        };
        assert_eq!(got, !want_err, "{}: {}", f.display(), v["desc"]);
    }
}

#[test]
fn consistency_vectors() {
    let Some(dir) = common::shared_vectors() else {
        return;
    };
    let files = files(&dir.join("rfc6962/consistency"));
    assert!(
        files.len() > 30,
        "expected the full consistency vector set, found {}",
        files.len()
    );
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let got = match (root(&v["root1"]), root(&v["root2"]), proof(&v["proof"])) {
            (Some(r1), Some(r2), Some(p)) => verify_consistency(
                v["size1"].as_u64().unwrap(),
                v["size2"].as_u64().unwrap(),
                &r1,
                &r2,
                &p,
            )
            .is_ok(),
            _ => false,
        };
        assert_eq!(got, !want_err, "{}: {}", f.display(), v["desc"]);
    }
}
