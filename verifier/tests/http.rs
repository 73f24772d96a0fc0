//! The verifier's HTTP service over the rig: a photo of a QR code is read and checked like its
//! text, what cannot be read is named; every answer carries the security headers, bodies and
//! requests in flight are bounded, and `/health` tells the light client's state
//! (spec/verifier.md §6).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/rig.rs"]
mod rig;
#[path = "support/scripted.rs"]
mod scripted;

use std::sync::Arc;

use credledger_core::testkit::World;
use rig::Rig;

/// A PNG of a QR code holding `text`, as a phone's photo of one.
fn qr_png(text: &str) -> Vec<u8> {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let (w, scale) = (code.width() as u32, 6);
    let colors = code.to_colors();
    let img = image::GrayImage::from_fn((w + 8) * scale, (w + 8) * scale, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let dark = (4..w + 4).contains(&mx)
            && (4..w + 4).contains(&my)
            && colors[((my - 4) * w + (mx - 4)) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_image_reads_the_photo_and_names_what_it_could_not_read() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use credledger_verifier::http::Limits;

    let (rig, c) = Rig::with_license(9).await;
    let app = service(rig, Limits::default());
    let post = |body: Vec<u8>| {
        let req = Request::post("/api/v1/verify-image")
            .header("content-type", "image/png")
            .body(Body::from(body))
            .unwrap();
        let app = app.clone();
        async move {
            let (code, _, bytes) = send(&app, req).await;
            (
                code,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    // A genuine credential's code: VALID, with the text read.
    let text = World::compact(&c, None).to_qr_text();
    let (code, v) = post(qr_png(&text)).await;
    assert_eq!(
        (code, v["outcome"].as_str()),
        (StatusCode::OK, Some("VALID")),
        "{v}"
    );
    assert_eq!(v["presentation"], text.as_str());
    // A QR code that holds no presentation: NOT GENUINE, and the text read comes back, so the
    // page can open its result.
    let (code, v) = post(qr_png("hello, not a credential")).await;
    assert_eq!(
        (code, v["outcome"].as_str()),
        (StatusCode::OK, Some("NOT_GENUINE")),
        "{v}"
    );
    assert_eq!(v["presentation"], "hello, not a credential");
    // A picture with no QR code, and bytes that are no picture: 422 naming the problem.
    let blank = {
        let img = image::GrayImage::from_pixel(64, 64, image::Luma([255]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    for bad in [blank, b"not an image".to_vec()] {
        let (code, v) = post(bad).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
    }
}

/// The service in front of `rig`'s checker, with `limits`.
fn service(rig: Rig, limits: credledger_verifier::http::Limits) -> axum::Router {
    use credledger_verifier::http::{App, Guard, Metrics, router};
    let metrics = Arc::new(Metrics::default());
    let guard = Arc::new(Guard::new(limits, metrics.clone()));
    router(
        Arc::new(App {
            checker: rig.checker,
            metrics,
        }),
        guard,
    )
}

/// Sends `req` from a loopback client; the status, headers and body.
async fn send(
    app: &axum::Router,
    mut req: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            9,
        ))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_the_security_headers_and_bodies_and_load_are_bounded() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use credledger_verifier::http::Limits;

    let (rig, c) = Rig::with_license(11).await;
    let app = service(rig, Limits::default());

    // The page and an API answer alike carry every security header.
    for req in [
        Request::get("/").body(Body::empty()).unwrap(),
        Request::post("/api/v1/verify")
            .body(Body::from(World::compact(&c, None).to_qr_text()))
            .unwrap(),
    ] {
        let (code, headers, _) = send(&app, req).await;
        assert_eq!(code, StatusCode::OK);
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(headers[name], value, "{name}");
        }
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    }
    // A body over the presentation limit is 413, and still carries the headers.
    let huge = Request::post("/api/v1/verify")
        .body(Body::from(vec![b'A'; 64 * 1024]))
        .unwrap();
    let (code, headers, _) = send(&app, huge).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(headers.contains_key("content-security-policy"));
    // Health: ok, at the rig's height.
    let (code, _, body) = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(code, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["verified_height"], 1, "{health}");

    // With no place for a request in flight, every request is 503 at once, with Retry-After.
    let (full, c) = Rig::with_license(12).await;
    let app = service(
        full,
        Limits {
            max_in_flight: 0,
            ..Limits::default()
        },
    );
    let req = Request::post("/api/v1/verify")
        .body(Body::from(World::compact(&c, None).to_qr_text()))
        .unwrap();
    let (code, headers, _) = send(&app, req).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key("retry-after"));
}
