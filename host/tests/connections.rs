//! No client can hold the service: half-sent headers, idle keep-alive sockets, bodies shorter
//! than their Content-Length and piles of idle connections are closed or answered, and
//! `/health` keeps answering at the connection cap.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Host, Mode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short client limits, so each case ends in well under a second.
const LIMITS: &[(&str, &str)] =
    &[("clientHeaderTimeout", "300"), ("clientRequestTimeout", "300"), ("maxConnections", "8")];

async fn connect(host: &Host) -> TcpStream {
    TcpStream::connect(host.running.as_ref().unwrap().addr).await.unwrap()
}

/// Reads until the server closes the connection; what it sent before.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; got so far: {:?}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn half_sent_headers_and_idle_keep_alive_connections_are_closed() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), LIMITS).await;

    let mut partial = connect(&host).await;
    partial.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let got = read_to_close(&mut partial).await;
    assert!(!got.contains("200 OK"), "{got}");

    let mut silent = connect(&host).await;
    assert_eq!(read_to_close(&mut silent).await, "", "a connection that never sends a byte is closed");

    let mut keep_alive = connect(&host).await;
    keep_alive.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let got = read_to_close(&mut keep_alive).await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "answered, then closed when idle: {got}");
    host.stop().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_is_answered_408_and_a_huge_length_413_at_once() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), LIMITS).await;

    let mut short = connect(&host).await;
    short
        .write_all(b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sess")
        .await
        .unwrap();
    let got = read_to_close(&mut short).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("request timed out"), "{got}");

    // No body is sent at all: the declared length alone is refused.
    let mut huge = connect(&host).await;
    huge.write_all(b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000000000000\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), huge.read(&mut head)).await.unwrap().unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    host.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_idle_connections_make_room_and_health_answers() {
    let backend = Backend::start(Mode::Ok).await;
    // A long header timeout: only the cap can free the idle connections here.
    let host = Host::start(
        &backend.url(),
        &[("clientHeaderTimeout", "600000"), ("clientRequestTimeout", "600000"), ("maxConnections", "8")],
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(connect(&host).await);
    }
    for _ in 0..5 {
        let (status, health) = host.get("/health").await;
        assert_eq!(status, 200, "{health}");
    }
    let (_, metrics) = host.get_text("/metrics").await;
    let open = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sessionkeeper_connections_open "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(open <= 8, "never more than the cap open: {open}");
    assert!(metrics.contains("sessionkeeper_connections_evicted_total"), "{metrics}");
    host.stop().await;
}

#[tokio::test]
async fn a_shutdown_does_not_wait_for_idle_or_half_sent_connections() {
    let backend = Backend::start(Mode::Ok).await;
    let host =
        Host::start(&backend.url(), &[("clientHeaderTimeout", "600000"), ("shutdownTimeout", "60000")]).await;
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut s = connect(&host).await;
        s.write_all(b"GET /health HTTP/1.1\r\nHo").await.unwrap();
        slow.push(s);
    }
    let (status, _) = host.get("/health").await;
    assert_eq!(status, 200);
    let started = Instant::now();
    host.stop().await;
    assert!(started.elapsed() < Duration::from_secs(30), "shutdown waited {:?}", started.elapsed());
}

#[tokio::test]
async fn an_api_key_with_surrounding_spaces_is_the_key_without_them() {
    let backend = Backend::start(Mode::Ok).await;
    let host = Host::start(&backend.url(), &[("apiKey", "  s3cret-key \n")]).await;
    let url = format!("{}/sessions", host.base);
    let client = reqwest::Client::new();
    let ok = client.get(&url).bearer_auth("s3cret-key").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let upper = client.get(&url).header("authorization", "BEARER s3cret-key").send().await.unwrap();
    assert_eq!(upper.status(), 200, "the scheme is case-insensitive");
    host.stop().await;
}
