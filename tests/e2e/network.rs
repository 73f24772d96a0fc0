//! Real validators on loopback, written like the scripts an operator would follow: they
//! commit, agree, survive crashes, stall without a quorum rather than fork, and refuse bad
//! transactions and outsiders (observers are in observers.rs).

use std::time::Duration;

use credledger_core::block::Validator;
use credledger_core::devnet::COMPANY_REGISTRATION;
use credledger_core::encoding::encode;
use credledger_core::sig::PublicKey;
use credledger_core::testkit::{World, governance_tx, lawyer_claims, publish_tx};
use credledger_core::tx::{GovernanceAction, Transaction};
use credledger_tests::net::Net;
use serde_json::Value;

pub(crate) const LONG: Duration = Duration::from_secs(60);

pub(crate) fn committed_on(net: &Net, i: usize, tx: &Transaction) -> Option<Value> {
    let s = net.get(i, &format!("/v1/tx/{}", tx.id()))?;
    (s["state"] == "committed").then_some(s)
}

#[test]
fn four_validators_commit_agree_and_refuse_bad_transactions() {
    let net = Net::start(4, 0);
    let genesis = std::fs::read(net.dir.path().join("genesis.json")).unwrap();
    let g = credledger_core::genesis::Genesis::from_json(&genesis).unwrap();
    assert_eq!(
        g.hash(),
        net.devnet.genesis.hash(),
        "the harness signs for this genesis"
    );
    for i in 0..4 {
        assert!(
            net.wait_height(i, 3, LONG),
            "validator {i} commits:\n{}",
            net.log(i)
        );
    }

    // A transaction sent to one validator is committed on all, with one history.
    let world = World::with_devnet(net.devnet_copy());
    let c = world.lawyer_license(1, None);
    let tx = publish_tx(&net.devnet, "moj", "moj-2026-01", 0, &[&c]);
    let (code, body) = net.submit(2, &encode(&tx));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], tx.id().to_string());
    let mut at = 0;
    for i in 0..4 {
        assert!(
            net.wait(LONG, || committed_on(&net, i, &tx).is_some()),
            "committed on validator {i}:\n{}",
            net.log(i)
        );
        let s = committed_on(&net, i, &tx).unwrap();
        assert_eq!(s["error"], Value::Null, "accepted: {s}");
        at = s["height"].as_u64().unwrap();
    }
    let hashes: Vec<_> = (0..4).map(|i| net.header_hash(i, at)).collect();
    assert!(hashes[0].is_some());
    assert!(
        hashes.iter().all(|h| *h == hashes[0]),
        "one block at {at}: {hashes:?}"
    );

    // Replaying it is a conflict, named: its nonce is behind the state, and only the
    // transaction's status says whether this very one took it.
    let (code, body) = net.submit(0, &encode(&tx));
    assert_eq!(code, 409, "{body}");
    assert!(
        body.to_string().contains("already committed") || body.to_string().contains("nonce"),
        "{body}"
    );

    // A damaged signature (the transaction's last 64 bytes) is refused, naming it.
    let c2 = world.lawyer_license(2, None);
    let mut bad = encode(&publish_tx(&net.devnet, "moj", "moj-2026-01", 1, &[&c2]));
    let n = bad.len();
    bad[n - 5] ^= 1;
    let (code, body) = net.submit(1, &bad);
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"], "refused", "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("signature"),
        "{body}"
    );

    // The Ministry of Justice may not issue company registrations.
    let wrong = world.issue(
        "moj",
        "moj-2026-01",
        COMPANY_REGISTRATION,
        3,
        &lawyer_claims(3),
        None,
    );
    let (code, body) = net.submit(
        3,
        &encode(&publish_tx(&net.devnet, "moj", "moj-2026-01", 1, &[&wrong])),
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string().contains("kind"),
        "the refusal names the kind: {body}"
    );

    // A kind nobody registered is refused by name.
    let unknown = world.issue(
        "moj",
        "moj-2026-01",
        "no-such-kind",
        4,
        &lawyer_claims(4),
        None,
    );
    let (code, body) = net.submit(
        2,
        &encode(&publish_tx(
            &net.devnet,
            "moj",
            "moj-2026-01",
            1,
            &[&unknown],
        )),
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string().contains("no-such-kind"),
        "the refusal names the kind: {body}"
    );

    // A client may wait for the commit in the same request.
    let c5 = world.lawyer_license(5, None);
    let tx5 = publish_tx(&net.devnet, "moj", "moj-2026-01", 1, &[&c5]);
    let (code, body) = net.submit_and_wait(1, &encode(&tx5), 8_000);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "committed", "{body}");
    assert_eq!(body["id"], tx5.id().to_string());

    // Garbage is a 400 naming the transaction bytes.
    let (code, body) = net.submit(0, b"not a transaction");
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("transaction bytes"), "{body}");
}

#[test]
fn crashes_and_lost_quorum_stall_but_never_fork() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 3, LONG), "{}", net.log(0));

    // kill -9 one validator: the other three keep committing.
    net.kill(3);
    let h = net.height(0).unwrap();
    for i in 0..3 {
        assert!(
            net.wait_height(i, h + 5, LONG),
            "validator {i} goes on:\n{}",
            net.log(i)
        );
    }

    // Restarted while another program holds its p2p port, it stops at once and names the
    // address, rather than answering its API with no part in consensus.
    let port = p2p_port(&net, 3);
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    net.start_node(3);
    let deadline = std::time::Instant::now() + LONG;
    while !net.exited(3) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        net.exited(3),
        "a node that cannot listen exits:\n{}",
        net.log(3)
    );
    assert!(
        net.log(3).contains(&format!(
            "cannot listen on /ip4/127.0.0.1/tcp/{port} for p2p"
        )),
        "{}",
        net.log(3)
    );
    assert_ne!(net.stop(3), Some(0), "a failed start is not a clean exit");
    drop(squatter);

    // Restarted, it catches up to the others and agrees with them.
    net.start_node(3);
    let tip = net.height(0).unwrap();
    assert!(
        net.wait_height(3, tip, LONG),
        "the restarted validator catches up:\n{}",
        net.log(3)
    );
    assert_eq!(net.header_hash(3, tip), net.header_hash(0, tip));

    // With two of four stopped there is no quorum: nothing is committed, nothing forks.
    assert_eq!(
        net.stop(2),
        Some(0),
        "SIGTERM is a clean exit:\n{}",
        net.log(2)
    );
    net.kill(3);
    std::thread::sleep(Duration::from_secs(2));
    let stalled = net.height(0).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        net.height(0).unwrap() <= stalled + 1,
        "no quorum, no progress"
    );
    let h0 = net.height(0).unwrap();
    let h1 = net.height(1).unwrap();
    let common = h0.min(h1);
    assert_eq!(net.header_hash(0, common), net.header_hash(1, common));

    // One back: three of four again, and the chain moves on.
    net.start_node(2);
    assert!(
        net.wait_height(0, h0 + 3, LONG),
        "progress resumes:\n{}",
        net.log(2)
    );
    assert!(net.wait_height(2, h0 + 3, LONG), "{}", net.log(2));
    assert_eq!(net.header_hash(2, h0 + 3), net.header_hash(0, h0 + 3));
}

/// An idle chain makes one block per interval, but the proposer proposes a transaction as soon
/// as it has one (node/src/consensus/pacing.rs): it does not wait for the interval to end.
#[test]
fn an_idle_chain_makes_a_block_per_interval_but_a_transaction_is_proposed_at_once() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, LONG), "{}", net.log(0));
    // A 4 s interval, with the propose timeout the rule requires (at least twice it).
    reconfigure(
        &mut net,
        &[("block_interval_ms", 4_000), ("timeout_propose_ms", 10_000)],
    );
    let next_height = |net: &Net, after: u64| {
        net.wait(LONG, || net.height(1).is_some_and(|h| h > after));
        net.height(1).unwrap()
    };
    let h = next_height(&net, net.height(1).unwrap_or(0));

    // Idle: about one block per 4 s.
    std::thread::sleep(Duration::from_secs(6));
    let idle = net.height(1).unwrap() - h;
    assert!(idle <= 2, "{idle} blocks in 6 s at a 4 s interval");

    // Just after a height starts, a transaction: committed long before the interval ends.
    let start = next_height(&net, net.height(1).unwrap());
    let world = World::with_devnet(net.devnet_copy());
    let c = world.lawyer_license(3, None);
    let tx = publish_tx(&net.devnet, "moj", "moj-2026-01", 0, &[&c]);
    let sent = std::time::Instant::now();
    let (code, body) = net.submit_and_wait(1, &encode(&tx), 2_000);
    assert_eq!(code, 200, "{body}");
    let status = committed_on(&net, 1, &tx);
    assert!(
        status.is_some(),
        "not committed 2 s after height {start} started, at a 4 s interval: {body}\n{}",
        net.log(1)
    );
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "{:?}",
        sent.elapsed()
    );
}

/// Stops every validator, sets `settings` (`node.toml` keys, each on its own line) and starts
/// them again.
fn reconfigure(net: &mut Net, settings: &[(&str, u64)]) {
    for i in 0..4 {
        net.stop(i);
        let path = net.nodes[i].home.join("node.toml");
        let toml = std::fs::read_to_string(&path).unwrap();
        let changed = toml
            .lines()
            .map(|l| {
                let key = l.split(" = ").next().unwrap_or_default();
                match settings.iter().find(|(k, _)| *k == key) {
                    Some((k, v)) => format!("{k} = {v}"),
                    None => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, changed).unwrap();
    }
    for i in 0..4 {
        net.start_node(i);
    }
}

/// How long after the block before it the block that committed `tx` was made, in ms.
fn held_for(net: &Net, tx: &Transaction) -> u64 {
    assert!(
        net.wait(LONG, || committed_on(net, 1, tx).is_some()),
        "not committed:\n{}",
        net.log(1)
    );
    let s = committed_on(net, 1, tx).unwrap();
    assert_eq!(s["error"], Value::Null, "accepted: {s}");
    let h = s["height"].as_u64().unwrap();
    net.block_time(1, h).unwrap() - net.block_time(1, h - 1).unwrap()
}

#[test]
fn a_busy_proposer_holds_its_block_until_the_busy_interval_ends() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, LONG), "{}", net.log(0));
    // No idle interval, so a transaction always waits for the next height (it never ends an
    // idle wait), and a chain with 10 or more transactions waiting is busy: its proposer holds
    // the block until 3 s after the height started (spec/operations.md §2).
    const BUSY_MS: u64 = 3_000;
    reconfigure(
        &mut net,
        &[
            ("block_interval_ms", 0),
            ("busy_interval_ms", BUSY_MS),
            ("busy_txs", 10),
            ("timeout_propose_ms", 2 * BUSY_MS + 1_000),
        ],
    );
    assert!(net.wait_height(1, net.height(1).unwrap_or(0) + 3, LONG));
    let world = World::with_devnet(net.devnet_copy());
    let company = |n: u32| {
        world.issue(
            "moea",
            "moea-2026-01",
            COMPANY_REGISTRATION,
            n,
            &[
                ("company_name", format!("測試公司{n}")),
                ("ubn", "22099131".to_string()),
                ("cert_type", "設立登記".to_string()),
                ("registered", "2024-09-01".to_string()),
            ],
            None,
        )
    };
    let moea = |nonce: u64| {
        publish_tx(
            &net.devnet,
            "moea",
            "moea-2026-01",
            nonce,
            &[&company(nonce as u32 + 1)],
        )
    };
    let submit = |tx: &Transaction| {
        let (code, body) = net.submit(0, &encode(tx));
        assert_eq!(code, 200, "{body}");
    };

    // Below the threshold a ready transaction goes into the next block.
    let alone = moea(0);
    submit(&alone);
    let gap = held_for(&net, &alone);
    assert!(
        gap < BUSY_MS,
        "a lone transaction's block came {gap} ms after the last"
    );

    // Twenty of the Ministry of Justice's transactions from nonce 1: none is ready while its
    // nonce 0 is missing, but all of them wait in every validator's mempool.
    let gapped: Vec<Transaction> = (1..=20)
        .map(|n| {
            let c = world.lawyer_license(n as u32, None);
            publish_tx(&net.devnet, "moj", "moj-2026-01", n, &[&c])
        })
        .collect();
    for tx in &gapped {
        submit(tx);
    }
    for i in 0..4 {
        assert!(
            net.wait(LONG, || net
                .metric(i, "credledger_mempool_txs")
                .is_some_and(|n| n >= 20.0)),
            "validator {i} holds the 20 waiting transactions:\n{}",
            net.log(i)
        );
    }
    // With them waiting, one ready transaction makes the chain busy: its block is held.
    let ready = moea(1);
    submit(&ready);
    let gap = held_for(&net, &ready);
    assert!(
        gap >= BUSY_MS,
        "the busy chain's block came {gap} ms after the last"
    );

    // The missing nonce makes all 21 ready; they are held once more and all committed.
    let first = publish_tx(
        &net.devnet,
        "moj",
        "moj-2026-01",
        0,
        &[&world.lawyer_license(21, None)],
    );
    submit(&first);
    let gap = held_for(&net, &first);
    assert!(
        gap >= BUSY_MS,
        "the busy chain's block came {gap} ms after the last"
    );
    for tx in &gapped {
        assert!(
            net.wait(LONG, || committed_on(&net, 1, tx).is_some()),
            "{} not committed",
            tx.id()
        );
    }
}

#[test]
fn a_node_outside_the_set_is_refused_until_the_council_adds_it_then_it_votes() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 2, LONG));
    // An outsider that knows every validator's address, but whom no validator lists. It is
    // set up to vote once its key is in the set.
    let home = net.dir.path().join("outsider");
    let peers: Vec<String> = net.nodes.iter().map(|n| n.public_key.clone()).collect();
    let mut args = vec![
        "init".to_string(),
        "--home".into(),
        home.display().to_string(),
        "--genesis".into(),
        net.dir.path().join("genesis.json").display().to_string(),
        "--api-listen".into(),
        "127.0.0.1:0".into(),
        "--p2p-listen".into(),
        "/ip4/127.0.0.1/tcp/0".into(),
        "--block-interval-ms".into(),
        "100".into(),
        "--validator".into(),
    ];
    for (i, k) in peers.iter().enumerate() {
        let port = p2p_port(&net, i);
        args.push("--peer".into());
        args.push(format!("{k}@/ip4/127.0.0.1/tcp/{port}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = credledger_tests::run("credledger-node", &refs);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("node-key.json")).unwrap()).unwrap();
    let public_key: PublicKey = key["public_key"].as_str().unwrap().parse().unwrap();
    net.nodes
        .push(credledger_tests::net::NodeProc::unlisted("outsider", home));
    let outsider = net.nodes.len() - 1;
    net.start_node(outsider);
    let tip = net.height(0).unwrap();
    assert!(net.wait_height(0, tip + 5, LONG));
    // Seen from the validators: while it dials them, none counts it among its consensus
    // peers (each has the other three).
    for _ in 0..10 {
        for i in 0..4 {
            let peers = net.get(i, "/v1/status").map(|s| s["peers"].clone());
            assert!(
                peers
                    .as_ref()
                    .and_then(|p| p.as_u64())
                    .is_some_and(|p| p <= 3),
                "validator {i} has {peers:?} peers: the outsider was let in"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = net.log(outsider);
    assert!(
        !log.contains("block committed"),
        "the outsider must not receive blocks:\n{log}"
    );
    assert!(log.contains("not in the validator set"), "{log}");

    // Two of three council members add it. No node's configuration changes, none restarts.
    let tx = governance_tx(
        &net.devnet,
        0,
        GovernanceAction::AddValidator {
            validator: Validator {
                name: "outsider".parse().unwrap(),
                public_key,
                power: net.devnet.genesis.validators[0].power,
            },
        },
        2,
    );
    let (code, body) = net.submit_and_wait(0, &encode(&tx), 10_000);
    assert_eq!(code, 200, "{body}");
    assert!(body["error"].is_null(), "{body}");
    let added_at = body["height"].as_u64().unwrap();

    // The validators admit it once the change is committed: it syncs the chain...
    assert!(
        net.wait(LONG, || net.log(outsider).contains("block committed")),
        "the added validator was not admitted:\n{}",
        net.log(outsider)
    );
    // ...and votes: five validators need four votes, so with one of the first four stopped the
    // chain goes on only if the new validator signs.
    assert!(net.wait_height(0, added_at + 3, LONG), "{}", net.log(0));
    net.stop(3);
    let resumed = net.height(0).unwrap();
    assert!(
        net.wait_height(0, resumed + 3, LONG),
        "no quorum without the added validator's votes:\n{}\n{}",
        net.log(0),
        net.log(outsider)
    );

    // A validator restarted afterwards, whose configuration still lacks the new one's address,
    // admits it again by its key: it is connected to the two others running and to the new
    // validator, which dials it.
    net.stop(1);
    net.start_node(1);
    let peers = |net: &Net| net.metric(1, "credledger_peers");
    assert!(
        net.wait(LONG, || peers(&net) == Some(3.0)),
        "restarted node 1 has {:?} peers, not 3:\n{}",
        peers(&net),
        net.log(1)
    );
}

pub(crate) fn p2p_port(net: &Net, i: usize) -> u16 {
    let toml = std::fs::read_to_string(net.nodes[i].home.join("node.toml")).unwrap();
    let line = toml
        .lines()
        .find(|l| l.starts_with("listen = \"/ip4"))
        .unwrap();
    line.rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches('"')
        .parse()
        .unwrap()
}
