//! An operator makes an issuer key sealed under a passphrase, checks it, and is told clearly
//! when the passphrase is wrong or the file was damaged.

use credledger_tests::run;

#[test]
fn an_issuer_key_is_sealed_owner_only_and_opens_with_its_passphrase_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("moj-2026-02.key");
    let good = dir.path().join("pass.txt");
    let bad = dir.path().join("wrong.txt");
    std::fs::write(&good, "correct horse battery staple\n").unwrap();
    std::fs::write(&bad, "incorrect horse\n").unwrap();
    let k = key.to_str().unwrap();

    let out = run(
        "credledger-issuer",
        &[
            "key",
            "generate",
            "--issuer",
            "moj",
            "--key-id",
            "moj-2026-02",
            "--out",
            k,
            "--passphrase-file",
            good.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let made: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(made["key_id"], "moj-2026-02");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let out = run(
        "credledger-issuer",
        &[
            "key",
            "show",
            k,
            "--check",
            "--passphrase-file",
            good.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(shown["public_key"], made["public_key"]);

    // Never replaced.
    let out = run(
        "credledger-issuer",
        &[
            "key",
            "generate",
            "--issuer",
            "moj",
            "--key-id",
            "moj-2026-02",
            "--out",
            k,
            "--passphrase-file",
            good.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("never replaced"), "{}", out.stderr);

    // A wrong passphrase: exit 3, and the message says what to do. A passphrase given on
    // the command line is used without `--check`.
    let out = run(
        "credledger-issuer",
        &["key", "show", k, "--passphrase-file", bad.to_str().unwrap()],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("passphrase does not open key moj-2026-02"),
        "{}",
        out.stderr
    );

    // A damaged file: exit 3, naming the file.
    let text = std::fs::read_to_string(&key)
        .unwrap()
        .replace("moj-2026-02", "moj-2026-09");
    let damaged = dir.path().join("damaged.key");
    std::fs::write(&damaged, text).unwrap();
    let out = run(
        "credledger-issuer",
        &[
            "key",
            "show",
            damaged.to_str().unwrap(),
            "--check",
            "--passphrase-file",
            good.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("damaged.key"), "{}", out.stderr);
}
