//! Loopback ports for the test services to listen on, picked so that no outgoing connection
//! takes one before its service binds it.
//!
//! A port found with `bind(127.0.0.1:0)` and released comes from the kernel's range of
//! ephemeral ports (32768–60999 by default on Linux), the same range outgoing connections take
//! their source ports from. Validators start one after another and dial their peers at once,
//! so a port meant for a later validator could be taken by an earlier one's dial before the
//! later one listened on it; CI saw exactly that (`Error listening on /ip4/127.0.0.1/tcp/…`,
//! and a validator without a network). Ports here come from below that range, where the kernel
//! never picks source ports, from a counter per process that starts at an offset drawn from the
//! process id, so test processes running at once rarely meet; each is checked free when picked.

use std::sync::atomic::{AtomicU32, Ordering};

/// The first port handed out.
const LOW: u32 = 10_000;

/// How many ports above `LOW` are used: up to 26,000, below the devnet's (26700–26900) and the
/// benchmarks' (27800–27803) fixed ports and well below the ephemeral range.
const SPAN: u32 = 16_000;

/// A loopback port nobody listens on right now and no outgoing connection will take.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id().wrapping_mul(2_654_435_761) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (offset + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN);
}

#[cfg(test)]
mod tests {
    use super::free_port;

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len(), "{ports:?}");
        for p in ports {
            assert!((10_000..26_000).contains(&p), "{p}");
            assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        }
    }
}
