//! Transactions, blocks, headers, commits, state proofs, Merkle frontiers and relayed batches
//! from the network or disk.
#![no_main]

use credledger_core::block::{Block, CommitCertificate, Header};
use credledger_core::bounded::BoundedVec;
use credledger_core::encoding::decode;
use credledger_core::hash::Digest;
use credledger_core::merkle::CompactTree;
use credledger_core::smt::StateProof;
use credledger_core::tx::{MAX_TX_BYTES, Transaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 7 {
        0 => {
            let _ = decode::<Transaction>(rest, MAX_TX_BYTES).map(|t| t.id());
        }
        1 => {
            let _ = decode::<Header>(rest, 1024).map(|h| h.hash());
        }
        2 => {
            let _ = decode::<CommitCertificate>(rest, 1 << 16);
        }
        3 => {
            if let Ok(p) = decode::<StateProof>(rest, 1 << 14) {
                let _ = p.verify(&Digest([1; 32]), &Digest([2; 32]), None);
            }
        }
        4 => {
            // A block as a proposal or sync carries it (bounded far below MAX_BLOCK_BYTES here,
            // so that a run explores structure rather than length).
            let _ = decode::<Block>(rest, 1 << 16).map(|b| b.header.hash());
        }
        5 => {
            // A node's relayed batch (spec/http-api.md, POST /v1/relay).
            let _ = decode::<BoundedVec<Vec<u8>, 1000>>(rest, 4 << 20);
        }
        _ => {
            if let Ok(t) = decode::<CompactTree>(rest, 4096) {
                let _ = CompactTree::from_parts(t.size(), t.peaks().to_vec()).map(|t| t.root());
            }
        }
    }
});
