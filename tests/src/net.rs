//! A local network of real `credledger-node` processes on loopback, driven like a script:
//! start validators (and observers), kill or stop and restart them, read their APIs. Only one
//! network runs at a time in a test binary (the machine has few cores), and every process is
//! killed when the [`Net`] is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use credledger_core::devnet::{Devnet, DevnetParams, master_from_text};
use serde_json::Value;

use crate::ports::free_port;
use crate::{bin_dir, run};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// One node of the network.
pub struct NodeProc {
    /// Validator name or `observer-N`.
    pub name: String,
    /// Its folder.
    pub home: PathBuf,
    /// API base URL.
    pub api: String,
    /// Its public key (hex).
    pub public_key: String,
    child: Option<Child>,
}

impl NodeProc {
    /// A node set up outside [`Net::start`] (its API is not polled).
    pub fn unlisted(name: &str, home: PathBuf) -> NodeProc {
        NodeProc {
            name: name.to_string(),
            home,
            api: "http://127.0.0.1:9".into(),
            public_key: String::new(),
            child: None,
        }
    }
}

/// A running network.
pub struct Net {
    /// The network's folder (genesis, keys, one folder per node).
    pub dir: tempfile::TempDir,
    /// Validators first, then observers.
    pub nodes: Vec<NodeProc>,
    /// The devnet behind the genesis, with every key, for signing transactions.
    pub devnet: Devnet,
    http: reqwest::blocking::Client,
    _one: MutexGuard<'static, ()>,
}

fn key_of(path: &Path) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["public_key"].as_str().unwrap().to_string()
}

/// The seed every test network's genesis derives from.
pub const SEED: &str = "credledger-test-net";

impl Net {
    /// Starts `validators` validators (4 to 10) and `observers` observers, all peered with
    /// each other, and waits until every validator answers on its API.
    pub fn start(validators: usize, observers: usize) -> Net {
        let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = run(
            "credledger-genesis",
            &[
                "init",
                "--out",
                d.to_str().unwrap(),
                "--validators",
                &validators.to_string(),
                "--seed",
                SEED,
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let devnet = Devnet::build(
            &master_from_text(SEED),
            &DevnetParams {
                validators,
                ..DevnetParams::default()
            },
        )
        .unwrap();
        let genesis = d.join("genesis.json");
        let mut specs = Vec::new();
        for (name, _) in &devnet.validator_keys {
            let key = d.join("keys").join(format!("validator-{name}.json"));
            specs.push((name.clone(), Some(key)));
        }
        for i in 0..observers {
            specs.push((format!("observer-{i}"), None));
        }
        // Observers first make their keys, which validators must list as peers.
        let ports: Vec<(u16, u16)> = specs.iter().map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (name, key)) in specs.iter().enumerate() {
            let home = d.join(name);
            let public_key = match key {
                Some(k) => key_of(k),
                None => {
                    std::fs::create_dir_all(&home).unwrap();
                    // `init` makes the key; it is re-run with peers below.
                    let o = run_init(&home, &genesis, None, ports[i], &[], &[]);
                    assert_eq!(o.code, 0, "{}", o.stderr);
                    key_of(&home.join("node-key.json"))
                }
            };
            nodes.push(NodeProc {
                name: name.clone(),
                home,
                api: format!("http://127.0.0.1:{}", ports[i].1),
                public_key,
                child: None,
            });
        }
        for (i, (_, key)) in specs.iter().enumerate() {
            let peers: Vec<String> = nodes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, n)| format!("{}@/ip4/127.0.0.1/tcp/{}", n.public_key, ports[j].0))
                .collect();
            let relay: Vec<String> = nodes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i && *j < validators)
                .map(|(_, n)| n.api.clone())
                .collect();
            let o = run_init(
                &nodes[i].home,
                &genesis,
                key.as_deref(),
                ports[i],
                &peers,
                &relay,
            );
            assert_eq!(o.code, 0, "{}", o.stderr);
        }
        let mut net = Net {
            dir,
            nodes,
            devnet,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            _one: one,
        };
        for i in 0..net.nodes.len() {
            net.start_node(i);
        }
        for i in 0..net.nodes.len() {
            assert!(
                net.wait(Duration::from_secs(30), || net.get(i, "/health").is_some()),
                "node {i} did not start:\n{}",
                net.log(i)
            );
        }
        net
    }

    /// Starts (or restarts) node `i`.
    pub fn start_node(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        assert!(n.child.is_none(), "{} is already running", n.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.home.join("node.log"))
            .unwrap();
        let child = Command::new(bin_dir().join("credledger-node"))
            .args(["start", "--config"])
            .arg(n.home.join("node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        n.child = Some(child);
    }

    /// Kills node `i` at once (SIGKILL): no shutdown of any kind.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops node `i` the way an operator does (SIGTERM) and waits for it to exit; returns
    /// its exit code.
    pub fn stop(&mut self, i: usize) -> Option<i32> {
        let mut c = self.nodes[i].child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = c.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Whether node `i`'s process has exited by itself.
    pub fn exited(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    /// Another copy of the devnet behind the genesis (it holds keys, which do not clone).
    pub fn devnet_copy(&self) -> Devnet {
        Devnet::build(
            &master_from_text(SEED),
            &DevnetParams {
                validators: self.devnet.genesis.validators.len(),
                ..DevnetParams::default()
            },
        )
        .unwrap()
    }

    /// Node `i`'s log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].home.join("node.log")).unwrap_or_default()
    }

    /// GET `path` on node `i`'s API; `None` if it does not answer 200.
    pub fn get(&self, i: usize, path: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.nodes[i].api))
            .send()
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().ok()
    }

    /// POSTs an encoded transaction to node `i`; returns the status code and the JSON body.
    pub fn submit(&self, i: usize, tx: &[u8]) -> (u16, Value) {
        self.post_tx(i, "/v1/tx", tx)
    }

    /// POSTs a transaction with `?wait_ms=` and returns the status code and JSON body.
    pub fn submit_and_wait(&self, i: usize, tx: &[u8], wait_ms: u64) -> (u16, Value) {
        self.post_tx(i, &format!("/v1/tx?wait_ms={wait_ms}"), tx)
    }

    fn post_tx(&self, i: usize, path: &str, tx: &[u8]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.nodes[i].api))
            .header("content-type", "application/octet-stream")
            .body(tx.to_vec())
            .send()
            .unwrap();
        let code = r.status().as_u16();
        (code, r.json().unwrap_or(Value::Null))
    }

    /// Node `i`'s last committed height, if it answers.
    pub fn height(&self, i: usize) -> Option<u64> {
        self.get(i, "/v1/status")?["height"].as_u64()
    }

    /// Polls `cond` every 100 ms until it holds or `limit` passes.
    pub fn wait(&self, limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        cond()
    }

    /// Waits until node `i` has committed height `h`.
    pub fn wait_height(&self, i: usize, h: u64, limit: Duration) -> bool {
        self.wait(limit, || self.height(i).is_some_and(|x| x >= h))
    }

    /// Node `i`'s committed header at `h` (its JSON), if it answers.
    pub fn header(&self, i: usize, h: u64) -> Option<Value> {
        Some(self.get(i, &format!("/v1/headers/{h}"))?["header"].clone())
    }

    /// The time of node `i`'s committed header at `h`, in ms.
    pub fn block_time(&self, i: usize, h: u64) -> Option<u64> {
        self.header(i, h)?["time"].as_u64()
    }

    /// A metric from node `i`'s Prometheus text, if it answers and has it.
    pub fn metric(&self, i: usize, name: &str) -> Option<f64> {
        let text = self
            .http
            .get(format!("{}/metrics", self.nodes[i].api))
            .send()
            .ok()?
            .text()
            .ok()?;
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()
    }

    /// The hash of node `i`'s header at `h`.
    pub fn header_hash(&self, i: usize, h: u64) -> Option<String> {
        Some(
            self.get(i, &format!("/v1/headers/{h}"))?["hash"]
                .as_str()?
                .to_string(),
        )
    }
}

fn run_init(
    home: &Path,
    genesis: &Path,
    key: Option<&Path>,
    (p2p, api): (u16, u16),
    peers: &[String],
    relay: &[String],
) -> crate::Output {
    let p2p = format!("/ip4/127.0.0.1/tcp/{p2p}");
    let api = format!("127.0.0.1:{api}");
    let mut args: Vec<String> = vec![
        "init".into(),
        "--force".into(),
        "--home".into(),
        home.display().to_string(),
        "--genesis".into(),
        genesis.display().to_string(),
        "--p2p-listen".into(),
        p2p,
        "--api-listen".into(),
        api,
        "--block-interval-ms".into(),
        "100".into(),
    ];
    if let Some(k) = key {
        args.push("--key-file".into());
        args.push(k.display().to_string());
    }
    for p in peers {
        args.push("--peer".into());
        args.push(p.clone());
    }
    for r in relay {
        args.push("--relay".into());
        args.push(r.clone());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run("credledger-node", &refs)
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        // Keep the logs of a failed test where CI can find them.
        if std::thread::panicking()
            && let Some(dir) = std::env::var_os("CREDLEDGER_TEST_ARTIFACTS")
        {
            let dest = PathBuf::from(dir).join(format!("net-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&dest);
            for n in &self.nodes {
                let _ = std::fs::copy(
                    n.home.join("node.log"),
                    dest.join(format!("{}.log", n.name)),
                );
            }
        }
    }
}
