//! `credledger-genesis` and `credledger-node genesis-state` from a shell's point of view.

use credledger_core::genesis::Genesis;
use credledger_tests::run;

#[test]
fn init_check_hash_and_node_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();

    let init = run(
        "credledger-genesis",
        &["init", "--out", out, "--seed", "e2e", "--validators", "4"],
    );
    assert_eq!(init.code, 0, "{init:?}");
    let path = dir.path().join("genesis.json");
    let g = Genesis::from_json(&std::fs::read(&path).unwrap()).unwrap();
    assert!(init.stdout.contains(&g.hash().to_hex()));

    // Every key file is private to its owner.
    let keys: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        keys.len(),
        4 + 3 + 2 + 1,
        "validators, council, issuer keys, log source"
    );
    #[cfg(unix)]
    for k in &keys {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(k).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            k.display()
        );
    }

    let path_s = path.to_str().unwrap();
    let check = run("credledger-genesis", &["check", path_s]);
    assert_eq!(check.code, 0, "{check:?}");
    let hash = run("credledger-genesis", &["hash", path_s]);
    assert_eq!(hash.stdout.trim(), g.hash().to_hex());

    let node = run("credledger-node", &["genesis-state", "--genesis", path_s]);
    assert_eq!(node.code, 0, "{node:?}");
    let (root, _) = g.initial_state().unwrap();
    assert!(node.stdout.contains(&root.to_hex()), "{}", node.stdout);
}

#[test]
fn check_names_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert_eq!(
        run(
            "credledger-genesis",
            &["init", "--out", out, "--seed", "bad"]
        )
        .code,
        0
    );
    let path = dir.path().join("genesis.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["governance_threshold"] = 9.into();
    let first_issuer = v["issuers"][0].clone();
    v["issuers"].as_array_mut().unwrap().push(first_issuer);
    v["validators"].as_array_mut().unwrap().truncate(3);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();

    let check = run("credledger-genesis", &["check", path.to_str().unwrap()]);
    assert_eq!(check.code, 1, "{check:?}");
    for needle in [
        "governance_threshold is 9",
        "appears twice",
        "use at least 4",
    ] {
        assert!(
            check.stderr.contains(needle),
            "missing {needle:?} in {}",
            check.stderr
        );
    }

    std::fs::write(&path, b"{ not json").unwrap();
    let broken = run("credledger-genesis", &["check", path.to_str().unwrap()]);
    assert_eq!(broken.code, 2);
    assert!(
        broken.stderr.contains("is not a genesis document"),
        "{}",
        broken.stderr
    );
}
