//! `check-log`: a whole log file against the source's anchored heads, reporting by line number
//! every record that is missing, altered, reordered, duplicated or appended after its anchor
//! (spec/troad-log.md §7). Pure: the caller reads the file and fetches the heads.

use std::collections::HashMap;

use credledger_core::Digest;
use credledger_core::ids::Timestamp;
use credledger_core::merkle::CompactTree;
use serde::Serialize;

use super::heads::Head;

/// One line of the log file, as far as it could be read.
#[derive(Clone, Debug)]
pub struct FileRecord {
    /// The record's leaf hash; for a line that is not a record, the leaf hash of its bytes,
    /// which no record's leaf equals, so the line keeps its place.
    pub leaf: Digest,
    /// The record's time, if the line is a record.
    pub time: Option<Timestamp>,
}

/// What is wrong with the log, by line number (from 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "finding")]
pub enum Finding {
    /// The line is not a T-Road record.
    Unreadable {
        /// The line.
        line: u64,
        /// Why.
        reason: String,
    },
    /// The line holds a record the anchored log does not have, where it had another.
    Altered {
        /// The line.
        line: u64,
        /// The anchored record it replaces (its line in the anchored log).
        anchored_line: u64,
    },
    /// Anchored records are not in the file: `count` of them from `anchored_line` on.
    Missing {
        /// The first one's line in the anchored log.
        anchored_line: u64,
        /// How many consecutive anchored records are missing there.
        count: u64,
        /// The last file line before the gap (`None`: at the start).
        after_line: Option<u64>,
    },
    /// The line holds an anchored record out of its anchored order.
    Reordered {
        /// The line.
        line: u64,
        /// The record's line in the anchored log.
        anchored_line: u64,
    },
    /// The line repeats an earlier line's record.
    Duplicated {
        /// The line.
        line: u64,
        /// The earlier line.
        first_line: u64,
    },
    /// The record was not in the log when an anchor that should hold it was made: slipped in
    /// among anchored records, or dated before an anchor that does not hold it.
    AppendedAfterAnchor {
        /// The line.
        line: u64,
        /// The anchor it should have been in.
        sequence: u64,
        /// That anchor's block time.
        anchored_at: Timestamp,
        /// The record's own time, if readable.
        time: Option<Timestamp>,
    },
    /// Without the agent's leaves, the first anchor the file contradicts: the change is in
    /// these lines (pass `--leaves` to name the line).
    HeadMismatch {
        /// The anchor.
        sequence: u64,
        /// Its size.
        size: u64,
        /// First line of the window.
        from_line: u64,
        /// Last line of the window.
        to_line: u64,
    },
    /// Without the agent's leaves: a record dated earlier than the line before it.
    TimeBackwards {
        /// The line.
        line: u64,
    },
    /// The leaves given do not match the anchored heads, so they were not used.
    LeavesRejected {
        /// The first anchor they contradict.
        sequence: u64,
    },
}

/// The outcome of a check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Lines in the file.
    pub records: u64,
    /// Records held by the latest anchor.
    pub anchored: u64,
    /// Anchors checked.
    pub anchors: usize,
    /// Lines after the latest anchor's records (not yet anchored).
    pub unanchored: u64,
    /// Whether the agent's leaves were used to name lines.
    pub leaves_used: bool,
    /// What is wrong; empty for an intact log.
    pub findings: Vec<Finding>,
}

impl Finding {
    /// The file line it is about, for ordering a report (a missing record sorts after the
    /// line it follows; window-wide findings first).
    fn line_key(&self) -> u64 {
        match self {
            Finding::Unreadable { line, .. }
            | Finding::Altered { line, .. }
            | Finding::Reordered { line, .. }
            | Finding::Duplicated { line, .. }
            | Finding::AppendedAfterAnchor { line, .. }
            | Finding::TimeBackwards { line } => *line,
            Finding::Missing { after_line, .. } => after_line.unwrap_or(0),
            Finding::HeadMismatch { .. } | Finding::LeavesRejected { .. } => 0,
        }
    }
}

impl CheckReport {
    /// No tampering found.
    pub fn clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// The first head (in size order) whose root the leaves do not reproduce.
fn first_mismatch(heads: &[Head], leaves: &[Digest]) -> Option<usize> {
    let mut tree = CompactTree::new();
    for (k, h) in heads.iter().enumerate() {
        if (leaves.len() as u64) < h.size {
            return Some(k);
        }
        while tree.size() < h.size {
            tree.push(leaves[tree.size() as usize]);
        }
        if tree.root() != h.root {
            return Some(k);
        }
    }
    None
}

/// Checks `file` against `heads` (in sequence order, verified). With `reference` (the agent's
/// leaves, which are used only if they reproduce every head), each change is named by line.
/// A record past the latest anchor dated more than `max_delay_ms` before it was appended late.
pub fn check(
    heads: &[Head],
    file: &[FileRecord],
    mut findings: Vec<Finding>,
    reference: Option<&[Digest]>,
    max_delay_ms: u64,
) -> CheckReport {
    let leaves: Vec<Digest> = file.iter().map(|r| r.leaf).collect();
    let anchored = heads.last().map_or(0, |h| h.size);
    let mut report = CheckReport {
        records: file.len() as u64,
        anchored,
        anchors: heads.len(),
        unanchored: (file.len() as u64).saturating_sub(anchored),
        leaves_used: false,
        findings: Vec::new(),
    };
    let Some(bad) = first_mismatch(heads, &leaves) else {
        // Every anchored prefix is intact; only the unanchored tail remains to be judged.
        late_tail(heads, file, anchored as usize, max_delay_ms, &mut findings);
        report.findings = findings;
        return report;
    };
    let reference = match reference {
        Some(r) => match first_mismatch(heads, r) {
            None => Some(&r[..anchored as usize]),
            Some(k) => {
                findings.push(Finding::LeavesRejected {
                    sequence: heads[k].sequence,
                });
                None
            }
        },
        None => None,
    };
    match reference {
        Some(r) => {
            report.leaves_used = true;
            align(heads, file, r, max_delay_ms, &mut findings);
        }
        None => window(heads, file, bad, &mut findings),
    }
    findings.sort_by_key(Finding::line_key);
    report.findings = findings;
    report
}

/// Without a reference: the first contradicted anchor's window, with what the file itself shows.
fn window(heads: &[Head], file: &[FileRecord], bad: usize, findings: &mut Vec<Finding>) {
    let h = &heads[bad];
    let from = if bad == 0 { 0 } else { heads[bad - 1].size };
    findings.push(Finding::HeadMismatch {
        sequence: h.sequence,
        size: h.size,
        from_line: from + 1,
        to_line: h.size,
    });
    let mut first: HashMap<Digest, u64> = HashMap::new();
    let mut previous: Option<Timestamp> = None;
    for (i, r) in file.iter().enumerate() {
        let line = i as u64 + 1;
        if let Some(&first_line) = first.get(&r.leaf) {
            findings.push(Finding::Duplicated { line, first_line });
        } else {
            first.insert(r.leaf, line);
        }
        if let (Some(p), Some(t)) = (previous, r.time)
            && t < p
        {
            findings.push(Finding::TimeBackwards { line });
        }
        previous = r.time.or(previous);
    }
}

/// A record past the latest anchor that claims a time well before it was appended late.
pub(super) fn late(
    heads: &[Head],
    r: &FileRecord,
    line: u64,
    max_delay_ms: u64,
) -> Option<Finding> {
    let last = heads.last()?;
    r.time
        .filter(|t| t.0.saturating_add(max_delay_ms) < last.anchored_at.0)
        .map(|t| Finding::AppendedAfterAnchor {
            line,
            sequence: last.sequence,
            anchored_at: last.anchored_at,
            time: Some(t),
        })
}

/// [`late`] for every line from `from` (0-based) on.
fn late_tail(
    heads: &[Head],
    file: &[FileRecord],
    from: usize,
    max_delay_ms: u64,
    findings: &mut Vec<Finding>,
) {
    for (i, r) in file.iter().enumerate().skip(from) {
        findings.extend(late(heads, r, i as u64 + 1, max_delay_ms));
    }
}

/// The anchor that first held anchored position `p`.
fn covering(heads: &[Head], p: u64) -> &Head {
    let k = heads.partition_point(|h| h.size <= p);
    &heads[k.min(heads.len() - 1)]
}

/// How a line relates to the anchored log.
#[derive(Clone, Copy)]
enum Class {
    /// An anchored record, in anchored order.
    Kept(u64),
    /// An anchored record out of order, or a repeat: already reported.
    Reported,
    /// A record the anchored log does not have.
    Foreign,
}

/// With an authenticated reference: matches every line to its anchored record and names each
/// difference (spec/troad-log.md §7.2).
fn align(
    heads: &[Head],
    file: &[FileRecord],
    reference: &[Digest],
    max_delay_ms: u64,
    findings: &mut Vec<Finding>,
) {
    let size = reference.len() as u64;
    let mut position: HashMap<Digest, u64> = HashMap::with_capacity(reference.len());
    for (p, leaf) in reference.iter().enumerate() {
        position.entry(*leaf).or_insert(p as u64);
    }
    // The line (0-based) where each anchored position was first found.
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut class = vec![Class::Foreign; file.len()];
    let mut matched: Vec<(usize, u64)> = Vec::new();
    for (i, r) in file.iter().enumerate() {
        let Some(&p) = position.get(&r.leaf) else {
            continue;
        };
        if let Some(&first) = seen.get(&p) {
            findings.push(Finding::Duplicated {
                line: i as u64 + 1,
                first_line: first + 1,
            });
            class[i] = Class::Reported;
        } else {
            seen.insert(p, i as u64);
            matched.push((i, p));
        }
    }
    // The longest run of lines in anchored order stays; the other matched lines moved.
    let keep = longest_increasing(&matched);
    let mut moved: Vec<Option<u64>> = vec![None; file.len()];
    for (j, &(i, p)) in matched.iter().enumerate() {
        if keep[j] {
            class[i] = Class::Kept(p);
        } else {
            class[i] = Class::Reported;
            moved[i] = Some(p);
            findings.push(Finding::Reordered {
                line: i as u64 + 1,
                anchored_line: p + 1,
            });
        }
    }
    // Consecutive missing records are one finding: a truncated log is one line of report.
    let missing = |from: u64, to: u64, after: Option<u64>, findings: &mut Vec<Finding>| {
        for q in from..to {
            if seen.contains_key(&q) {
                continue;
            }
            if let Some(Finding::Missing {
                anchored_line,
                count,
                after_line,
            }) = findings.last_mut()
                && *after_line == after
                && *anchored_line + *count == q + 1
            {
                *count += 1;
                continue;
            }
            findings.push(Finding::Missing {
                anchored_line: q + 1,
                count: 1,
                after_line: after,
            });
        }
    };
    // Walks the file with the next anchored position expected; a foreign record where an
    // anchored one is absent replaced it (altered); elsewhere it was slipped in.
    let (mut expected, mut last_line) = (0u64, None);
    for (i, r) in file.iter().enumerate() {
        let line = i as u64 + 1;
        match class[i] {
            Class::Kept(p) => {
                // A kept line crossed by a moved neighbour moved too: a swap names both lines,
                // while a record moved far names only itself.
                let crossed = (i > 0 && moved[i - 1].is_some_and(|m| m > p))
                    || moved.get(i + 1).copied().flatten().is_some_and(|m| m < p);
                if crossed {
                    findings.push(Finding::Reordered {
                        line,
                        anchored_line: p + 1,
                    });
                }
                missing(expected, p, last_line, findings);
                expected = p + 1;
                last_line = Some(line);
            }
            Class::Reported => {}
            Class::Foreign if expected >= size => {
                findings.extend(late(heads, r, line, max_delay_ms));
            }
            Class::Foreign if !seen.contains_key(&expected) => {
                findings.push(Finding::Altered {
                    line,
                    anchored_line: expected + 1,
                });
                expected += 1;
                last_line = Some(line);
            }
            Class::Foreign => {
                let h = covering(heads, expected);
                findings.push(Finding::AppendedAfterAnchor {
                    line,
                    sequence: h.sequence,
                    anchored_at: h.anchored_at,
                    time: r.time,
                });
            }
        }
    }
    missing(expected, size, last_line, findings);
}

/// Marks the entries of a longest strictly increasing subsequence of the positions.
fn longest_increasing(matched: &[(usize, u64)]) -> Vec<bool> {
    // Patience sorting: tails[k] is the index of the smallest last position of a run of k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut parent: Vec<Option<usize>> = vec![None; matched.len()];
    for (j, &(_, p)) in matched.iter().enumerate() {
        let k = tails.partition_point(|&t| matched[t].1 < p);
        parent[j] = if k > 0 { Some(tails[k - 1]) } else { None };
        if k == tails.len() {
            tails.push(j);
        } else {
            tails[k] = j;
        }
    }
    let mut keep = vec![false; matched.len()];
    let mut at = tails.last().copied();
    while let Some(j) = at {
        keep[j] = true;
        at = parent[j];
    }
    keep
}

#[cfg(test)]
mod tests;
