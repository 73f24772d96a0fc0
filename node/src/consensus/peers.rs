//! The permissioned peer list follows the validator set (spec/adr/001-consensus-malachite.md,
//! "Permissioned peers"): the engine admits only its persistent peers, and this module says
//! which those are at each height, so a validator the council adds is admitted, and one it
//! removes is dropped, without editing any node's configuration or restarting it.

use std::collections::{BTreeSet, HashSet};

use arc_malachitebft_app_channel::NetworkRequest;
use arc_malachitebft_app_channel::app::engine::network::PersistentPeersOp;
use arc_malachitebft_app_channel::app::net::{Multiaddr, PeerId};
use credledger_core::block::ValidatorSet;
use credledger_core::ids::Height;
use tokio::sync::{mpsc, oneshot};

use super::engine::peer_id;

/// Which peers the engine admits, given the configured peers and the current validator set.
///
/// A configured peer whose key is not in the validator set when the node starts, and was in
/// none of the chain's earlier sets, is an **observer**: it stays admitted whatever the set
/// becomes. A validator the council removed is not one, though an operator may have left it in
/// the configuration: it is admitted again only if the council adds it again. Every other admitted peer is a
/// validator of the current set, reached at its configured address if it has one, else
/// admitted by its peer id alone (`/p2p/<id>`), which lets it connect in but gives nothing to
/// dial: a joining validator dials the validators it is configured with.
#[derive(Debug)]
pub struct PeerGate {
    me: PeerId,
    configured: Vec<(PeerId, Multiaddr)>,
    observers: HashSet<PeerId>,
    current: BTreeSet<Multiaddr>,
}

/// What to change in the engine's persistent peers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PeerChanges {
    /// Peers to admit (and dial, if the address has a transport).
    pub add: Vec<Multiaddr>,
    /// Peers to drop (and disconnect).
    pub remove: Vec<Multiaddr>,
}

impl PeerChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The peer id in an address's `/p2p/` component (the engine's crates do not export the
/// address's protocol type, so it is read from the text form).
fn pinned(addr: &Multiaddr) -> Option<PeerId> {
    addr.to_string().rsplit_once("/p2p/")?.1.parse().ok()
}

/// Whether an address says where to dial, beyond a bare `/p2p/<id>`.
fn dialable(addr: &Multiaddr) -> bool {
    !addr.to_string().starts_with("/p2p/")
}

/// The address that admits `id` without a place to dial it.
fn bare(id: PeerId) -> Option<Multiaddr> {
    format!("/p2p/{id}").parse().ok()
}

impl PeerGate {
    /// The gate of node `me` with its configured peers (each pinned by `/p2p/`), when `set`
    /// signs the next block and the chain had the sets `earlier` before it.
    pub fn new(
        me: PeerId,
        configured: &[Multiaddr],
        set: &ValidatorSet,
        earlier: &[ValidatorSet],
    ) -> PeerGate {
        let configured: Vec<(PeerId, Multiaddr)> = configured
            .iter()
            .filter_map(|a| pinned(a).map(|id| (id, a.clone())))
            .collect();
        let in_set: HashSet<PeerId> = std::iter::once(set)
            .chain(earlier)
            .flat_map(|s| s.validators())
            .map(|v| peer_id(&v.public_key))
            .collect();
        let observers = configured
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !in_set.contains(id))
            .collect();
        let mut gate = PeerGate {
            me,
            configured,
            observers,
            current: BTreeSet::new(),
        };
        // The engine starts with the peers it can dial; those admitted by id alone are added
        // by the first `follow`, through the engine's runtime request, which knows they give
        // nothing to dial.
        gate.current = gate.wanted(set).into_iter().filter(dialable).collect();
        gate
    }

    /// The persistent peers to start the engine with.
    pub fn initial(&self) -> Vec<Multiaddr> {
        self.current.iter().cloned().collect()
    }

    /// The peers admitted while `set` signs.
    fn wanted(&self, set: &ValidatorSet) -> BTreeSet<Multiaddr> {
        let mut out: BTreeSet<Multiaddr> = self
            .configured
            .iter()
            .filter(|(id, _)| self.observers.contains(id))
            .map(|(_, a)| a.clone())
            .collect();
        for v in set.validators() {
            let id = peer_id(&v.public_key);
            if id == self.me {
                continue;
            }
            let mut known = self.configured.iter().filter(|(c, _)| *c == id).peekable();
            if known.peek().is_none() {
                out.extend(bare(id));
            }
            out.extend(known.map(|(_, a)| a.clone()));
        }
        out
    }

    /// The changes that make the admitted peers those of `set`. The gate counts them as made:
    /// a change the engine could not take is made again by [`PeerGate::retry`].
    pub fn follow(&mut self, set: &ValidatorSet) -> PeerChanges {
        let wanted = self.wanted(set);
        let changes = PeerChanges {
            add: wanted.difference(&self.current).cloned().collect(),
            remove: self.current.difference(&wanted).cloned().collect(),
        };
        self.current = wanted;
        changes
    }

    /// Forgets that `changes` were made (the engine's request queue was full), so that the
    /// next [`PeerGate::follow`] makes them again.
    pub fn retry(&mut self, changes: &PeerChanges) {
        for a in &changes.add {
            self.current.remove(a);
        }
        for a in &changes.remove {
            self.current.insert(a.clone());
        }
    }
}

/// Asks the engine to make `changes` for the set that signs `height`, without waiting; returns
/// those its request queue could not take, for [`PeerGate::retry`].
pub fn request(
    changes: PeerChanges,
    height: Height,
    engine: &mpsc::Sender<NetworkRequest>,
) -> PeerChanges {
    let mut unsent = PeerChanges::default();
    let ops = changes
        .add
        .into_iter()
        .map(|a| (true, a))
        .chain(changes.remove.into_iter().map(|a| (false, a)));
    for (add, addr) in ops {
        let (reply, answer) = oneshot::channel();
        let op = if add {
            PersistentPeersOp::Add(addr.clone())
        } else {
            PersistentPeersOp::Remove(addr.clone())
        };
        let action = if add { "admit" } else { "drop" };
        if engine
            .try_send(NetworkRequest::UpdatePersistentPeers(op, reply))
            .is_err()
        {
            tracing::warn!(height = height.0, peer = %addr, action, "engine busy; peer change retried next height");
            if add {
                unsent.add.push(addr);
            } else {
                unsent.remove.push(addr);
            }
            continue;
        }
        tracing::info!(height = height.0, peer = %addr, action, "peer list follows the validator set");
        tokio::spawn(async move {
            if let Ok(Err(e)) = answer.await {
                tracing::warn!(peer = %addr, action, error = %e, "engine refused a peer change");
            }
        });
    }
    unsent
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_core::block::Validator;
    use credledger_core::sig::Keypair;

    fn key(i: u8) -> Keypair {
        Keypair::from_seed(&[i; 32])
    }

    fn set(members: &[u8]) -> ValidatorSet {
        ValidatorSet::new(
            members
                .iter()
                .map(|&i| Validator {
                    name: format!("v-{i}").parse().unwrap(),
                    public_key: key(i).public(),
                    power: credledger_core::ids::VotingPower(1),
                })
                .collect(),
        )
        .unwrap()
    }

    fn addr(i: u8) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", 27000 + i as u16, id(i))
            .parse()
            .unwrap()
    }

    fn id(i: u8) -> PeerId {
        peer_id(&key(i).public())
    }

    fn bare(i: u8) -> Multiaddr {
        super::bare(id(i)).unwrap()
    }

    #[test]
    fn the_admitted_peers_follow_the_set_and_observers_stay() {
        // Node 1 is configured with validators 2 and 3 and observer 9.
        let mut gate = PeerGate::new(id(1), &[addr(2), addr(3), addr(9)], &set(&[1, 2, 3]), &[]);
        let mut start = gate.initial();
        start.sort();
        let mut expected = vec![addr(2), addr(3), addr(9)];
        expected.sort();
        assert_eq!(start, expected);
        assert!(
            gate.follow(&set(&[1, 2, 3])).is_empty(),
            "no change, nothing to do"
        );

        // The council adds validator 4, whom node 1 was never told about: admitted by id.
        let c = gate.follow(&set(&[1, 2, 3, 4]));
        assert_eq!(c.add, vec![bare(4)]);
        assert!(c.remove.is_empty());

        // It removes validator 2: its configured address is dropped; observer 9 stays.
        let c = gate.follow(&set(&[1, 3, 4]));
        assert_eq!(c.remove, vec![addr(2)]);
        assert!(c.add.is_empty());

        // Validator 2 comes back at its configured address; validator 4 leaves.
        let c = gate.follow(&set(&[1, 2, 3]));
        assert_eq!(c.add, vec![addr(2)]);
        assert_eq!(c.remove, vec![bare(4)]);
    }

    #[test]
    fn a_restarted_node_admits_an_unconfigured_validator_by_id_once_running() {
        // Validator 4 joined while node 1 was running; node 1 restarts without its address.
        let mut gate = PeerGate::new(id(1), &[addr(2), addr(3)], &set(&[1, 2, 3, 4]), &[]);
        let mut start = gate.initial();
        start.sort();
        assert_eq!(
            start,
            vec![addr(2), addr(3)],
            "only dialable peers at start"
        );
        let c = gate.follow(&set(&[1, 2, 3, 4]));
        assert_eq!(c.add, vec![bare(4)]);
        assert!(c.remove.is_empty());
    }

    #[test]
    fn a_removed_validator_left_in_the_configuration_is_not_let_back_in_by_a_restart() {
        // The council removed validator 2 (the chain's sets were {1,2,3} then {1,3}); node 1
        // restarts with 2 still configured, beside observer 9.
        let earlier = [set(&[1, 2, 3])];
        let mut gate = PeerGate::new(id(1), &[addr(2), addr(3), addr(9)], &set(&[1, 3]), &earlier);
        let mut start = gate.initial();
        start.sort();
        let mut expected = vec![addr(3), addr(9)];
        expected.sort();
        assert_eq!(start, expected, "2 is no observer");
        assert!(gate.follow(&set(&[1, 3])).is_empty());
        // Added again, it is admitted at its configured address, and dropped when removed.
        assert_eq!(gate.follow(&set(&[1, 2, 3])).add, vec![addr(2)]);
        assert_eq!(gate.follow(&set(&[1, 3])).remove, vec![addr(2)]);
    }

    #[test]
    fn changes_the_engine_did_not_take_are_made_again() {
        let mut gate = PeerGate::new(id(1), &[addr(2)], &set(&[1, 2]), &[]);
        let c = gate.follow(&set(&[1, 2, 5]));
        assert_eq!(c.add, vec![bare(5)]);
        gate.retry(&c);
        assert_eq!(gate.follow(&set(&[1, 2, 5])).add, vec![bare(5)]);
        assert!(gate.follow(&set(&[1, 2, 5])).is_empty());
    }

    #[test]
    fn a_node_never_admits_itself_and_unpinned_addresses_are_ignored() {
        let loose: Multiaddr = "/ip4/127.0.0.1/tcp/27009".parse().unwrap();
        let gate = PeerGate::new(id(1), &[addr(1), loose], &set(&[1]), &[]);
        assert!(gate.initial().is_empty(), "{:?}", gate.initial());
    }
}
