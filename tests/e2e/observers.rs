//! Observers: a node that follows the chain and serves proofs without voting, as an operator
//! sets one up (spec/operations.md §5).

use std::io::{BufRead, BufReader};

use credledger_core::block::{CommitCertificate, Header};
use credledger_core::encoding::encode;
use credledger_core::ids::Timestamp;
use credledger_core::light::LightState;
use credledger_core::presentation::StatusEvidence;
use credledger_core::testkit::{World, publish_tx};
use credledger_core::{Policy, TrustAnchor, verify};
use credledger_tests::agency::now_ms;
use credledger_tests::net::Net;
use credledger_tests::ports::free_port;
use serde_json::Value;

use crate::network::{LONG, committed_on, p2p_port};

#[test]
fn an_observer_follows_and_serves_proofs_that_verify_against_genesis() {
    let mut net = Net::start(4, 1);
    let world = World::with_devnet(net.devnet_copy());
    let c = world.lawyer_license(7, None);
    let tx = publish_tx(&net.devnet, "moj", "moj-2026-01", 0, &[&c]);
    let (code, body) = net.submit(0, &encode(&tx));
    assert_eq!(code, 200, "{body}");
    let observer = 4;
    assert!(
        net.wait(LONG, || committed_on(&net, observer, &tx).is_some()),
        "the observer follows:\n{}",
        net.log(observer)
    );
    let ev = net
        .get(observer, &format!("/v1/credentials/moj/{}", c.body.id))
        .expect("evidence");
    let evidence: StatusEvidence = serde_json::from_value(ev).unwrap();
    let p = credledger_core::testkit::full_with(&c, None, evidence);
    let anchor = TrustAnchor::from_genesis(&net.devnet.genesis).unwrap();
    let verdict = verify(&p, &anchor, Timestamp(now_ms()), &Policy::LIVE);
    assert!(verdict.is_ok(), "{verdict:?}");

    // A light client follows the observer's header stream from block 1 and checks every
    // header and commit from genesis on.
    let mut light = LightState::from_genesis(&net.devnet.genesis).unwrap();
    let resp = reqwest::blocking::Client::new()
        .get(format!(
            "{}/v1/headers/stream?from=1",
            net.nodes[observer].api
        ))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut followed = 0;
    for line in BufReader::new(resp).lines() {
        let line = line.unwrap();
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let v: Value = serde_json::from_str(data.trim()).unwrap();
        let header: Header = serde_json::from_value(v["header"].clone()).unwrap();
        let commit: CommitCertificate = serde_json::from_value(v["commit"].clone()).unwrap();
        light = light.advance(&header, &commit, None).unwrap();
        followed += 1;
        if followed == 5 {
            break;
        }
    }
    assert_eq!(light.height.0, 5);

    // A new observer: this one loses everything it held (its data folder emptied) while the
    // chain goes on; started from nothing, it catches up from the validators, checking every
    // block and commit, to their blocks.
    net.kill(observer);
    std::fs::remove_dir_all(net.nodes[observer].home.join("data")).unwrap();
    let tip = net.height(0).unwrap();
    assert!(net.wait_height(0, tip + 10, LONG), "{}", net.log(0));
    net.start_node(observer);
    let target = tip + 10;
    assert!(
        net.wait_height(observer, target, LONG),
        "the new observer caught up:\n{}",
        net.log(observer)
    );
    assert_eq!(
        net.header_hash(observer, target),
        net.header_hash(0, target)
    );
    assert!(
        net.get(observer, &format!("/v1/credentials/moj/{}", c.body.id))
            .is_some(),
        "it serves the credential it never saw committed live"
    );
}

#[test]
fn an_observer_is_admitted_once_a_validator_lists_it_and_restarts() {
    // spec/operations.md §5, "Adding an observer", step by step.
    let mut net = Net::start(4, 0);
    let world = World::with_devnet(net.devnet_copy());
    let c = world.lawyer_license(9, None);
    let tx = publish_tx(&net.devnet, "moj", "moj-2026-01", 0, &[&c]);
    let (code, body) = net.submit_and_wait(0, &encode(&tx), 10_000);
    assert_eq!(code, 200, "{body}");

    // Its operator makes its key and configuration with a --peer for each validator and a
    // --relay to their APIs, and starts it.
    let home = net.dir.path().join("new-observer");
    let (p2p, api) = (free_port(), free_port());
    let mut args = vec![
        "init".to_string(),
        "--observer".into(),
        "--home".into(),
        home.display().to_string(),
        "--genesis".into(),
        net.dir.path().join("genesis.json").display().to_string(),
        "--p2p-listen".into(),
        format!("/ip4/127.0.0.1/tcp/{p2p}"),
        "--api-listen".into(),
        format!("127.0.0.1:{api}"),
    ];
    for i in 0..4 {
        args.push("--peer".into());
        args.push(format!(
            "{}@/ip4/127.0.0.1/tcp/{}",
            net.nodes[i].public_key,
            p2p_port(&net, i)
        ));
        args.push("--relay".into());
        args.push(net.nodes[i].api.clone());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = credledger_tests::run("credledger-node", &refs);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let key: Value =
        serde_json::from_slice(&std::fs::read(home.join("node-key.json")).unwrap()).unwrap();
    let observer_key = key["public_key"].as_str().unwrap().to_string();
    let mut node = credledger_tests::net::NodeProc::unlisted("new-observer", home);
    node.api = format!("http://127.0.0.1:{api}");
    net.nodes.push(node);
    let observer = net.nodes.len() - 1;
    net.start_node(observer);
    assert!(
        net.wait(LONG, || net.get(observer, "/health").is_some()),
        "{}",
        net.log(observer)
    );

    // No validator lists it yet: the chain goes on without it, and it holds no block.
    let tip = net.height(0).unwrap();
    assert!(net.wait_height(0, tip + 10, LONG), "{}", net.log(0));
    assert_eq!(
        net.height(observer),
        Some(0),
        "an unlisted observer must not sync:\n{}",
        net.log(observer)
    );

    // One validator's operator adds `<its public key>@<its address>` to p2p.peers and restarts
    // that validator; the observer then syncs from it, checking every block and commit.
    let config = net.nodes[1].home.join("node.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    let listed = toml.replacen(
        "peers = [",
        &format!("peers = [\"{observer_key}@/ip4/127.0.0.1/tcp/{p2p}\", "),
        1,
    );
    assert_ne!(listed, toml, "the p2p.peers line");
    std::fs::write(&config, listed).unwrap();
    assert_eq!(net.stop(1), Some(0), "{}", net.log(1));
    net.start_node(1);
    let target = net.height(0).unwrap() + 5;
    assert!(
        net.wait_height(observer, target, LONG),
        "the listed observer syncs:\n{}",
        net.log(observer)
    );
    assert_eq!(
        net.header_hash(observer, target),
        net.header_hash(0, target)
    );
    let ev = net
        .get(observer, &format!("/v1/credentials/moj/{}", c.body.id))
        .expect("it serves the credential's evidence");
    let evidence: StatusEvidence = serde_json::from_value(ev).unwrap();
    let p = credledger_core::testkit::full_with(&c, None, evidence);
    let anchor = TrustAnchor::from_genesis(&net.devnet.genesis).unwrap();
    let verdict = verify(&p, &anchor, Timestamp(now_ms()), &Policy::LIVE);
    assert!(verdict.is_ok(), "{verdict:?}");
}
