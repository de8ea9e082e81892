//! Connections that hold the host's port without making requests: idle ones (no byte sent) and
//! slowloris ones (a header line started, a byte every two seconds). Each is opened again when
//! the host closes it, and the closes are counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The running squatters.
pub struct Squatters {
    stop: Arc<AtomicBool>,
    closed: Arc<AtomicU64>,
}

impl Squatters {
    /// Opens `idle` idle and `slow` slowloris connections to `addr`.
    pub fn start(addr: &str, idle: usize, slow: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicU64::new(0));
        for i in 0..idle + slow {
            let (addr, stop, closed) = (addr.to_owned(), stop.clone(), closed.clone());
            let slowloris = i >= idle;
            tokio::spawn(async move {
                while !stop.load(Relaxed) {
                    let Ok(mut s) = TcpStream::connect(&addr).await else {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    };
                    if slowloris {
                        let _ =
                            s.write_all(b"POST /sessions/x/events HTTP/1.1\r\nHost: soak\r\nX-Slow: ").await;
                    }
                    let mut buf = [0u8; 256];
                    loop {
                        if stop.load(Relaxed) {
                            return;
                        }
                        tokio::select! {
                            r = s.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { break },
                            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                                if slowloris && s.write_all(b"a").await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    closed.fetch_add(1, Relaxed);
                }
            });
        }
        Self { stop, closed }
    }

    /// Stops them; returns how many connections the host closed.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Relaxed);
        self.closed.load(Relaxed)
    }
}
