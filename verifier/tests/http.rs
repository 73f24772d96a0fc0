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
use std::time::Duration;

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

/// Opens a connection to `server` from the loopback address `from`.
async fn connect_from(from: [u8; 4], server: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes `conn` (within 3 s, else panics); what it sent first.
async fn until_closed(conn: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), conn.read_to_end(&mut got))
        .await
        .expect("the server closes the connection")
        .unwrap();
    got
}

/// Sends one GET for `/health` on `conn`; the answer's status line.
async fn health_status_line(conn: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: v\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), conn.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_connections_are_capped_per_address() {
    use std::sync::atomic::Ordering;

    use credledger_verifier::http::{ConnLimits, Guard, Limits, Metrics, router, serve};
    use tokio::io::AsyncWriteExt;

    let (rig, _) = Rig::with_license(13).await;
    let metrics = Arc::new(Metrics::default());
    let app = router(
        Arc::new(credledger_verifier::http::App {
            checker: rig.checker,
            metrics: metrics.clone(),
        }),
        Arc::new(Guard::new(Limits::default(), metrics.clone())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = ConnLimits {
        header_timeout: Duration::from_millis(400),
        per_client: 2,
        total: 100,
    };
    let running = tokio::spawn(serve(listener, app, limits, metrics.clone(), async {
        let _ = stopped.await;
    }));

    // Two connections from one address: one says nothing, one starts a request and stalls.
    let mut silent = connect_from([127, 0, 0, 1], server).await;
    let mut slow = connect_from([127, 0, 0, 1], server).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third from the same address is closed at once, unanswered; another address is served,
    // and the guard saw its address (it answers 500 without one).
    let mut third = connect_from([127, 0, 0, 1], server).await;
    assert!(until_closed(&mut third).await.is_empty());
    assert!(metrics.connections_refused.load(Ordering::Relaxed) >= 1);
    let mut other = connect_from([127, 0, 0, 2], server).await;
    assert_eq!(health_status_line(&mut other).await, "HTTP/1.1 200 OK");

    // Past the header deadline both stalled connections are closed, and the address may open
    // connections again.
    until_closed(&mut silent).await;
    until_closed(&mut slow).await;
    let mut again = connect_from([127, 0, 0, 1], server).await;
    assert_eq!(health_status_line(&mut again).await, "HTTP/1.1 200 OK");
    // The answered connection, idle since, is closed by the same deadline.
    until_closed(&mut again).await;

    // Stopping ends the service.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the service stops")
        .unwrap();
}
