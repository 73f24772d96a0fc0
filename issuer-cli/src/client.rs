//! A client of the ledger nodes' API with fail-over: each request goes to the first node that
//! answers; a node that cannot be reached, times out or fails (5xx) is skipped.

use std::io::Read;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;

/// Largest answer read from a node. The largest expected, a credential's history of 4,096
/// events with its proof, header and commit, is well below 1 MiB.
const MAX_ANSWER_BYTES: u64 = 8 << 20;

/// No node answered a request.
#[derive(Debug, thiserror::Error)]
#[error("no node answered {what}: {errors}")]
pub struct Unreachable {
    what: String,
    errors: String,
}

/// Nodes to ask, in order of preference.
pub struct Nodes {
    urls: Vec<String>,
    http: reqwest::blocking::Client,
}

/// A node's answer: status and JSON body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`null` if none).
    pub body: Value,
}

impl Nodes {
    /// Nodes at these base URLs.
    pub fn new(urls: &[String]) -> Result<Nodes> {
        if urls.is_empty() {
            bail!("no node URL: give --node URL (or set CREDLEDGER_NODE)");
        }
        Ok(Nodes {
            urls: urls
                .iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()?,
        })
    }

    fn each<F>(&self, what: &str, f: F) -> Result<Answer>
    where
        F: Fn(&str) -> reqwest::Result<reqwest::blocking::Response>,
    {
        let mut errors = Vec::new();
        for url in &self.urls {
            match f(url) {
                Ok(r) if r.status().is_server_error() => {
                    errors.push(format!("{url}: HTTP {}", r.status()));
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let mut bytes = Vec::new();
                    // A node is not trusted: read at most one byte past the bound.
                    if let Err(e) = r.take(MAX_ANSWER_BYTES + 1).read_to_end(&mut bytes) {
                        errors.push(format!("{url}: reading the answer: {e}"));
                        continue;
                    }
                    if bytes.len() as u64 > MAX_ANSWER_BYTES {
                        errors.push(format!(
                            "{url}: the answer is larger than {MAX_ANSWER_BYTES} bytes"
                        ));
                        continue;
                    }
                    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    return Ok(Answer { status, body });
                }
                Err(e) => errors.push(format!("{url}: {e}")),
            }
        }
        Err(Unreachable {
            what: what.to_string(),
            errors: errors.join("; "),
        }
        .into())
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Result<Answer> {
        self.each(path, |url| self.http.get(format!("{url}{path}")).send())
    }

    /// Submits a transaction and waits up to `wait_ms` for its commit.
    pub fn submit(&self, tx: &[u8], wait_ms: u64) -> Result<Answer> {
        let path = format!("/v1/tx?wait_ms={wait_ms}");
        self.each("POST /v1/tx", |url| {
            self.http
                .post(format!("{url}{path}"))
                .header("content-type", "application/octet-stream")
                .body(tx.to_vec())
                .send()
        })
    }
}
