//! `check-log`'s first pass: the log file streamed once against the anchored heads, in memory
//! that does not grow with the log (the tree's frontier, plus the lines past the last anchor).
//! An intact log, the common case, is reported from this pass alone; a log that contradicts
//! an anchor is read again in full by [`super::logcheck::check`], which names every change by
//! line (spec/troad-log.md §7).

use credledger_core::merkle::CompactTree;

use super::heads::Head;
use super::logcheck::{CheckReport, FileRecord, Finding, late};

/// The streaming check of one file.
pub struct Stream<'a> {
    heads: &'a [Head],
    tree: CompactTree,
    /// The next head to compare with, in size order.
    next: usize,
    /// The lines past the latest anchor, to judge whether they came late.
    tail: Vec<FileRecord>,
    /// Lines read.
    lines: u64,
    contradicted: bool,
}

impl<'a> Stream<'a> {
    /// A check against `heads` (in sequence order, verified).
    pub fn new(heads: &'a [Head]) -> Stream<'a> {
        Stream {
            heads,
            tree: CompactTree::new(),
            next: 0,
            tail: Vec::new(),
            lines: 0,
            contradicted: false,
        }
    }

    fn anchored(&self) -> u64 {
        self.heads.last().map_or(0, |h| h.size)
    }

    /// Takes the file's next line.
    pub fn push(&mut self, r: FileRecord) {
        self.lines += 1;
        if self.contradicted {
            return;
        }
        if self.tree.size() >= self.anchored() {
            self.tail.push(r);
            return;
        }
        self.tree.push(r.leaf);
        while let Some(h) = self.heads.get(self.next)
            && h.size == self.tree.size()
        {
            if h.root != self.tree.root() {
                self.contradicted = true;
                return;
            }
            self.next += 1;
        }
    }

    /// The report, if every anchored head was reproduced; `None` if the file contradicts one
    /// or ends before the latest anchor's size (then the full check names what changed).
    /// `findings` are the lines that were not records, in line order.
    pub fn finish(self, mut findings: Vec<Finding>, max_delay_ms: u64) -> Option<CheckReport> {
        let anchored = self.anchored();
        if self.contradicted || self.tree.size() < anchored {
            return None;
        }
        for (i, r) in self.tail.iter().enumerate() {
            findings.extend(late(self.heads, r, anchored + i as u64 + 1, max_delay_ms));
        }
        Some(CheckReport {
            records: self.lines,
            anchored,
            anchors: self.heads.len(),
            unanchored: self.lines - anchored,
            leaves_used: false,
            findings,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::audit::logcheck::check;
    use credledger_core::Digest;
    use credledger_core::ids::Timestamp;
    use credledger_core::merkle::leaf_hash;

    const T0: u64 = 1_767_225_600_000;

    fn rec(i: u64) -> FileRecord {
        FileRecord {
            leaf: leaf_hash(&i.to_le_bytes()),
            time: Some(Timestamp(T0 + i)),
        }
    }

    fn heads(leaves: &[Digest], sizes: &[u64]) -> Vec<Head> {
        let mut tree = CompactTree::new();
        sizes
            .iter()
            .enumerate()
            .map(|(k, &size)| {
                while tree.size() < size {
                    tree.push(leaves[tree.size() as usize]);
                }
                Head {
                    sequence: k as u64 + 1,
                    size,
                    root: tree.root(),
                    anchored_at: Timestamp(T0 + size + 100_000),
                }
            })
            .collect()
    }

    fn stream(heads: &[Head], file: &[FileRecord]) -> Option<CheckReport> {
        let mut s = Stream::new(heads);
        for r in file {
            s.push(r.clone());
        }
        s.finish(Vec::new(), 60_000)
    }

    #[test]
    fn an_intact_log_gets_the_full_checks_report_from_one_pass() {
        let mut file: Vec<FileRecord> = (0..1000).map(rec).collect();
        let leaves: Vec<Digest> = file.iter().map(|r| r.leaf).collect();
        // Two anchors of one size, as an agent may make when no record came in between.
        let hs = heads(&leaves, &[300, 300, 700, 1000]);
        // Past the last anchor: one record on time, one dated long before the anchor.
        file.push(FileRecord {
            leaf: leaf_hash(b"on time"),
            time: Some(Timestamp(T0 + 200_000)),
        });
        file.push(FileRecord {
            leaf: leaf_hash(b"late"),
            time: Some(Timestamp(T0 + 5)),
        });
        let fast = stream(&hs, &file).unwrap();
        let full = check(&hs, &file, Vec::new(), None, 60_000);
        assert_eq!(
            (fast.records, fast.anchored, fast.unanchored, fast.anchors),
            (full.records, full.anchored, full.unanchored, full.anchors)
        );
        assert_eq!(fast.findings, full.findings);
        assert_eq!(fast.findings.len(), 1, "{:?}", fast.findings);
    }

    #[test]
    fn any_contradiction_or_a_short_file_goes_to_the_full_check() {
        let file: Vec<FileRecord> = (0..1000).map(rec).collect();
        let leaves: Vec<Digest> = file.iter().map(|r| r.leaf).collect();
        let hs = heads(&leaves, &[300, 700, 1000]);
        for i in [0usize, 299, 300, 999] {
            let mut altered = file.clone();
            altered[i] = rec(5000);
            assert!(stream(&hs, &altered).is_none(), "line {} altered", i + 1);
        }
        let mut swapped = file.clone();
        swapped.swap(10, 11);
        assert!(stream(&hs, &swapped).is_none());
        assert!(stream(&hs, &file[..999]).is_none(), "a missing last record");
        assert!(
            stream(&[], &file).is_some(),
            "no anchor yet: nothing to contradict"
        );
    }
}
