//! A verifier following a scripted node that serves a test world's chain: the rig of the
//! verifier's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use credledger_core::credential::HeldCredential;
use credledger_core::ids::Timestamp;
use credledger_core::state::CredentialStatus;
use credledger_core::testkit::World;
use credledger_verifier::checker::{Checker, now_ms};
use credledger_verifier::follower::follow;
use credledger_verifier::ledger::LedgerClient;
use credledger_verifier::report::Report;
use credledger_verifier::trust::Trust;

use super::scripted::{Shared, serve};

/// A world, the node serving it, and a verifier following that node.
pub struct Rig {
    pub world: World,
    pub script: Shared,
    pub checker: Checker,
    last_time: u64,
}

impl Rig {
    pub async fn new(seed: u8, nodes_extra: Vec<String>) -> Rig {
        let world = World::new(seed, 4);
        let script = Shared::default();
        let url = serve(script.clone()).await;
        let mut nodes = vec![url];
        nodes.extend(nodes_extra);
        let trust = Arc::new(Trust::from_genesis(&world.devnet.genesis).unwrap());
        for n in &nodes {
            tokio::spawn(follow(trust.clone(), reqwest::Client::new(), n.clone()));
        }
        let ledger = LedgerClient::new(reqwest::Client::new(), nodes, Duration::ZERO);
        Rig {
            world,
            script,
            checker: Checker::new(trust, ledger, 10_000),
            last_time: 0,
        }
    }

    /// A rig whose chain has published lawyer license 1, followed by the verifier.
    pub async fn with_license(seed: u8) -> (Rig, HeldCredential) {
        let mut rig = Rig::new(seed, vec![]).await;
        let c = rig.world.lawyer_license(1, None);
        rig.world.publish(&c);
        rig.commit(&[&c]);
        rig.synced().await;
        (rig, c)
    }

    /// Moves `c` to `status` in a new block, serves its evidence, and waits for the verifier.
    pub async fn change_status(&mut self, c: &HeldCredential, status: CredentialStatus) {
        self.world.set_status(c, status);
        self.commit(&[c]);
        self.synced().await;
    }

    /// Commits the world's pending transactions at `time` and serves the new header and the
    /// evidence of `creds`.
    pub fn commit_at(&mut self, time: u64, creds: &[&HeldCredential]) {
        let (h, c) = self.world.commit(Timestamp(time));
        self.last_time = time;
        let mut s = self.script.lock().unwrap();
        s.headers.push((h, c));
        for cred in creds {
            s.evidence.insert(cred.body.id, self.world.evidence(cred));
        }
    }

    /// [`Rig::commit_at`] now, or just after the last commit if that was later.
    pub fn commit(&mut self, creds: &[&HeldCredential]) {
        let t = now_ms().0.max(self.last_time + 1);
        self.commit_at(t, creds);
    }

    /// Waits until the verifier's light client reaches the served tip.
    pub async fn synced(&self) {
        let want = self.script.lock().unwrap().headers.len() as u64;
        for _ in 0..250 {
            if self.checker.trust().tip().0.0 >= want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the light client did not reach height {want}");
    }

    pub async fn check(&self, c: &HeldCredential) -> Report {
        let text = World::compact(c, None).to_qr_text();
        self.checker.check_text(&text).await
    }
}
