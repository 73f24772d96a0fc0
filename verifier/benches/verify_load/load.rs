//! The load generator of the verifier benchmark: closed loops (a fixed number of requests in
//! flight), open loops (requests sent when due, whatever came back) and the revocation watcher.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use credledger_verifier::report::State;

pub async fn post(client: &reqwest::Client, url: &str, text: &str) -> u16 {
    match client
        .post(format!("{url}/api/v1/verify"))
        .body(text.to_string())
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

/// A second into the phase, asks for the first credential's revocation, then asks the service
/// about it every 50 ms; returns when REVOKED was first answered (bounded: 12 s after asking).
pub async fn watch_revocation(
    client: reqwest::Client,
    url: String,
    text: String,
    revoke_now: Arc<AtomicBool>,
) -> Option<Instant> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    revoke_now.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(12);
    let revoked = serde_json::to_value(State::Revoked).ok()?;
    while Instant::now() < deadline {
        let answer = client
            .post(format!("{url}/api/v1/verify"))
            .body(text.clone())
            .send()
            .await;
        if let Ok(r) = answer
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["outcome"] == revoked
        {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// `workers` requests in flight for `d`; returns the answers with HTTP status `status` per
/// second and their latencies, sorted (200 to measure checks, 429 to measure refusals).
pub async fn closed_loop(
    client: &reqwest::Client,
    url: &str,
    texts: &[String],
    workers: usize,
    d: Duration,
    status: u16,
) -> (f64, Vec<Duration>) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, url, texts) = (client.clone(), url.to_string(), texts.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = w;
            while start.elapsed() < d {
                let t = Instant::now();
                if post(&client, &url, &texts[i % texts.len()]).await == status {
                    lat.push(t.elapsed());
                }
                i += workers;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

/// Like [`closed_loop`], with `size` presentations in each request; returns presentations
/// answered VALID per second and each batch's latency.
pub async fn closed_loop_batches(
    client: &reqwest::Client,
    url: &str,
    texts: &[String],
    size: usize,
    workers: usize,
    d: Duration,
) -> (f64, Vec<Duration>) {
    let valid = serde_json::to_value(State::Valid).unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, url, texts, valid) = (
            client.clone(),
            url.to_string(),
            texts.to_vec(),
            valid.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut checked) = (Vec::new(), 0usize);
            let mut i = w * size;
            while start.elapsed() < d {
                let body = serde_json::json!({
                    "presentations": (i..i + size).map(|k| &texts[k % texts.len()]).collect::<Vec<_>>()
                });
                let t = Instant::now();
                let answer = client
                    .post(format!("{url}/api/v1/verify-batch"))
                    .json(&body)
                    .send()
                    .await;
                if let Ok(r) = answer
                    && let Ok(v) = r.json::<serde_json::Value>().await
                {
                    let results = v["results"].as_array().cloned().unwrap_or_default();
                    checked += results.iter().filter(|r| r["outcome"] == valid).count();
                    lat.push(t.elapsed());
                }
                i += workers * size;
            }
            (lat, checked)
        }));
    }
    let (mut all, mut checked) = (Vec::new(), 0);
    for t in tasks {
        let (lat, n) = t.await.unwrap();
        all.extend(lat);
        checked += n;
    }
    let rate = checked as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

#[derive(Default)]
pub struct OpenLoop {
    pub ok: usize,
    pub limited: usize,
    /// Answered 503: the server's cap on requests in flight.
    pub shed: usize,
    pub other: usize,
    /// From when each request was due (includes waiting for one of the client's connections).
    pub ok_lat: Vec<Duration>,
    /// From when each request was sent.
    pub ok_server_lat: Vec<Duration>,
}

/// Offers `rate` requests a second for `d`, whatever the answers take (no coordinated
/// omission): a request is sent on schedule even while earlier ones are in flight.
pub async fn open_loop(
    client: &reqwest::Client,
    url: &str,
    texts: &[String],
    rate: f64,
    d: Duration,
) -> OpenLoop {
    open_loop_from(std::slice::from_ref(client), url, texts, rate, d).await
}

/// [`open_loop`] from several clients in turn (each bound to its own source address, say).
pub async fn open_loop_from(
    clients: &[reqwest::Client],
    url: &str,
    texts: &[String],
    rate: f64,
    d: Duration,
) -> OpenLoop {
    let start = Instant::now();
    let total = (rate * d.as_secs_f64()) as usize;
    let mut tasks = Vec::with_capacity(total);
    // At most 1,024 connections, like a fleet of clients behind one address; latency counts from
    // when a request was due, so waiting for a connection is charged to the server.
    let slots = Arc::new(tokio::sync::Semaphore::new(1024));
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, text) = (
            clients[i % clients.len()].clone(),
            url.to_string(),
            texts[i % texts.len()].clone(),
        );
        let slots = slots.clone();
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            let sent = Instant::now();
            let s = post(&client, &url, &text).await;
            (s, due.elapsed(), sent.elapsed())
        }));
    }
    let mut out = OpenLoop::default();
    for t in tasks {
        let (s, l, server) = t.await.unwrap();
        match s {
            200 => {
                out.ok += 1;
                out.ok_lat.push(l);
                out.ok_server_lat.push(server);
            }
            429 => out.limited += 1,
            503 => out.shed += 1,
            _ => out.other += 1,
        }
    }
    out.ok_lat.sort();
    out.ok_server_lat.sort();
    out
}
