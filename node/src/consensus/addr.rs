//! P2p addresses as the node's configuration writes them, parsed here into the engine's own
//! address type, which no module outside `consensus` sees.

use std::fmt;

use arc_malachitebft_app_channel::app::net::Multiaddr;
use credledger_core::sig::PublicKey;

use super::engine::peer_id;

/// A p2p address: where this node listens, or a peer pinned by its `/p2p/` id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct P2pAddr(pub(super) Multiaddr);

impl fmt::Display for P2pAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl P2pAddr {
    /// The address to listen on: `/ip4/…/tcp/…` (the node binds it at start; an IPv6 or DNS
    /// form would need libp2p's own socket options to be checked the same way).
    pub fn listen(s: &str) -> Result<P2pAddr, String> {
        let a: Multiaddr = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
        let text = a.to_string();
        if !(text.starts_with("/ip4/") && text.contains("/tcp/")) {
            return Err(format!("{s:?} must be /ip4/…/tcp/…"));
        }
        Ok(P2pAddr(a))
    }

    /// `<public key hex>@<multiaddr>`: the address with the key's `/p2p/` id.
    pub fn peer(s: &str) -> Result<P2pAddr, String> {
        let (key, addr) = s
            .split_once('@')
            .ok_or_else(|| format!("peer {s:?}: expected <public key hex>@<multiaddr>"))?;
        let key: PublicKey = key
            .parse()
            .map_err(|e| format!("peer {s:?}: public key: {e}"))?;
        let addr: Multiaddr = addr
            .parse()
            .map_err(|e| format!("peer {s:?}: address: {e}"))?;
        if !addr.to_string().contains("/tcp/") {
            return Err(format!("peer {s:?}: address must be /ip4/…/tcp/…"));
        }
        if addr.to_string().contains("/p2p/") {
            return Err(format!(
                "peer {s:?}: leave out /p2p/; it follows from the key"
            ));
        }
        format!("{addr}/p2p/{}", peer_id(&key))
            .parse()
            .map(P2pAddr)
            .map_err(|e| format!("peer {s:?}: {e}"))
    }
}
