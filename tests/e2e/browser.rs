//! A citizen's phone (headless Chromium at 390×844, driven over WebDriver) opens the verifier's
//! page, uploads a photo of a lawyer's QR code and reads VALID in Chinese and English; after
//! the ministry revokes, the same photo reads REVOKED. Other licenses read SUSPENDED and
//! EXPIRED, a forged text NOT GENUINE, and once the ledger has stopped, CANNOT CHECK NOW. A
//! screenshot of each state is kept in `<target>/tmp/browser/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use credledger_tests::agency::now_ms;
use credledger_tests::citizen::{Ministry, Verifier, free_port, qr_png};
use credledger_tests::net::Net;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser(profile: &Path) -> (Driver, Client) {
    for p in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: run scripts/setup (installs Debian's chromium and chromium-driver)"
        );
    }
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The flags keep Chromium off the network it cannot reach here, and out of a sandbox that
    // needs privileges a test runner lacks.
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--window-size=390,844",
                format!("--user-data-dir={}", profile.display()),
            ],
            "mobileEmulation": { "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0 } }
        }
    });
    let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) if Instant::now() > deadline => panic!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Uploads the photo on the scan page and returns the big state once the result shows.
async fn scan(c: &Client, verifier: &str, lang: &str, photo: &Path) -> String {
    c.goto(&format!("{verifier}/?lang={lang}")).await.unwrap();
    let input = c.find(Locator::Css("#photo")).await.unwrap();
    input.send_keys(photo.to_str().unwrap()).await.unwrap();
    state(c).await
}

async fn state(c: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css("#state")).await
            && let Ok(Some(s)) = e.attr("data-state").await
        {
            return s;
        }
        assert!(Instant::now() < deadline, "no result page within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The issuer, kind and claims rows of the result page, as text.
async fn facts(c: &Client) -> String {
    c.find(Locator::Css("#facts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn word(c: &Client) -> String {
    c.find(Locator::Css("#state-word"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn keep(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_phone_scans_a_lawyer_license_valid_then_revoked_in_both_languages() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, Duration::from_secs(60)));
    let moj = Ministry::new(&net);
    let c = moj.publish_lawyer(42);
    // A license suspended, and one whose validity ends 4 s from now.
    let suspended = moj.publish_lawyer(43);
    moj.suspend(&suspended);
    let ends = now_ms() + 4_000;
    let expiring = moj.publish_lawyer_until(44, Some(ends));
    let v = Verifier::start(&net, &[]);
    // The photo holds a verifier link, as the devnet's sample does.
    let (photo, _) = qr_png(&c, Some(&v.url), net.dir.path());
    let (suspended_photo, _) = qr_png(&suspended, Some(&v.url), net.dir.path());
    let (expiring_photo, _) = qr_png(&expiring, Some(&v.url), net.dir.path());
    let shots = artifacts();
    let profile = net.dir.path().join("chromium");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_driver, b) = browser(&profile).await;
        assert_eq!(
            scan(&b, &v.url, "zh-TW", &photo).await,
            "VALID",
            "{}",
            v.log()
        );
        assert_eq!(word(&b).await, "有效");
        let shown = facts(&b).await;
        assert!(
            shown.contains("法務部") && shown.contains("(113)台檢證字第00042號"),
            "{shown}"
        );
        keep(&b, &shots, "valid-zh-TW").await;
        // The language switch keeps the result.
        b.find(Locator::Css("#lang-switch"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(state(&b).await, "VALID");
        assert_eq!(word(&b).await, "VALID");
        let shown = facts(&b).await;
        assert!(shown.contains("Ministry of Justice"), "{shown}");
        keep(&b, &shots, "valid-en").await;

        moj.revoke(&c);
        let revoked_at = Instant::now();
        let mut seen = String::new();
        while revoked_at.elapsed() < Duration::from_secs(10) {
            seen = scan(&b, &v.url, "en", &photo).await;
            if seen == "REVOKED" {
                break;
            }
        }
        assert_eq!(seen, "REVOKED");
        assert_eq!(word(&b).await, "REVOKED");
        keep(&b, &shots, "revoked-en").await;
        assert_eq!(scan(&b, &v.url, "zh-TW", &photo).await, "REVOKED");
        assert_eq!(word(&b).await, "已撤銷");
        let shown = facts(&b).await;
        assert!(shown.contains("懲戒處分"), "the reason is shown: {shown}");
        keep(&b, &shots, "revoked-zh-TW").await;

        // Pasting text works without the camera or a photo.
        b.goto(&format!("{}/?lang=en", v.url)).await.unwrap();
        b.find(Locator::Css("#p"))
            .await
            .unwrap()
            .send_keys("CL1:FORGED")
            .await
            .unwrap();
        b.find(Locator::Css("#check"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(state(&b).await, "NOT_GENUINE");
        keep(&b, &shots, "not-genuine-en").await;

        assert_eq!(
            scan(&b, &v.url, "zh-TW", &suspended_photo).await,
            "SUSPENDED"
        );
        assert_eq!(word(&b).await, "已暫停");
        keep(&b, &shots, "suspended-zh-TW").await;
        assert_eq!(scan(&b, &v.url, "en", &suspended_photo).await, "SUSPENDED");
        keep(&b, &shots, "suspended-en").await;

        while now_ms() <= ends {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(scan(&b, &v.url, "zh-TW", &expiring_photo).await, "EXPIRED");
        assert_eq!(word(&b).await, "已逾期");
        keep(&b, &shots, "expired-zh-TW").await;
        assert_eq!(scan(&b, &v.url, "en", &expiring_photo).await, "EXPIRED");
        keep(&b, &shots, "expired-en").await;

        // The ledger stops: once the verifier's last header is older than its freshness bound
        // (10 s), a license that is not revoked cannot be checked now.
        for i in 0..4 {
            net.kill(i);
        }
        let stopped = Instant::now();
        let mut seen = String::new();
        while stopped.elapsed() < Duration::from_secs(30) {
            seen = scan(&b, &v.url, "en", &suspended_photo).await;
            if seen == "CANNOT_CHECK" {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(seen, "CANNOT_CHECK", "{}", v.log());
        assert_eq!(word(&b).await, "CANNOT CHECK NOW");
        keep(&b, &shots, "cannot-check-en").await;
        assert_eq!(
            scan(&b, &v.url, "zh-TW", &suspended_photo).await,
            "CANNOT_CHECK"
        );
        assert_eq!(word(&b).await, "目前無法查驗");
        keep(&b, &shots, "cannot-check-zh-TW").await;
        b.close().await.unwrap();
    });
    eprintln!("screenshots in {}", shots.display());
}
