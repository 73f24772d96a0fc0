//! A client of the ledger nodes' API with fail-over: each request goes to the first node that
//! answers; a node that cannot be reached, times out or fails (5xx) is skipped, and one that
//! lags behind (404, a transaction still pending) is passed over where asked.

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

/// No node answered a submission, but one may have received it before failing (a timeout or
/// a broken connection after sending, a server error): the transaction may still commit.
#[derive(Debug, thiserror::Error)]
#[error("no node answered {what}, but it may have reached one and may still commit: {errors}")]
pub struct MaybeSent {
    what: String,
    errors: String,
}

/// What went wrong with a request, in the operator's words: reqwest's own message only says
/// "error sending request for url (…)", which repeats the URL; the cause at the bottom of its
/// chain ("Connection refused (os error 111)", "operation timed out") says why.
fn why(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut deepest = None;
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        deepest = Some(cause);
        next = cause.source();
    }
    match deepest {
        Some(cause) => format!("{what}: {cause}"),
        None => format!("{what}: {e}"),
    }
}

/// The rank of an answer that ends a search of the nodes ([`Nodes::each`]).
const FINAL: u8 = u8::MAX;

/// Nodes to ask, in order of preference.
pub struct Nodes {
    urls: Vec<String>,
    http: reqwest::blocking::Client,
}

/// A node's answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body (every answer of the node API has one; an answer without is no answer).
    pub body: Value,
}

impl Nodes {
    /// Nodes at these base URLs; each request may take 15 s (a submission waits up to 8 s for
    /// its commit on the node).
    pub fn new(urls: &[String]) -> Result<Nodes> {
        Self::with_timeout(urls, Duration::from_secs(15))
    }

    /// Nodes at these base URLs, each request bounded by `timeout`.
    fn with_timeout(urls: &[String], timeout: Duration) -> Result<Nodes> {
        if urls.is_empty() {
            bail!("no node URL: give --node URL (or set CREDLEDGER_NODE)");
        }
        Ok(Nodes {
            urls: urls
                .iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            http: reqwest::blocking::Client::builder()
                .timeout(timeout)
                .build()?,
        })
    }

    /// Asks the nodes in order until one gives an answer `rank` calls [`FINAL`]; otherwise
    /// returns the best-ranked answer (the earliest node's among equals). Only when no node
    /// answers at all is it [`Unreachable`].
    fn each<F>(&self, what: &str, rank: impl Fn(&Answer) -> u8, f: F) -> Result<Answer>
    where
        F: Fn(&str) -> reqwest::Result<reqwest::blocking::Response>,
    {
        let mut errors = Vec::new();
        let mut best: Option<(u8, Answer)> = None;
        for url in &self.urls {
            match f(url).map_err(|e| why(&e)).and_then(read_answer) {
                Ok(a) => {
                    let r = rank(&a);
                    if r == FINAL {
                        return Ok(a);
                    }
                    if best.as_ref().is_none_or(|(b, _)| r > *b) {
                        best = Some((r, a));
                    }
                }
                Err(e) => errors.push(format!("{url}: {e}")),
            }
        }
        best.map(|(_, a)| a).ok_or_else(|| {
            Unreachable {
                what: what.to_string(),
                errors: errors.join("; "),
            }
            .into()
        })
    }

    /// GET `path` from the first node that answers.
    pub fn get(&self, path: &str) -> Result<Answer> {
        self.each(
            path,
            |_| FINAL,
            |url| self.http.get(format!("{url}{path}")).send(),
        )
    }

    /// GET `path` from the first node that has it: a node that answers 404 (one that lags
    /// behind, say) is passed over for the next.
    pub fn get_found(&self, path: &str) -> Result<Answer> {
        self.each(
            path,
            |a| if a.status == 404 { 0 } else { FINAL },
            |url| self.http.get(format!("{url}{path}")).send(),
        )
    }

    /// A transaction's status (`GET /v1/tx/{id}`) as the most advanced node sees it: the
    /// first node's that says committed, else the first's that says pending, else the first
    /// answer. A node that lags (just restarted, catching up) says pending or unknown for a
    /// transaction the others have committed, and must not hold its caller back.
    ///
    /// Unless `every_node`, a node that says pending ends the search: that is the usual
    /// answer while a transaction waits for its block, and asking every node each time would
    /// multiply a waiting caller's requests by the number of nodes.
    pub fn tx_status(&self, id: &str, every_node: bool) -> Result<Answer> {
        let path = format!("/v1/tx/{id}");
        self.each(
            &path,
            |a| match a.body["state"].as_str() {
                Some("committed") => FINAL,
                Some("pending") if !every_node => FINAL,
                Some("pending") => 1,
                _ => 0,
            },
            |url| self.http.get(format!("{url}{path}")).send(),
        )
    }

    /// GET `path` from every node; the answers of those that answered.
    pub fn get_all(&self, path: &str) -> Vec<Answer> {
        self.urls
            .iter()
            .filter_map(|url| {
                self.http
                    .get(format!("{url}{path}"))
                    .send()
                    .map_err(|e| e.to_string())
                    .and_then(read_answer)
                    .ok()
            })
            .collect()
    }

    /// Submits a transaction and waits up to `wait_ms` for its commit. When no node answers,
    /// the error tells whether the transaction surely reached none ([`Unreachable`]: every
    /// connection was refused, or a node said it was full) or may have reached one
    /// ([`MaybeSent`]), so the caller never takes a transaction that may commit for one that
    /// cannot.
    pub fn submit(&self, tx: &[u8], wait_ms: u64) -> Result<Answer> {
        let path = format!("/v1/tx?wait_ms={wait_ms}");
        let mut errors = Vec::new();
        let mut maybe_sent = false;
        for url in &self.urls {
            let sent = self
                .http
                .post(format!("{url}{path}"))
                .header("content-type", "application/octet-stream")
                .body(tx.to_vec())
                .send();
            match sent {
                Err(e) => {
                    maybe_sent |= !e.is_connect();
                    errors.push(format!("{url}: {}", why(&e)));
                }
                // A full mempool (503) pooled nothing; any other server error may have come
                // after the node pooled it.
                Ok(r) if r.status().is_server_error() => {
                    maybe_sent |= r.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE;
                    errors.push(format!("{url}: HTTP {}", r.status()));
                }
                Ok(r) => match read_answer(r) {
                    // A refusal speaks for this node's view only: an earlier node that may
                    // have received the transaction may still hold it and commit it.
                    Ok(a) if a.status == 422 && maybe_sent => {
                        errors.push(format!(
                            "{url}: refused it ({}), but an earlier node may hold it",
                            a.body
                        ));
                    }
                    Ok(a) => return Ok(a),
                    Err(e) => {
                        maybe_sent = true;
                        errors.push(format!("{url}: {e}"));
                    }
                },
            }
        }
        let (what, errors) = ("POST /v1/tx".to_string(), errors.join("; "));
        if maybe_sent {
            bail!(MaybeSent { what, errors })
        }
        bail!(Unreachable { what, errors })
    }
}

/// Reads a node's answer, at most [`MAX_ANSWER_BYTES`]; a server error counts as no answer.
fn read_answer(r: reqwest::blocking::Response) -> Result<Answer, String> {
    if r.status().is_server_error() {
        return Err(format!("HTTP {}", r.status()));
    }
    let status = r.status().as_u16();
    let mut bytes = Vec::new();
    // A node is not trusted: read at most one byte past the bound.
    r.take(MAX_ANSWER_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the answer: {e}"))?;
    if bytes.len() as u64 > MAX_ANSWER_BYTES {
        return Err(format!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        ));
    }
    // Every answer of the node API is JSON (spec/http-api.md §1); one that is not is no
    // answer, named as such rather than read as `null` and reported as a wrong shape later.
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "HTTP {status} with an answer that is not JSON ({e}; {} bytes)",
            bytes.len()
        )
    })?;
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::Nodes;

    /// A node on loopback that answers every request with `status` and `body`, for `n` requests.
    fn canned(status: u16, body: &'static str, n: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(n) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|r| r > 2) {
                    line.clear();
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    #[test]
    fn a_submission_a_node_may_have_received_is_not_called_unreachable() {
        let dead = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        // Nothing listens: surely not sent. The message says why, not reqwest's "error
        // sending request for url", which only repeats the URL.
        let e = Nodes::new(std::slice::from_ref(&dead))
            .unwrap()
            .submit(b"tx", 0)
            .unwrap_err();
        assert!(e.downcast_ref::<super::Unreachable>().is_some(), "{e:#}");
        let text = format!("{e:#}");
        assert!(
            text.contains("cannot connect") && text.to_lowercase().contains("refused"),
            "{text}"
        );
        assert!(!text.contains("error sending request"), "{text}");
        // A node that fails after reading it (500): it may have pooled it.
        let failing = canned(500, r#"{"error":"internal"}"#, 1);
        let e = Nodes::new(&[failing, dead.clone()])
            .unwrap()
            .submit(b"tx", 0)
            .unwrap_err();
        assert!(e.downcast_ref::<super::MaybeSent>().is_some(), "{e:#}");
        // A refusal after a node that may have it is no proof the transaction is nowhere.
        let refusing = canned(422, r#"{"error":"refused","message":"nonce"}"#, 1);
        let failing = canned(500, r#"{"error":"internal"}"#, 1);
        let e = Nodes::new(&[failing, refusing])
            .unwrap()
            .submit(b"tx", 0)
            .unwrap_err();
        assert!(e.downcast_ref::<super::MaybeSent>().is_some(), "{e:#}");
        // A full node (503) pooled nothing.
        let full = canned(503, r#"{"error":"full"}"#, 1);
        let e = Nodes::new(&[full, dead])
            .unwrap()
            .submit(b"tx", 0)
            .unwrap_err();
        assert!(e.downcast_ref::<super::Unreachable>().is_some(), "{e:#}");
    }

    /// A node that takes the request and never answers: the submission may have reached it,
    /// and the message says it timed out.
    #[test]
    fn a_submission_that_times_out_may_have_been_sent_and_says_so() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (done, hold) = std::sync::mpsc::channel::<()>();
        let silent = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // Keeps the connection open, unanswered, until the client has given up.
            let _ = hold.recv();
            drop(stream);
        });
        let nodes = Nodes::with_timeout(&[url], std::time::Duration::from_millis(300)).unwrap();
        let e = nodes.submit(b"tx", 0).unwrap_err();
        done.send(()).unwrap();
        silent.join().unwrap();
        assert!(e.downcast_ref::<super::MaybeSent>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains("timed out"), "{e:#}");
    }

    #[test]
    fn a_node_without_the_item_is_passed_over_and_every_node_is_heard() {
        let lagging = canned(404, r#"{"error":"not_found"}"#, 3);
        let current = canned(200, r#"{"height":7}"#, 2);
        let dead = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let nodes = Nodes::new(&[dead.clone(), lagging, current]).unwrap();
        assert_eq!(nodes.get("/v1/headers/7").unwrap().status, 404);
        let found = nodes.get_found("/v1/headers/7").unwrap();
        assert_eq!(
            (found.status, found.body["height"].as_u64()),
            (200, Some(7))
        );
        // A garbled answer is no answer, named as such; the next node is asked.
        let garbled = canned(200, "<html>proxy error</html>", 2);
        let e = Nodes::new(std::slice::from_ref(&garbled))
            .unwrap()
            .get("/v1/status")
            .unwrap_err();
        assert!(format!("{e:#}").contains("not JSON"), "{e:#}");
        let both = Nodes::new(&[garbled, canned(200, r#"{"height":7}"#, 1)]).unwrap();
        assert_eq!(both.get("/v1/headers/7").unwrap().status, 200);
        let all = nodes.get_all("/v1/status");
        assert_eq!(all.iter().map(|a| a.status).collect::<Vec<_>>(), [404, 200]);
        assert!(Nodes::new(&[dead]).unwrap().get("/v1/status").is_err());
    }

    #[test]
    fn a_transaction_is_as_far_as_the_most_advanced_node_has_it() {
        let unknown = || canned(200, r#"{"state":"unknown"}"#, 1);
        let pending = || canned(200, r#"{"state":"pending"}"#, 1);
        let committed = || canned(200, r#"{"state":"committed","height":9}"#, 1);
        let state = |urls: &[String], every_node| {
            let a = Nodes::new(urls)
                .unwrap()
                .tx_status("ab", every_node)
                .unwrap();
            a.body["state"].as_str().unwrap_or_default().to_string()
        };
        assert_eq!(
            state(&[unknown(), pending(), committed()], true),
            "committed"
        );
        assert_eq!(state(&[unknown(), pending(), unknown()], true), "pending");
        assert_eq!(state(&[unknown(), unknown()], true), "unknown");
        // Unless every node is asked, the first that says pending is believed.
        assert_eq!(
            state(&[unknown(), pending(), committed()], false),
            "pending"
        );
        assert_eq!(state(&[unknown(), committed()], false), "committed");
    }
}
