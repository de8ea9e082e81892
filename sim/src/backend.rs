//! The backend model: workers, a bounded waiting line, service times that grow with load and in
//! slow windows, random 500s, outages, and 429 + Retry-After when the line is full.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sessionkeeper_core::DeliveryOutcome;

use crate::scenario::{BackendModel, OutageKind};
use crate::stats::lognormal;

/// What happens to a request that reaches the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Admit {
    /// Answered at once (outage, 429); the answer leaves at the given time.
    Answer(DeliveryOutcome),
    /// A worker took it; it is done at the given time.
    Serving(u64),
    /// It waits for a worker.
    Waiting,
}

/// The backend's state.
#[derive(Debug)]
pub struct Backend {
    model: BackendModel,
    busy: u32,
    line: VecDeque<u64>,
    rng: ChaCha8Rng,
    /// Requests that reached it.
    pub received: u64,
    /// 429s answered.
    pub throttled: u64,
    /// Requests served (2xx or 500).
    pub served: u64,
}

impl Backend {
    /// An idle backend.
    pub fn new(model: &BackendModel, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0xbac_e4d);
        Self {
            model: model.clone(),
            busy: 0,
            line: VecDeque::new(),
            rng,
            received: 0,
            throttled: 0,
            served: 0,
        }
    }

    /// Requests waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.line.len()
    }

    /// Request `req` arrives at `now`.
    pub fn arrive(&mut self, now: u64, req: u64) -> Admit {
        self.received += 1;
        if let Some(outage) = self.model.outage_at(now) {
            return Admit::Answer(match outage.kind {
                OutageKind::Refused => {
                    DeliveryOutcome::NetworkError { message: "connect ECONNREFUSED".into() }
                }
                OutageKind::BadGateway => DeliveryOutcome::Response { status: 502, retry_after: None },
            });
        }
        if self.busy < self.model.workers {
            self.busy += 1;
            return Admit::Serving(now + self.service_time(now));
        }
        if self.line.len() >= self.model.queue_limit as usize {
            self.throttled += 1;
            // The line drains at about workers / mean service time.
            let drain_ms =
                self.line.len() as f64 * self.model.mean_service_ms() * self.model.slow_factor_at(now)
                    / f64::from(self.model.workers);
            let secs = (drain_ms / 1_000.0).ceil().max(1.0) as u64;
            return Admit::Answer(DeliveryOutcome::Response {
                status: 429,
                retry_after: Some(secs.to_string()),
            });
        }
        self.line.push_back(req);
        Admit::Waiting
    }

    /// A request finished at `now`: its outcome, and the next request that starts (with its end).
    pub fn finish(&mut self, now: u64) -> (DeliveryOutcome, Option<(u64, u64)>) {
        self.served += 1;
        let outcome = if self.rng.gen::<f64>() < self.model.error_rate {
            DeliveryOutcome::Response { status: 500, retry_after: None }
        } else {
            DeliveryOutcome::Response { status: 200, retry_after: None }
        };
        let next = match self.line.pop_front() {
            Some(req) => Some((req, now + self.service_time(now))),
            None => {
                self.busy -= 1;
                None
            }
        };
        (outcome, next)
    }

    fn service_time(&mut self, now: u64) -> u64 {
        let base = lognormal(&mut self.rng, self.model.service_median_ms, self.model.service_sigma);
        let load = f64::from(self.busy) / f64::from(self.model.workers.max(1));
        let ms = base * self.model.slow_factor_at(now) * (1.0 + self.model.contention * load);
        ms.round().max(1.0) as u64
    }
}
