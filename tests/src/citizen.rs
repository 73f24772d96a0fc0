//! What the verifier tests need around a running network: the Ministry of Justice publishing
//! and revoking with the issuer CLI, and a verifier process following the validators.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::net::Net;
use crate::{bin_dir, import_key, run};

pub use crate::ports::free_port;

/// The Ministry of Justice's operator, with a sealed devnet key.
pub struct Ministry {
    key: PathBuf,
    pass: PathBuf,
    genesis: PathBuf,
    nodes: String,
    out: PathBuf,
}

/// A published credential.
pub struct Issued {
    /// Its id.
    pub id: String,
    /// The holder's credential file.
    pub file: PathBuf,
}

impl Ministry {
    /// Seals the devnet's MOJ key under the network's folder.
    pub fn new(net: &Net) -> Ministry {
        let d = net.dir.path();
        let pass = d.join("moj-pass.txt");
        std::fs::write(&pass, "devnet passphrase\n").unwrap();
        let key = d.join("moj-citizen.key");
        import_key(&d.join("keys/issuer-moj-2026-01.json"), &key, &pass);
        let nodes: Vec<&str> = net.nodes.iter().map(|n| n.api.as_str()).collect();
        Ministry {
            key,
            pass,
            genesis: d.join("genesis.json"),
            nodes: nodes.join(","),
            out: d.join("issued"),
        }
    }

    fn run(&self, args: &[&str]) -> Value {
        let mut v: Vec<&str> = args.to_vec();
        let (k, p, g) = (
            self.key.to_str().unwrap(),
            self.pass.to_str().unwrap(),
            self.genesis.to_str().unwrap(),
        );
        v.extend(["--key", k, "--passphrase-file", p, "--genesis", g]);
        v.extend(["--node", &self.nodes, "--json"]);
        let o = run("credledger-issuer", &v);
        assert_eq!(o.code, 0, "credledger-issuer {args:?}: {}", o.stderr);
        serde_json::from_str(o.stdout.lines().last().unwrap_or("{}")).unwrap_or(Value::Null)
    }

    /// Publishes lawyer license number `n` and waits for its commit.
    pub fn publish_lawyer(&self, n: u32) -> Issued {
        self.publish_lawyer_until(n, None)
    }

    /// Publishes lawyer license number `n`, valid until `until_ms` (ms since 1970) if given,
    /// and waits for its commit.
    pub fn publish_lawyer_until(&self, n: u32, until_ms: Option<u64>) -> Issued {
        let subject = self.out.with_file_name(format!("lawyer-{n}.json"));
        let subject_json = serde_json::json!({
            "name": "王小明",
            "license_no": format!("(113)台檢證字第{n:05}號"),
            "bar": "台北律師公會",
            "admitted": "2024-09-01",
        });
        std::fs::write(&subject, subject_json.to_string()).unwrap();
        let out = self.out.to_str().unwrap();
        let until = until_ms.map(|t| t.to_string());
        let mut args = vec![
            "publish",
            "--kind",
            "lawyer-license",
            "--subject",
            subject.to_str().unwrap(),
            "--out",
            out,
        ];
        if let Some(t) = &until {
            args.extend(["--valid-until-ms", t]);
        }
        let v = self.run(&args);
        let id = v["credential"].as_str().unwrap().to_string();
        Issued {
            file: self.out.join(format!("{id}.credential.json")),
            id,
        }
    }

    /// Revokes a credential and waits for its commit.
    pub fn revoke(&self, c: &Issued) {
        self.run(&["revoke", &c.id, "--reason", "disciplinary"]);
    }

    /// Suspends a credential and waits for its commit.
    pub fn suspend(&self, c: &Issued) {
        self.run(&["suspend", &c.id, "--reason", "disciplinary"]);
    }
}

/// The QR code of a credential as `credledger-issuer qr` writes it: a PNG linking to
/// `verifier_url` (or the bare presentation when `None`); returns the PNG and its text.
pub fn qr_png(c: &Issued, verifier_url: Option<&str>, dir: &Path) -> (PathBuf, String) {
    let png = dir.join(format!("{}.qr.png", c.id));
    let file = c.file.to_str().unwrap();
    let mut args = vec![
        "qr",
        file,
        "--format",
        "png",
        "--out",
        png.to_str().unwrap(),
    ];
    let mut text_args = vec!["qr", file, "--format", "text"];
    if let Some(u) = verifier_url {
        args.extend(["--verifier-url", u]);
        text_args.extend(["--verifier-url", u]);
    }
    let o = run("credledger-issuer", &args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run("credledger-issuer", &text_args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    (png, o.stdout.trim().to_string())
}

/// A running `credledger-verifier serve`, killed when dropped.
pub struct Verifier {
    child: Child,
    /// Its base URL.
    pub url: String,
    log: PathBuf,
}

impl Verifier {
    /// Starts a verifier following every node of `net`, with extra `args`, and waits until it
    /// has verified a recent header.
    pub fn start(net: &Net, args: &[&str]) -> Verifier {
        let port = free_port();
        let nodes: Vec<&str> = net.nodes.iter().map(|n| n.api.as_str()).collect();
        let log = net.dir.path().join(format!("verifier-{port}.log"));
        let child = Command::new(bin_dir().join("credledger-verifier"))
            .args(["serve", "--genesis"])
            .arg(net.dir.path().join("genesis.json"))
            .args([
                "--node",
                &nodes.join(","),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let v = Verifier {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let health = reqwest::blocking::get(format!("{}/health", v.url));
            if health.is_ok_and(|r| r.status() == 200) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the verifier did not become healthy:\n{}", v.log());
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /api/v1/verify` of a presentation text or link; returns the status and the JSON.
    pub fn verify(&self, text: &str) -> (u16, Value) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/verify", self.url))
            .body(text.to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    /// `POST /api/v1/verify-batch` of `body` (JSON); returns the status and the JSON answer,
    /// or the text of a refusal that is not JSON.
    pub fn verify_batch(&self, body: &Value) -> (u16, Value) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/verify-batch", self.url))
            .json(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
