//! A user of the gateway: one WhatsApp session, the socket that currently serves it, and the
//! person in front of the screen. Each user draws from its own seeded streams, so the arrivals,
//! scan delays, drops and logouts are the same whichever policy runs.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where the user's socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No socket.
    None,
    /// Opening (or between a scan and its 515 restart).
    Connecting,
    /// Showing QRs.
    Qr,
    /// Logged in and open.
    Open,
}

/// Random streams of one user.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Arrival time and whether linked at start.
    Arrival = 0,
    /// Link attempts: scan or not, scan delay, retry or not.
    Attempt = 1,
    /// Drop instants and codes.
    Drops = 2,
    /// Logout instants, relink decisions.
    Logout = 3,
    /// Socket timing jitter.
    Socket = 4,
}

/// One user.
#[derive(Debug)]
pub struct User {
    /// Session id.
    pub id: String,
    /// Has credentials (a socket opens without QR).
    pub linked: bool,
    /// The policy holds a session for this user.
    pub held: bool,
    /// Current socket (0: none).
    pub socket: u64,
    /// Its phase.
    pub phase: Phase,
    /// QR shown by the socket now (index into the QR records).
    pub current_qr: Option<usize>,
    /// QR the backend shows (the last that arrived).
    pub backend_qr: Option<usize>,
    /// Link attempts so far.
    pub attempt: u32,
    /// A link attempt is under way (someone is at the screen).
    pub attempt_live: bool,
    /// The user is ready to scan.
    pub ready: bool,
    /// The QR being scanned (the scan goes through only if it is still the current one).
    pub scanning: Option<usize>,
    /// Start of the gateway-side pending episode (first QR, until scan or removal).
    pub episode_start: Option<u64>,
    /// Streams.
    pub rng: [ChaCha8Rng; 5],
}

impl User {
    /// User `index` of a scenario seeded with `seed`.
    pub fn new(index: u32, seed: u64) -> Self {
        let rng = std::array::from_fn(|k| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(u64::from(index) * 8 + k as u64);
            r
        });
        Self {
            id: format!("u{index:06}"),
            linked: false,
            held: false,
            socket: 0,
            phase: Phase::None,
            current_qr: None,
            backend_qr: None,
            attempt: 0,
            attempt_live: false,
            ready: false,
            scanning: None,
            episode_start: None,
            rng,
        }
    }

    /// One of its streams.
    pub fn rng(&mut self, s: Stream) -> &mut ChaCha8Rng {
        &mut self.rng[s as usize]
    }
}

/// The user index of a session id.
pub fn user_index(session: &str) -> Option<u32> {
    session.strip_prefix('u')?.parse().ok()
}
