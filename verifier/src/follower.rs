//! Follows one node's header stream (server-sent events, spec/http-api.md §3) and offers every
//! header to [`Trust`]. The node is not trusted: its bytes are bounded, its headers verified,
//! and on any trouble the follower reconnects from where that node left off (spec/verifier.md §2).

use std::sync::Arc;
use std::time::Duration;

use credledger_core::verify::HeaderAnswer;
use thiserror::Error;

use crate::trust::{KEEP_HEADERS, OfferError, Offered, Trust};

/// Largest event (one header, its commit and perhaps a validator set) accepted from a node.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// A stream silent this long is dropped; nodes send keep-alives every 15 s.
const IDLE: Duration = Duration::from_secs(40);
/// How far behind a node's tip the follower may start a stream; the node replays at most 1,000.
const MAX_REPLAY: u64 = 900;
/// A single read (status, one header) must be answered whole within this, and a stream must
/// begin within it: a node that takes the connection and never answers is left, not waited
/// on for ever. (The stream itself then lives as long as it sends within [`IDLE`].)
const ANSWER: Duration = Duration::from_secs(10);

/// Why a stream ended.
#[derive(Debug, Error)]
pub enum FollowError {
    /// The node could not be reached or broke the connection.
    #[error("node unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The node answered with an error status.
    #[error("node answered {0}")]
    Status(reqwest::StatusCode),
    /// The stream sent something that is not a bounded, well-formed header event.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// The stream was silent too long.
    #[error("no event or keep-alive for {0:?}")]
    Idle(Duration),
    /// The node did not answer in time.
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    /// A header did not verify, or conflicted with a verified one.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// The node is too far ahead to stream from the light client's height (it is caught up
    /// by single-header reads first).
    #[error("stream ended")]
    Ended,
}

/// Follows `node` until the process ends, reconnecting with a back-off after each failure.
///
/// Each node is followed from its own position, not from the light client's: a header this
/// node serves at a height another node's header already verified is still compared with it,
/// so a node serving a fork is caught however fast the honest nodes are. The first stream
/// starts at the newest verified header, which makes even a node's first header a comparison.
pub async fn follow(trust: Arc<Trust>, client: reqwest::Client, node: String) {
    let mut backoff = Duration::from_millis(250);
    let mut cursor = Cursor(None);
    loop {
        match follow_once(&trust, &client, &node, &mut cursor).await {
            Ok(()) => backoff = Duration::from_millis(250),
            Err(e) => {
                tracing::warn!(node = %node, error = %e, "header stream interrupted");
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Catches up with single-header reads while far behind, then follows the live stream.
async fn follow_once(
    trust: &Trust,
    client: &reqwest::Client,
    node: &str,
    cursor: &mut Cursor,
) -> Result<(), FollowError> {
    let tip = node_tip(client, node, ANSWER).await?;
    while trust.next_height().0 + MAX_REPLAY < tip {
        let h = trust.next_height();
        let url = format!("{node}/v1/headers/{h}");
        let body = within(ANSWER, async {
            read_limited(client.get(&url).send().await?, MAX_EVENT_BYTES).await
        })
        .await?;
        offer(trust, node, &body, cursor)?;
    }
    let url = format!("{node}/v1/headers/stream?from={}", cursor.start(trust));
    let resp = within(ANSWER, async { Ok(client.get(&url).send().await?) }).await?;
    if !resp.status().is_success() {
        return Err(FollowError::Status(resp.status()));
    }
    let mut reader = SseReader::new(resp);
    while let Some(data) = reader.next_data().await? {
        if let Offered::Ahead { .. } = offer(trust, node, &data, cursor)? {
            // A gap: start again from the height the light client needs.
            return Ok(());
        }
    }
    Err(FollowError::Ended)
}

/// The next height to ask one node for: one past the last header it served, or, before its
/// first, the light client's newest verified header.
struct Cursor(Option<u64>);

impl Cursor {
    /// Where the next stream starts. Never below the oldest verified header kept, since an
    /// older header can no longer be compared with anything.
    fn start(&self, trust: &Trust) -> u64 {
        let tip = trust.tip().0.0;
        let oldest = tip.saturating_sub(KEEP_HEADERS - 1).max(1);
        self.0.unwrap_or(tip).max(oldest)
    }
}

fn offer(
    trust: &Trust,
    node: &str,
    data: &[u8],
    cursor: &mut Cursor,
) -> Result<Offered, FollowError> {
    let ev: HeaderAnswer =
        serde_json::from_slice(data).map_err(|e| FollowError::BadEvent(e.to_string()))?;
    let offered = trust.offer(node, &ev.header, &ev.commit, ev.next_validators.as_ref())?;
    cursor.0 = Some(match &offered {
        Offered::Ahead { expected } => expected.0,
        Offered::Advanced | Offered::Known => ev.header.height.0 + 1,
    });
    Ok(offered)
}

/// `f`, or [`FollowError::NoAnswer`] if it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    f: impl Future<Output = Result<T, FollowError>>,
) -> Result<T, FollowError> {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or(Err(FollowError::NoAnswer(limit)))
}

async fn node_tip(
    client: &reqwest::Client,
    node: &str,
    limit: Duration,
) -> Result<u64, FollowError> {
    let body = within(limit, async {
        read_limited(
            client.get(format!("{node}/v1/status")).send().await?,
            16 * 1024,
        )
        .await
    })
    .await?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| FollowError::BadEvent(e.to_string()))?;
    v["height"]
        .as_u64()
        .ok_or_else(|| FollowError::BadEvent("status without a height".into()))
}

/// Reads a whole response body, refusing more than `max` bytes.
pub async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, FollowError> {
    if !resp.status().is_success() {
        return Err(FollowError::Status(resp.status()));
    }
    let mut out = Vec::new();
    // Errors lose their URL, which can name a credential: logs hold no credential ids.
    while let Some(chunk) = resp.chunk().await.map_err(reqwest::Error::without_url)? {
        if out.len() + chunk.len() > max {
            return Err(FollowError::BadEvent(format!(
                "answer larger than {max} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A node's answer body whatever its status (a 404 may carry a proof of absence), at most
/// `max` bytes, read chunk by chunk so a lying node cannot make it hold more.
pub async fn read_any(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if out.len() + chunk.len() > max {
            return Err(format!("answer larger than {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The `data` of server-sent events, one event at a time, each at most [`MAX_EVENT_BYTES`].
/// Written here rather than taken from a crate because the SSE crates at hand buffer without a
/// bound, and a node is not trusted.
struct SseReader {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl SseReader {
    fn new(resp: reqwest::Response) -> Self {
        SseReader {
            resp,
            buf: Vec::new(),
        }
    }

    /// The next event's data (its `data:` lines joined by newlines), or `None` at the end.
    async fn next_data(&mut self) -> Result<Option<Vec<u8>>, FollowError> {
        loop {
            if let Some(ev) = take_event(&mut self.buf)? {
                if !ev.is_empty() {
                    return Ok(Some(ev));
                }
                continue; // A keep-alive comment.
            }
            let chunk = tokio::time::timeout(IDLE, self.resp.chunk())
                .await
                .map_err(|_| FollowError::Idle(IDLE))??;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            self.buf.extend_from_slice(&chunk);
            if self.buf.len() > MAX_EVENT_BYTES + 1024 {
                return Err(FollowError::BadEvent(format!(
                    "event larger than {MAX_EVENT_BYTES} bytes"
                )));
            }
        }
    }
}

/// Takes one complete event (ended by a blank line) off the front of `buf`, returning its data.
fn take_event(buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, FollowError> {
    let normalized_end = buf.windows(2).position(|w| w == b"\n\n");
    let crlf_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let (end, sep) = match (normalized_end, crlf_end) {
        (Some(a), Some(b)) if b < a => (b, 4),
        (Some(a), _) => (a, 2),
        (None, Some(b)) => (b, 4),
        (None, None) => return Ok(None),
    };
    let event: Vec<u8> = buf.drain(..end + sep).collect();
    let text = std::str::from_utf8(&event[..end])
        .map_err(|_| FollowError::BadEvent("event is not UTF-8".into()))?;
    let mut data = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(d.strip_prefix(' ').unwrap_or(d).as_bytes());
        }
    }
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn events_split_on_blank_lines_and_comments_are_skipped() {
        let mut buf = b": keep-alive\n\nevent: header\nid: 3\ndata: {\"a\":1}\n\ndata: x".to_vec();
        assert_eq!(take_event(&mut buf).unwrap(), Some(vec![]));
        assert_eq!(take_event(&mut buf).unwrap(), Some(b"{\"a\":1}".to_vec()));
        assert_eq!(
            take_event(&mut buf).unwrap(),
            None,
            "incomplete event waits"
        );
        assert_eq!(buf, b"data: x");
    }

    #[test]
    fn multi_line_data_is_joined_and_crlf_is_understood() {
        let mut buf = b"data: a\r\ndata: b\r\n\r\n".to_vec();
        assert_eq!(take_event(&mut buf).unwrap(), Some(b"a\nb".to_vec()));
    }

    #[tokio::test]
    async fn a_node_that_takes_the_connection_and_never_answers_is_left() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        // It accepts, reads nothing and answers nothing.
        let held = tokio::spawn(async move {
            let (conn, _) = silent.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(conn);
        });
        let e = node_tip(&reqwest::Client::new(), &url, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, FollowError::NoAnswer(_)), "{e}");
        held.abort();
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut buf = bytes;
            while let Ok(Some(_)) = take_event(&mut buf) {}
        }
    }
}
