//! `GET /commands` with many clients that catch up from the start and never read: the binary's
//! memory must not grow by a copy of the log per client.

mod common;

use common::binary::spawn_with;
use common::{eventually, Backend, Mode};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const COMMANDS: usize = 3_000;
const CLIENTS: usize = 300;

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

async fn open_connections(client: &reqwest::Client, base: &str) -> u64 {
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("sessionkeeper_connections_open "))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_clients_catching_up_without_reading_cost_no_copy_of_the_log_each() {
    let backend = Backend::start(Mode::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = spawn_with(dir.path(), &backend.url(), &["--set", "maxConnections=1000"]);
    let pid = child.id();
    let client = reqwest::Client::new();

    // Sessions that never connected are inactive: one cleanup closes them all, a `close`
    // command each.
    let mut adds = Vec::new();
    for w in 0..8 {
        let (client, base) = (client.clone(), base.clone());
        adds.push(tokio::spawn(async move {
            for i in (w..COMMANDS).step_by(8) {
                let r =
                    client.post(format!("{base}/sessions")).json(&json!({ "sessionId": format!("s{i}") }));
                assert_eq!(r.send().await.unwrap().status(), 201);
            }
        }));
    }
    for a in adds {
        a.await.unwrap();
    }
    let removed: serde_json::Value = client
        .post(format!("{base}/cleanup-inactive-sessions"))
        .json(&json!({ "idleForMs": 0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(removed["count"], COMMANDS, "{removed}");

    let before = rss_mb(pid);
    let addr = base.trim_start_matches("http://").to_owned();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        // A small receive buffer: the kernel holds little of what the host writes.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4_096).unwrap();
        let mut s = socket.connect(addr.parse().unwrap()).await.unwrap();
        s.write_all(b"GET /commands HTTP/1.1\r\nHost: test\r\nLast-Event-ID: 0\r\n\r\n").await.unwrap();
        clients.push(s);
    }
    eventually(30, "every client connected", || async {
        (open_connections(&client, &base).await >= CLIENTS as u64).then_some(())
    })
    .await;
    // Each handler starts its catch-up and writes until the socket is full; take the highest
    // resident size over a bounded window.
    let mut peak = 0f64;
    for _ in 0..20 {
        peak = peak.max(rss_mb(pid));
        let _ = client.get(format!("{base}/health")).send().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let grown = peak - before;
    eprintln!("RSS {before:.1} MB -> {peak:.1} MB with {CLIENTS} clients catching up on {COMMANDS} commands");
    // A copy of the log per client (the whole catch-up read at once) grows it by more than twice
    // this bound (checked by making the page as large as the log); paged reads stay far below.
    assert!(grown < 25.0, "RSS grew {grown:.1} MB for {CLIENTS} clients ({before:.1} -> {peak:.1} MB)");
    // The host still answers.
    assert_eq!(client.get(format!("{base}/health")).send().await.unwrap().status(), 200);
    drop(clients);
    drop(child);
}
