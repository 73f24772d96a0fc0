//! `serve`: the verifier service. Followers keep the light client current from every node; the
//! HTTP service answers with core's `verify` over what they verified.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::checker::Checker;
use crate::follower::follow;
use crate::http::{App, ConnLimits, Guard, Limits, Metrics, router};
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
    /// Keep the light client's position in this file and resume from it at start, instead of
    /// verifying every header again from genesis (spec/verifier.md §2.1).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Requests per second one client address may make, sustained.
    #[arg(long, default_value_t = NonZeroU32::MIN.saturating_add(19))]
    pub rate_per_ip: NonZeroU32,
    /// Extra requests one address may make in a burst.
    #[arg(long, default_value_t = NonZeroU32::MIN.saturating_add(39))]
    pub burst_per_ip: NonZeroU32,
    /// Requests in progress at once; more are answered 503.
    #[arg(long, default_value_t = 512)]
    pub max_in_flight: usize,
    /// A connection that has not sent a whole request head this long after it opened, or
    /// after its last answer, is closed.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Open connections from one client address at most; more are closed at once.
    #[arg(long, default_value_t = 64)]
    pub max_connections_per_ip: usize,
    /// Open connections in all at most; more are closed at once.
    #[arg(long, default_value_t = 8_192)]
    pub max_connections: usize,
}

/// Runs the service until SIGINT or SIGTERM.
pub async fn serve(a: ServeArgs) -> Result<()> {
    let genesis = crate::files::read_genesis(&a.genesis)?;
    let resumed = match &a.state {
        Some(path) => match crate::saved::load(path, &genesis) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "saved light-client state not used; starting from genesis");
                None
            }
        },
        None => None,
    };
    let trust = Arc::new(match resumed {
        Some(t) => {
            tracing::info!(
                height = t.tip().0.0,
                "light client resumed from its saved state"
            );
            t
        }
        None => Trust::from_genesis(&genesis)?,
    });
    if let Some(path) = a.state.clone() {
        // Saved every few seconds when it moved; a crash loses at most that much progress.
        let (trust, genesis_hash) = (trust.clone(), genesis.hash());
        tokio::spawn(async move {
            let mut saved_height = None;
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                let height = trust.tip().0;
                if saved_height == Some(height) {
                    continue;
                }
                let (t, p) = (trust.clone(), path.clone());
                match tokio::task::spawn_blocking(move || crate::saved::save(&t, genesis_hash, &p))
                    .await
                {
                    Ok(Ok(())) => saved_height = Some(height),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "cannot save the light client's state")
                    }
                    Err(e) => tracing::warn!(error = %e, "saving the light client's state failed"),
                }
            }
        });
    }
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
    let max_age_ms = a.freshness_ms;
    let every = Duration::from_millis(a.registry_refresh_ms.max(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if crate::registry::refresh_known(&ledger, &trust, max_age_ms).await {
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
        metrics.clone(),
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
    let conns = ConnLimits {
        header_timeout: Duration::from_millis(a.header_timeout_ms.max(1)),
        per_client: a.max_connections_per_ip.max(1),
        total: a.max_connections.max(1),
    };
    crate::http::serve(listener, router(app, guard), conns, metrics, shutdown()).await;
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
