//! The backend's schedule: healthy windows between incidents drawn from a seeded generator, so
//! a run can be repeated.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::backend::{Backend, Mode};

static NOW: Mutex<Mode> = Mutex::new(Mode::Ok);

/// The backend's mode right now (for the progress lines).
pub fn now() -> Mode {
    *NOW.lock().unwrap()
}

/// xorshift64*: small, seeded, good enough to draw a schedule.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

fn set(backend: &Backend, mode: Mode) {
    *NOW.lock().unwrap() = mode;
    backend.set(mode);
}

/// Runs the schedule for `run_for`; one 1 GB answer a third of the way in. Returns a summary.
pub async fn run(backend: Backend, seed: u64, run_for: Duration) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let started = Instant::now();
    let until = started + run_for;
    let mut giant = Some(started + run_for / 3);
    let (mut count, mut down_s) = (HashMapLite::default(), 0u64);
    // Short runs get short healthy windows so every kind of incident happens.
    let healthy = if run_for < Duration::from_secs(600) { (3, 12) } else { (10, 60) };
    while Instant::now() < until {
        let ok_for = Duration::from_secs(rng.between(healthy.0, healthy.1));
        set(&backend, Mode::Ok);
        sleep_until_or(ok_for, until, &mut giant, &backend).await;
        if Instant::now() >= until {
            break;
        }
        let (mode, secs, name) = match rng.below(5) {
            0 => (Mode::Down, rng.between(1, 30), "outage (refused, connections cut)"),
            1 => (Mode::Unavailable, rng.between(1, 30), "outage (503)"),
            2 => (Mode::Hang, rng.between(1, 10), "hang (timeouts)"),
            3 => (Mode::Throttle, rng.between(2, 10), "429 burst"),
            _ => (Mode::Slow(rng.between(200, 1_500)), rng.between(10, 30), "slow window"),
        };
        if matches!(mode, Mode::Down | Mode::Unavailable | Mode::Hang) {
            down_s += secs;
        }
        count.add(name);
        set(&backend, mode);
        sleep_until_or(Duration::from_secs(secs), until, &mut giant, &backend).await;
    }
    set(&backend, Mode::Ok);
    format!("{} ({down_s} s without a usable backend)", count.summary())
}

async fn sleep_until_or(d: Duration, until: Instant, giant: &mut Option<Instant>, backend: &Backend) {
    let end = (Instant::now() + d).min(until);
    if let Some(at) = *giant {
        if at < end {
            tokio::time::sleep_until(at.into()).await;
            backend.giant_next();
            *giant = None;
        }
    }
    tokio::time::sleep_until(end.into()).await;
}

/// Counts by name, in first-seen order.
#[derive(Default)]
struct HashMapLite(Vec<(&'static str, u32)>);

impl HashMapLite {
    fn add(&mut self, name: &'static str) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => self.0.push((name, 1)),
        }
    }

    fn summary(&self) -> String {
        self.0.iter().map(|(n, c)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
    }
}
