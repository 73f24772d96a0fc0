//! `serve`: the verifier service. Followers keep the light client current from every node; the
//! HTTP service answers with core's `verify` over what they verified.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use credledger_core::genesis::Genesis;

use crate::checker::Checker;
use crate::follower::follow;
use crate::http::{App, Guard, Limits, Metrics, router};
use crate::ledger::LedgerClient;
use crate::trust::Trust;

/// Arguments of `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The genesis file: the only thing trusted.
    #[arg(long, value_name = "FILE", env = "CREDLEDGER_GENESIS")]
    pub genesis: PathBuf,
    /// Node API URLs (repeat or separate with commas); none is trusted, all are followed.
    #[arg(
        long = "node",
        value_name = "URL",
        required = true,
        value_delimiter = ',',
        env = "CREDLEDGER_NODE"
    )]
    pub nodes: Vec<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Status older than this is not believed: CANNOT CHECK rather than VALID.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub freshness_ms: u64,
    /// Reuse a credential's status evidence for this long before asking the ledger again (in
    /// the background up to three times this long; spec/verifier.md §3).
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub status_refresh_ms: u64,
    /// Re-read every issuer, key and kind the registry holds this often, so removals and key
    /// revocations by governance reach it (spec/verifier.md §3.4).
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub registry_refresh_ms: u64,
    /// Requests per second one client address may make, sustained.
    #[arg(long, default_value_t = NonZeroU32::MIN.saturating_add(19))]
    pub rate_per_ip: NonZeroU32,
    /// Extra requests one address may make in a burst.
    #[arg(long, default_value_t = NonZeroU32::MIN.saturating_add(39))]
    pub burst_per_ip: NonZeroU32,
    /// Requests in progress at once; more are answered 503.
    #[arg(long, default_value_t = 512)]
    pub max_in_flight: usize,
}

/// Runs the service until SIGINT or SIGTERM.
pub async fn serve(a: ServeArgs) -> Result<()> {
    let bytes = std::fs::read(&a.genesis)
        .with_context(|| format!("cannot read {}", a.genesis.display()))?;
    let genesis = Genesis::from_json(&bytes)
        .with_context(|| format!("{} is not a genesis document", a.genesis.display()))?;
    let trust = Arc::new(Trust::from_genesis(&genesis)?);
    let mut nodes = Vec::new();
    for n in &a.nodes {
        let n = n.trim().trim_end_matches('/').to_string();
        if !(n.starts_with("http://") || n.starts_with("https://")) {
            bail!("--node {n}: expected an http:// or https:// URL");
        }
        nodes.push(n);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .build()?;
    // Status requests must not outlive the page's patience; streams have their own idle limit.
    let status_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3))
        .build()?;
    for n in &nodes {
        tokio::spawn(follow(trust.clone(), client.clone(), n.clone()));
    }
    let ledger = LedgerClient::new(
        status_client,
        nodes.clone(),
        Duration::from_millis(a.status_refresh_ms),
    );
    let metrics = Arc::new(Metrics::default());
    let app = Arc::new(App {
        checker: Checker::new(trust, ledger, a.freshness_ms),
        metrics: metrics.clone(),
    });
    // Issuers, keys and kinds change by governance; what the registry holds is re-read
    // periodically so removals and revocations reach it (spec/verifier.md §3.4).
    let (trust, ledger) = (app.checker.trust().clone(), app.checker.ledger().clone());
    let every = Duration::from_millis(a.registry_refresh_ms.max(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if crate::registry::refresh_known(&ledger, &trust).await {
                tracing::info!("issuer registry updated from the ledger");
            }
        }
    });
    let guard = Arc::new(Guard::new(
        Limits {
            per_ip_per_second: a.rate_per_ip,
            per_ip_burst: a.burst_per_ip,
            max_in_flight: a.max_in_flight,
        },
        metrics,
    ));
    let pruned = guard.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            pruned.prune();
        }
    });
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, nodes = nodes.len(), chain = %genesis.chain_id, "verifier listening");
    println!("verifier listening on http://{addr}");
    axum::serve(
        listener,
        router(app, guard).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    tracing::info!("verifier stopped");
    Ok(())
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
