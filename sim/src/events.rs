//! The event calendar: events ordered by time, then by insertion (ties are deterministic).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use sessionkeeper_core::DeliveryOutcome;

/// A step of a simulated Baileys socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `connection: connecting`.
    Connecting,
    /// The k-th QR (1-based).
    Qr(u8),
    /// Close 408 "QR refs attempts ended".
    QrEnd,
    /// `connection: open`.
    Open,
    /// The socket could not connect: close 408.
    ConnectFail,
    /// The scan went through: `isNewLogin`.
    NewLogin,
    /// Close 515 restart required (after a scan).
    Restart,
}

/// Something that happens at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    /// A user arrives (boot restore or a link attempt).
    Arrive(u32),
    /// The user is ready to scan (attempt number).
    ScanReady(u32, u32),
    /// The user gives the attempt up.
    GiveUp(u32, u32),
    /// A socket step (user, socket id).
    Socket(u32, u64, Step),
    /// An instant of the user's drop process.
    Drop(u32),
    /// An instant of the user's logout process.
    Logout(u32),
    /// Every open socket closes with 428.
    Blip,
    /// A request reaches the backend.
    BackendArrive(u64),
    /// The backend finished serving a request.
    BackendDone(u64),
    /// The client gets an answer.
    ClientAnswer(u64, DeliveryOutcome),
    /// The client's timeout for a request.
    ClientTimeout(u64),
    /// Take a time-series sample.
    Sample,
}

#[derive(Debug)]
struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the heap pops the earliest first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The calendar.
#[derive(Debug, Default)]
pub struct Calendar {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Calendar {
    /// Schedules `ev` at `at`.
    pub fn at(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry { at, seq: self.seq, ev });
    }

    /// Time of the next event.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.at)
    }

    /// The next event.
    pub fn pop(&mut self) -> Option<(u64, Ev)> {
        self.heap.pop().map(|e| (e.at, e.ev))
    }
}
