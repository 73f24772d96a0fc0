//! What stands between the public internet and the checker: a per-address rate limit answered
//! with 429, a cap on requests in progress answered with 503, and security headers on every
//! response (spec/verifier.md §6).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::metrics::Metrics;

/// The limits of the public endpoints.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests per second allowed from one address, sustained.
    pub per_ip_per_second: NonZeroU32,
    /// Requests one address may send at once above the sustained rate.
    pub per_ip_burst: NonZeroU32,
    /// Requests in progress at once; more are answered 503 at once rather than queued.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_ip_per_second: NonZeroU32::MIN.saturating_add(19),
            per_ip_burst: NonZeroU32::MIN.saturating_add(39),
            max_in_flight: 512,
        }
    }
}

/// The state the guard keeps.
#[derive(Debug)]
pub struct Guard {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Made once: building a clock reads the CPU's features and calibrates, far too slow to do
    /// for every refused request.
    clock: DefaultClock,
    in_flight: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    /// The most checks one address may ask for at once.
    burst: u32,
}

impl Guard {
    /// A guard with `limits`, counting into `metrics`.
    pub fn new(limits: Limits, metrics: Arc<Metrics>) -> Self {
        let quota = Quota::per_second(limits.per_ip_per_second).allow_burst(limits.per_ip_burst);
        Guard {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            metrics,
            burst: limits.per_ip_burst.get(),
        }
    }

    /// Charges `ip` for a batch of `total` checks, of which the guard already charged one for
    /// the request itself: a batch costs what as many single requests cost (spec/verifier.md
    /// §4.1). The answer when the address's allowance does not hold them: 413 when no wait ever
    /// would (more than the burst), else 429.
    #[allow(clippy::result_large_err)]
    pub fn charge_batch(&self, ip: IpAddr, total: u32) -> Result<(), Response> {
        if total > self.burst {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a batch of {total} presentations is more than the {} one address may send \
                     at once; send smaller batches\n",
                    self.burst
                ),
            )
                .into_response());
        }
        let Some(more) = NonZeroU32::new(total.saturating_sub(1)) else {
            return Ok(());
        };
        match self.limiter.check_key_n(&client_key(ip), more) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(self.too_many(not_until.wait_time_from(self.clock.now()))),
            // Cannot happen below the burst, checked above; refused all the same.
            Err(_) => Err(self.too_many(std::time::Duration::from_secs(1))),
        }
    }

    fn too_many(&self, wait: std::time::Duration) -> Response {
        self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
            "too many requests from your address; wait a moment and try again\n",
        )
            .into_response()
    }

    /// Forgets addresses whose allowance is full again, bounding the limiter's memory; run
    /// every few seconds.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// What the rate limit counts by: an IPv4 address, or an IPv6 address's /64 prefix (one
/// subscriber's network, whose host half a client can change at will).
pub(super) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// The middleware.
pub async fn guard(
    State(g): State<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = if let Err(not_until) = g.limiter.check_key(&client_key(peer.ip())) {
        g.too_many(not_until.wait_time_from(g.clock.now()))
    } else {
        match g.in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let resp = next.run(req).await;
                drop(permit);
                resp
            }
            Err(_) => {
                g.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "1".to_string())],
                    "the verifier is busy; try again in a moment\n",
                )
                    .into_response()
            }
        }
    };
    let h = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        h.entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    resp
}

/// Sent with every response. The page loads only its own script and style; the camera may be
/// used by this origin only; nothing is framed or sniffed, and no referrer leaves.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    (
        "permissions-policy",
        "camera=(self), microphone=(), geolocation=()",
    ),
    ("cache-control", "no-store"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_costs_as_many_checks_as_it_holds() {
        let limits = Limits {
            per_ip_per_second: NonZeroU32::MIN,
            per_ip_burst: NonZeroU32::new(5).unwrap(),
            max_in_flight: 8,
        };
        let g = Guard::new(limits, Arc::default());
        let ip: IpAddr = [127, 0, 0, 9].into();
        // Larger than the burst: never allowed, whatever the allowance left.
        let r = g.charge_batch(ip, 6).unwrap_err();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A batch of 4 draws 3 on top of the request's own 1 (not drawn in this test): 2 remain.
        assert!(g.charge_batch(ip, 4).is_ok());
        assert!(g.charge_batch(ip, 3).is_ok());
        let r = g.charge_batch(ip, 2).unwrap_err();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
        // A batch of one was charged by the guard alone.
        assert!(g.charge_batch(ip, 1).is_ok());
        // Another address has its own allowance.
        assert!(g.charge_batch([127, 0, 0, 10].into(), 5).is_ok());
        // IPv6 addresses of one /64 share one.
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert!(g.charge_batch(a, 5).is_ok(), "draws 4 of 5");
        assert_eq!(
            g.charge_batch(b, 3).unwrap_err().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert!(
            g.charge_batch("2001:db8:1:3::1".parse().unwrap(), 5)
                .is_ok()
        );
        assert_eq!(
            client_key("::ffff:10.0.0.1".parse().unwrap()),
            IpAddr::from([10, 0, 0, 1])
        );
    }
}
