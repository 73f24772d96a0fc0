//! The batch's output folder: the holders' files, the journal, the report, and `signed.jsonl`,
//! every credential signed for the batch, flushed to disk before its transaction is sent. That
//! one file is what must survive a power loss; the holder files can be written again from it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use credledger_core::credential::HeldCredential;
use credledger_core::ids::CredentialId;
use credledger_core::presentation::{CompactPresentation, Presentation};
use credledger_issuer::files::{MAX_RECORD_LINE_BYTES, for_each_line};
use serde_json::{Value, json};

/// One row's outcome, for the report.
pub struct RowResult {
    /// Line number in the CSV, as a spreadsheet shows it.
    pub row: usize,
    /// The row's credential id, once it had one.
    pub id: Option<CredentialId>,
    /// `committed …`, `skipped: …` or `error: …`.
    pub outcome: String,
}

/// A transaction an earlier run journaled as about to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// Its id.
    pub tx: String,
    /// Its nonce and its credentials' ids in order (Ed25519 signing is deterministic, so these
    /// and the credentials give the same transaction again); `None` from an older journal.
    pub rebuild: Option<(u64, Vec<CredentialId>)>,
}

/// The output folder of one batch.
pub struct OutFolder {
    dir: PathBuf,
    journal: PathBuf,
    signed: PathBuf,
    /// Whether each row also gets its QR code as `<id>.png` and `<id>.svg`.
    images: bool,
}

impl OutFolder {
    /// Creates the folder if needed.
    pub fn open(dir: &Path) -> Result<OutFolder> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(OutFolder {
            dir: dir.to_path_buf(),
            journal: dir.join("journal.jsonl"),
            signed: dir.join("signed.jsonl"),
            images: false,
        })
    }

    /// The folder, writing each row's QR code as a PNG and an SVG too when `images`, as a
    /// single `publish` does.
    pub fn with_images(self, images: bool) -> OutFolder {
        OutFolder { images, ..self }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Binds the folder to the issuer key that signs its batch (`issuer/key-id`, in
    /// `signing-key.txt`), or refuses another: row ids derive from the key, so a re-run with
    /// another key would publish every row again under new ids.
    pub fn bind_key(&self, key: &str) -> Result<()> {
        let path = self.dir.join("signing-key.txt");
        match std::fs::read_to_string(&path) {
            Ok(bound) if !bound.trim().is_empty() && bound.trim() != key => bail!(
                "{} holds a batch signed with {}; this run signs with {key}, which would give \
                 every row a new id and publish it again. Run it with {}, or give another \
                 --out for a new batch",
                self.dir.display(),
                bound.trim(),
                bound.trim()
            ),
            Ok(bound) if !bound.trim().is_empty() => Ok(()),
            _ => write_whole(&path, format!("{key}\n").as_bytes()),
        }
    }

    /// The journal: the credential ids known committed, and the transactions submitted.
    pub fn read_journal(&self) -> Result<(HashSet<String>, Vec<Submitted>)> {
        let mut done = HashSet::new();
        let mut submitted = Vec::new();
        for_each_line(&self.journal, MAX_RECORD_LINE_BYTES, "a journal", |line| {
            // A line cut short by a crash is simply not counted; that row is checked on the
            // ledger.
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                return;
            };
            if let Some(id) = v["id"].as_str() {
                done.insert(id.to_string());
            } else if let Some(tx) = v["submitted"].as_str() {
                // Journals written before the nonce and ids were kept give no way to sign the
                // transaction again; it is still waited for.
                let ids: Option<Vec<CredentialId>> = v["credentials"]
                    .as_array()
                    .and_then(|ids| ids.iter().map(|i| i.as_str()?.parse().ok()).collect());
                submitted.push(Submitted {
                    tx: tx.to_string(),
                    rebuild: v["nonce"].as_u64().zip(ids),
                });
            }
        })
        .with_context(|| format!("cannot read {}", self.journal.display()))?;
        Ok((done, submitted))
    }

    /// Journals a row as committed (or found on the ledger).
    pub fn committed(&self, row: usize, id: &CredentialId, note: &str) -> Result<()> {
        self.journal_line(json!({ "row": row, "id": id.to_string(), "note": note }))
    }

    /// Journals a transaction about to be sent, with what a re-run needs to sign it again byte
    /// for byte: its nonce and its credentials' ids in order.
    pub fn submitted(&self, tx: &str, nonce: u64, ids: &[CredentialId]) -> Result<()> {
        self.journal_line(json!({ "submitted": tx, "nonce": nonce, "credentials": ids }))
    }

    fn journal_line(&self, line: Value) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal)
            .with_context(|| format!("cannot write {}", self.journal.display()))?;
        writeln!(f, "{line}").with_context(|| format!("cannot write {}", self.journal.display()))
    }

    /// Writes a row's holder files, `<id>.credential.json` and `<id>.qr.txt` (with images,
    /// `<id>.png` and `<id>.svg` first), each to a temporary name then renamed, so a crash
    /// leaves either a whole file or none. The credential file comes last: where it is, the
    /// others were written before it.
    pub fn write_holder(&self, held: &HeldCredential) -> Result<()> {
        let base = self.dir.join(held.body.id.to_string());
        let text = qr_text(held);
        if self.images {
            let code = crate::qr::code(&text)?;
            write_whole(&base.with_extension("png"), &crate::qr::png(&code)?)?;
            write_whole(
                &base.with_extension("svg"),
                crate::qr::svg(&code).as_bytes(),
            )?;
        }
        write_whole(
            &base.with_extension("qr.txt"),
            format!("{text}\n").as_bytes(),
        )?;
        write_whole(
            &base.with_extension("credential.json"),
            &serde_json::to_vec_pretty(held)?,
        )
    }

    /// Writes the holder files of many rows ([`OutFolder::write_holder`]); with images on
    /// every core, as drawing the QR codes (the encoder's mask choice above all) is then most
    /// of a batch's work.
    pub fn write_holders<'a>(&self, held: impl Iterator<Item = &'a HeldCredential>) -> Result<()> {
        let held: Vec<&HeldCredential> = held.collect();
        let threads = match self.images {
            true => std::thread::available_parallelism().map_or(1, |n| n.get()),
            false => 1,
        };
        if threads <= 1 || held.len() < 2 {
            return held.iter().try_for_each(|h| self.write_holder(h));
        }
        std::thread::scope(|s| {
            let parts: Vec<_> = held
                .chunks(held.len().div_ceil(threads))
                .map(|part| s.spawn(move || part.iter().try_for_each(|h| self.write_holder(h))))
                .collect();
            parts.into_iter().try_for_each(|p| {
                p.join()
                    .map_err(|_| anyhow::anyhow!("writing holder files failed unexpectedly"))?
            })
        })
    }

    /// The credential file an earlier run wrote for `id`, if one is there whole. A file that
    /// does not read back as that credential counts as missing: a power loss can leave a file
    /// whose name reached the disk but whose bytes did not, and the signed record then
    /// rewrites it.
    pub fn read_holder(&self, id: &CredentialId) -> Result<Option<HeldCredential>> {
        let path = self
            .dir
            .join(id.to_string())
            .with_extension("credential.json");
        // One larger than any credential file is not one this folder wrote: missing too.
        let Ok(bytes) = credledger_issuer::files::read_limited(
            &path,
            credledger_issuer::files::MAX_DOCUMENT_BYTES,
            "a credential file",
        ) else {
            return Ok(None);
        };
        match serde_json::from_slice::<HeldCredential>(&bytes) {
            Ok(held) if held.body.id == *id => Ok(Some(held)),
            Ok(held) => bail!("{} holds credential {}", path.display(), held.body.id),
            Err(_) => Ok(None),
        }
    }

    /// Whether a row's holder files are all there, whole: its credential file reads back, and
    /// the others are not empty.
    pub fn has_holder(&self, id: &CredentialId) -> bool {
        let base = self.dir.join(id.to_string());
        let mut others = vec!["qr.txt"];
        if self.images {
            others.extend(["png", "svg"]);
        }
        matches!(self.read_holder(id), Ok(Some(_)))
            && others
                .iter()
                .all(|ext| std::fs::metadata(base.with_extension(ext)).is_ok_and(|m| m.len() > 0))
    }

    /// Removes a row's holder files (its credential can never be published).
    pub fn remove_holder(&self, id: &CredentialId) {
        let base = self.dir.join(id.to_string());
        let _ = std::fs::remove_file(base.with_extension("credential.json"));
        for ext in ["qr.txt", "png", "svg"] {
            let _ = std::fs::remove_file(base.with_extension(ext));
        }
    }

    /// Appends credentials about to be sent to `signed.jsonl` and flushes it (and the folder
    /// entry) to disk. Holder files can sit in the page cache for seconds, and a power loss
    /// after their transaction committed would take them with it; this record brings them
    /// back ([`OutFolder::read_signed`]).
    pub fn record_signed<'a>(&self, held: impl Iterator<Item = &'a HeldCredential>) -> Result<()> {
        let err = || format!("cannot write {}", self.signed.display());
        let mut lines = Vec::new();
        for h in held {
            serde_json::to_writer(&mut lines, h)?;
            lines.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.signed)
            .with_context(err)?;
        f.write_all(&lines).with_context(err)?;
        f.sync_data().with_context(err)?;
        sync_dir(&self.dir)
    }

    /// The credentials an earlier run recorded as signed whose holder files are missing, by
    /// id (usually none: only those are kept, so a batch of a million rows is not held in
    /// memory). A last line cut short by a crash is left out: its transaction was never sent.
    pub fn read_signed_without_files(&self) -> Result<HashMap<CredentialId, HeldCredential>> {
        let mut lost = HashMap::new();
        for_each_line(
            &self.signed,
            MAX_RECORD_LINE_BYTES,
            "a signed record",
            |line| {
                // A line cut short by a crash (perhaps inside a character) is a credential whose
                // transaction was never sent.
                if let Ok(h) = serde_json::from_slice::<HeldCredential>(line)
                    && !self.has_holder(&h.body.id)
                {
                    lost.insert(h.body.id, h);
                }
            },
        )
        .with_context(|| format!("cannot read {}", self.signed.display()))?;
        Ok(lost)
    }

    /// Removes a report an earlier run left, so that no stale one is read as this run's.
    pub fn clear_report(&self) -> Result<()> {
        let path = self.report_path();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove the old {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Writes `report.csv`: one line per row, in row order.
    pub fn write_report(&self, results: &mut [RowResult]) -> Result<PathBuf> {
        results.sort_by_key(|r| r.row);
        let path = self.report_path();
        let mut w = csv::Writer::from_path(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(["row", "credential", "outcome"])?;
        for r in results.iter() {
            w.write_record([
                r.row.to_string(),
                r.id.map(|i| i.to_string()).unwrap_or_default(),
                r.outcome.clone(),
            ])?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn report_path(&self) -> PathBuf {
        self.dir.join("report.csv")
    }
}

/// Flushes a folder's entries to disk, so files created in it survive a power loss.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush {} to disk", dir.display()))
}

/// A row's QR text: its compact presentation, every claim disclosed.
pub fn qr_text(held: &HeldCredential) -> String {
    Presentation::Compact(CompactPresentation {
        body: held.body.clone(),
        signature: held.signature,
        disclosure: held.disclose(None),
    })
    .to_qr_text()
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_images_a_row_gets_a_png_and_svg_of_its_qr_text_and_loses_them_all_together() {
        let dir = tempfile::tempdir().unwrap();
        let world = credledger_core::testkit::World::new(3, 4);
        let held = world.lawyer_license(1, None);
        let base = dir.path().join(held.body.id.to_string());
        let plain = OutFolder::open(dir.path()).unwrap();
        plain.write_holder(&held).unwrap();
        assert!(
            !base.with_extension("png").exists(),
            "no images unless asked"
        );

        let folder = OutFolder::open(dir.path()).unwrap().with_images(true);
        folder.write_holder(&held).unwrap();
        let text = std::fs::read_to_string(base.with_extension("qr.txt")).unwrap();
        let png = image::load_from_memory(&std::fs::read(base.with_extension("png")).unwrap())
            .unwrap()
            .to_luma8();
        let (w, h) = png.dimensions();
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                png.get_pixel(x as u32, y as u32).0[0]
            });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(format!("{}\n", grids[0].decode().unwrap().1), text);
        let svg = std::fs::read_to_string(base.with_extension("svg")).unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{svg:.60}"
        );

        folder.remove_holder(&held.body.id);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{left:?}");

        // Many rows at once (on every core): each gets all four files.
        let many: Vec<_> = (2..9).map(|n| world.lawyer_license(n, None)).collect();
        folder.write_holders(many.iter()).unwrap();
        for h in &many {
            let base = dir.path().join(h.body.id.to_string());
            for ext in ["credential.json", "qr.txt", "png", "svg"] {
                assert!(base.with_extension(ext).exists(), "{ext} of {}", h.body.id);
            }
        }
    }

    #[test]
    fn holder_files_emptied_by_a_power_loss_count_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let world = credledger_core::testkit::World::new(3, 4);
        let held = world.lawyer_license(1, None);
        let id = held.body.id;
        let base = dir.path().join(id.to_string());
        let folder = OutFolder::open(dir.path()).unwrap();
        folder.write_holder(&held).unwrap();
        assert!(folder.has_holder(&id));
        assert_eq!(folder.read_holder(&id).unwrap(), Some(held.clone()));
        // The name reached the disk, the bytes did not.
        std::fs::write(base.with_extension("credential.json"), b"").unwrap();
        assert!(!folder.has_holder(&id));
        assert_eq!(folder.read_holder(&id).unwrap(), None);
        folder.write_holder(&held).unwrap();
        std::fs::write(base.with_extension("qr.txt"), b"").unwrap();
        assert!(!folder.has_holder(&id));
        // With images, an empty picture counts too.
        let folder = folder.with_images(true);
        folder.write_holder(&held).unwrap();
        assert!(folder.has_holder(&id));
        std::fs::write(base.with_extension("png"), b"").unwrap();
        assert!(!folder.has_holder(&id));
        // The signed record brings back what is missing.
        folder.record_signed([&held].into_iter()).unwrap();
        assert_eq!(folder.read_signed_without_files().unwrap().len(), 1);
    }

    #[test]
    fn a_folder_stays_bound_to_the_key_that_signed_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let folder = OutFolder::open(dir.path()).unwrap();
        folder.bind_key("moj/moj-2026-01").unwrap();
        folder.bind_key("moj/moj-2026-01").unwrap();
        let e = folder.bind_key("moj/moj-2027-01").unwrap_err().to_string();
        assert!(e.contains("signed with moj/moj-2026-01"), "{e}");
    }

    #[test]
    fn a_journal_line_cut_short_is_ignored_and_the_others_read() {
        let dir = tempfile::tempdir().unwrap();
        let folder = OutFolder::open(dir.path()).unwrap();
        let id = CredentialId([7; 16]);
        folder
            .submitted("ab12", 7, &[id, CredentialId([8; 16])])
            .unwrap();
        folder.committed(2, &id, "block 5").unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("journal.jsonl"))
            .unwrap();
        // A line of an older journal, without nonce and ids, then one cut short.
        writeln!(f, "{{\"submitted\": \"cd34\"}}").unwrap();
        f.write_all(b"{\"row\": 3, \"note\": \"\xe7\x8e").unwrap();
        let (done, submitted) = folder.read_journal().unwrap();
        assert_eq!(
            submitted,
            vec![
                Submitted {
                    tx: "ab12".into(),
                    rebuild: Some((7, vec![id, CredentialId([8; 16])])),
                },
                Submitted {
                    tx: "cd34".into(),
                    rebuild: None,
                },
            ]
        );
        assert!(done.contains(&id.to_string()));
        assert_eq!(done.len(), 1);
    }

    #[test]
    fn signed_credentials_are_read_back_by_id_and_a_cut_line_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let folder = OutFolder::open(dir.path()).unwrap();
        assert!(folder.read_signed_without_files().unwrap().is_empty());
        let world = credledger_core::testkit::World::new(3, 4);
        let (a, b) = (world.lawyer_license(1, None), world.lawyer_license(2, None));
        folder.record_signed([&a].into_iter()).unwrap();
        folder.record_signed([&b].into_iter()).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("signed.jsonl"))
            .unwrap();
        // Cut inside a character (the first two bytes of 王), as a crash can leave a claim.
        f.write_all(b"{\"body\": {\"claims\": \"\xe7\x8e").unwrap();
        let signed = folder.read_signed_without_files().unwrap();
        assert_eq!(signed.len(), 2);
        assert_eq!(signed[&a.body.id].signature, a.signature);
        assert_eq!(signed[&b.body.id].body, b.body);
        // Once a credential's holder files are there, it is not kept.
        folder.write_holder(&a).unwrap();
        let signed = folder.read_signed_without_files().unwrap();
        assert_eq!(signed.keys().collect::<Vec<_>>(), [&b.body.id]);
    }

    #[test]
    fn an_old_report_is_removed_and_a_new_one_lists_rows_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let folder = OutFolder::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("report.csv"), "stale").unwrap();
        folder.clear_report().unwrap();
        assert!(!dir.path().join("report.csv").exists());
        folder.clear_report().unwrap();
        let mut rows = vec![
            RowResult {
                row: 3,
                id: None,
                outcome: "error: b".into(),
            },
            RowResult {
                row: 2,
                id: None,
                outcome: "error: a".into(),
            },
        ];
        let path = folder.write_report(&mut rows).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text, "row,credential,outcome\n2,,error: a\n3,,error: b\n");
    }
}
