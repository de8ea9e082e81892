//! The discrete-event loop: users and their Baileys sockets, the backend, one policy, in virtual
//! time. Policy timers that fall due at the same millisecond as an event fire first.

use std::collections::BTreeMap;

use rand::Rng;
use sessionkeeper_core::{
    Connection, ConnectionUpdate, DeliveryOutcome, DisconnectError, ErrorOutput, LastDisconnect,
    QR_REFS_ENDED,
};

use crate::backend::{Admit, Backend};
use crate::error::SimError;
use crate::events::{Calendar, Ev, Step};
use crate::metrics::{Metrics, QrRec};
use crate::policies::{qr_index, Action, Payload, PolicyModel};
use crate::report::{PolicyReport, Sample};
use crate::scenario::Scenario;
use crate::stats::{exponential, lognormal, normal, uniform};
use crate::users::{user_index, Phase, Stream, User};

/// QRs per socket before Baileys gives up.
const QRS_PER_SOCKET: u8 = 6;
/// Lifetime of the first QR of a socket.
const FIRST_QR_MS: u64 = 60_000;
/// Lifetime of the later ones.
const NEXT_QR_MS: u64 = 20_000;

#[derive(Debug)]
struct Request {
    delivery: u64,
    key: String,
    payload: Payload,
    answered: bool,
}

/// One run of one policy on a scenario.
pub struct World<'a> {
    sc: &'a Scenario,
    horizon: u64,
    cal: Calendar,
    users: Vec<User>,
    backend: Backend,
    requests: BTreeMap<u64, Request>,
    next_request: u64,
    next_socket: u64,
    m: Metrics,
    policy: &'a mut dyn PolicyModel,
}

impl<'a> World<'a> {
    /// A world at t = 0 with every user's first arrival and processes scheduled.
    pub fn new(sc: &'a Scenario, policy: &'a mut dyn PolicyModel) -> Self {
        let horizon = sc.horizon_ms();
        let mut cal = Calendar::default();
        let mut users: Vec<User> = (0..sc.users).map(|i| User::new(i, sc.seed)).collect();
        for (i, u) in users.iter_mut().enumerate() {
            let i = i as u32;
            let r = u.rng(Stream::Arrival);
            let linked = r.gen::<f64>() < sc.linked_share;
            let peak = r.gen::<f64>() < sc.peak_share;
            let restore_at = uniform(r, 0, sc.restore_window_ms);
            let peak_at = (sc.peak_center_ms as f64 + normal(r) * sc.peak_sd_ms as f64).max(0.0) as u64;
            let spread_at = uniform(r, 0, sc.spread_ms);
            let at = if linked {
                restore_at
            } else if peak {
                peak_at
            } else {
                spread_at
            };
            u.linked = linked;
            cal.at(at, Ev::Arrive(i));
            let d = exponential(u.rng(Stream::Drops), sc.drop_mean_ms as f64);
            cal.at(d, Ev::Drop(i));
            if sc.logouts_per_day > 0.0 {
                let l = exponential(u.rng(Stream::Logout), 86_400_000.0 / sc.logouts_per_day);
                cal.at(l, Ev::Logout(i));
            }
        }
        for &b in &sc.blips_ms {
            cal.at(b, Ev::Blip);
        }
        cal.at(0, Ev::Sample);
        Self {
            sc,
            horizon,
            cal,
            users,
            backend: Backend::new(&sc.backend, sc.seed),
            requests: BTreeMap::new(),
            next_request: 1,
            next_socket: 1,
            m: Metrics::default(),
            policy,
        }
    }

    /// Runs to the horizon and reports.
    pub fn run(mut self) -> Result<PolicyReport, SimError> {
        let mut now = 0u64;
        let mut same_instant = 0u32;
        loop {
            let ev_at = self.cal.peek_time();
            let timer = self.policy.poll_timeout();
            let fire_timer = match (timer, ev_at) {
                (Some(t), Some(e)) => t <= e,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if fire_timer {
                let t = timer.expect("checked").max(now);
                if t > self.horizon {
                    break;
                }
                if t == now {
                    same_instant += 1;
                    if same_instant > 100_000 {
                        return Err(SimError::Stuck { policy: self.policy.name(), at: now });
                    }
                } else {
                    same_instant = 0;
                }
                now = t;
                self.policy.handle_timeout(now);
            } else {
                let (at, ev) = self.cal.pop().expect("checked");
                if at > self.horizon {
                    break;
                }
                now = at;
                self.handle(now, ev);
            }
            self.apply_actions(now);
        }
        Ok(self.finish())
    }

    fn finish(mut self) -> PolicyReport {
        let horizon = self.horizon;
        for u in 0..self.users.len() {
            if let Some(start) = self.users[u].episode_start.take() {
                self.m.episode(horizon.saturating_sub(start));
            }
        }
        let ghosts =
            self.users.iter().filter(|u| u.held && u.phase != Phase::Open && !u.attempt_live).count() as u64;
        let changes = self.policy.take_breaker_changes();
        self.m.breaker_changes(&changes);
        self.m.summarize(self.sc, self.policy.name(), self.policy.books(), ghosts, self.backend.throttled)
    }

    fn handle(&mut self, now: u64, ev: Ev) {
        match ev {
            Ev::Arrive(u) => self.arrive(now, u),
            Ev::ScanReady(u, a) => {
                let user = &mut self.users[u as usize];
                if user.attempt == a && user.attempt_live {
                    user.ready = true;
                    self.try_scan(now, u);
                }
            }
            Ev::GiveUp(u, a) => {
                let user = &self.users[u as usize];
                if user.attempt == a && user.attempt_live {
                    self.fail_attempt(now, u);
                }
            }
            Ev::Socket(u, socket, step) => {
                if self.users[u as usize].socket == socket {
                    self.socket_step(now, u, socket, step);
                }
            }
            Ev::Drop(u) => {
                let sc = self.sc;
                let user = &mut self.users[u as usize];
                let r = user.rng(Stream::Drops);
                let next = now + exponential(r, sc.drop_mean_ms as f64);
                let pick: f64 = r.gen();
                let code = if pick < 0.5 {
                    428
                } else if pick < 0.85 {
                    408
                } else {
                    500
                };
                if next <= self.horizon {
                    self.cal.at(next, Ev::Drop(u));
                }
                if user.phase == Phase::Open {
                    let msg = if code == 408 { "Connection was lost" } else { "Connection Closed" };
                    self.close_socket(now, u, code, msg);
                }
            }
            Ev::Logout(u) => {
                let sc = self.sc;
                let user = &mut self.users[u as usize];
                let r = user.rng(Stream::Logout);
                let next = now + exponential(r, 86_400_000.0 / sc.logouts_per_day);
                let relink = r.gen::<f64>() < sc.relink_share;
                let relink_at = now + exponential(r, sc.relink_mean_ms as f64);
                if next <= self.horizon {
                    self.cal.at(next, Ev::Logout(u));
                }
                if user.phase == Phase::Open {
                    user.linked = false;
                    self.close_socket(now, u, 401, "Connection Failure");
                    if relink {
                        self.cal.at(relink_at, Ev::Arrive(u));
                    }
                }
            }
            Ev::Blip => {
                for u in 0..self.users.len() as u32 {
                    if self.users[u as usize].phase == Phase::Open {
                        self.close_socket(now, u, 428, "Connection Closed");
                    }
                }
            }
            Ev::BackendArrive(req) => match self.backend.arrive(now, req) {
                Admit::Answer(outcome) => {
                    self.cal.at(now + self.sc.backend.network_ms, Ev::ClientAnswer(req, outcome))
                }
                Admit::Serving(done) => self.cal.at(done, Ev::BackendDone(req)),
                Admit::Waiting => {}
            },
            Ev::BackendDone(req) => {
                let (outcome, next) = self.backend.finish(now);
                if let Some((next_req, done)) = next {
                    self.cal.at(done, Ev::BackendDone(next_req));
                }
                if matches!(outcome, DeliveryOutcome::Response { status: 200..=299, .. }) {
                    self.arrived(now, req);
                }
                self.cal.at(now + self.sc.backend.network_ms, Ev::ClientAnswer(req, outcome));
            }
            Ev::ClientAnswer(req, outcome) => {
                if let Some(r) = self.requests.remove(&req) {
                    if !r.answered {
                        self.policy.delivery_result(now, r.delivery, &outcome);
                    }
                }
            }
            Ev::ClientTimeout(req) => {
                if let Some(r) = self.requests.get_mut(&req) {
                    if !r.answered {
                        r.answered = true;
                        self.m.timeouts += 1;
                        let delivery = r.delivery;
                        self.policy.delivery_result(now, delivery, &DeliveryOutcome::Timeout);
                    }
                }
            }
            Ev::Sample => {
                let p = self.policy.probe();
                self.m.samples.push(Sample {
                    t: now,
                    queue_depth: p.queue_depth,
                    breaker: p.breaker,
                    sessions_held: p.sessions_held,
                    backend_waiting: self.backend.waiting() as u64,
                });
                let next = now + self.sc.sample_every_ms;
                if next <= self.horizon {
                    self.cal.at(next, Ev::Sample);
                }
            }
        }
    }

    /// A request was served with 2xx: the backend has its payload.
    fn arrived(&mut self, now: u64, req: u64) {
        let Some(r) = self.requests.get(&req) else { return };
        match &r.payload {
            Payload::Qr { qr, .. } => {
                let Some(idx) = qr_index(qr) else { return };
                let Some(rec) = self.m.qrs.get_mut(idx) else { return };
                rec.arrived.get_or_insert(now);
                let u = rec.user;
                self.users[u as usize].backend_qr = Some(idx);
                self.try_scan(now, u);
            }
            Payload::Status { .. } => {
                self.m.status_arrived.insert(r.key.clone());
            }
        }
    }

    fn apply_actions(&mut self, now: u64) {
        while let Some(action) = self.policy.poll_action() {
            match action {
                Action::Post { delivery, key, payload } => {
                    let req = self.next_request;
                    self.next_request += 1;
                    self.requests.insert(req, Request { delivery, key, payload, answered: false });
                    self.m.sent(now);
                    self.cal.at(now + self.sc.backend.network_ms, Ev::BackendArrive(req));
                    self.cal.at(now + self.sc.client_timeout_ms, Ev::ClientTimeout(req));
                }
                Action::Reconnect(session) => {
                    let Some(u) = user_index(&session) else { continue };
                    if self.users.get(u as usize).is_some_and(|x| x.held) {
                        self.end_socket(now, u);
                        self.start_socket(now, u);
                    }
                }
                Action::Close(session) => {
                    let Some(u) = user_index(&session) else { continue };
                    if self.users.get(u as usize).is_some_and(|x| x.held) {
                        self.close_session(now, u);
                    }
                }
            }
        }
        let changes = self.policy.take_breaker_changes();
        self.m.breaker_changes(&changes);
    }

    fn arrive(&mut self, now: u64, u: u32) {
        let sc = self.sc;
        let user = &mut self.users[u as usize];
        if user.linked {
            // Boot: the gateway restores the session from its stored credentials.
            if !user.held {
                user.held = true;
                let id = user.id.clone();
                self.policy.add_session(now, &id);
                self.start_socket(now, u);
            }
            return;
        }
        user.attempt += 1;
        user.attempt_live = true;
        user.ready = false;
        let a = user.attempt;
        let r = user.rng(Stream::Attempt);
        let never = r.gen::<f64>() < sc.never_scan_share;
        let delay = sc.scan_min_ms + lognormal(r, sc.scan_median_ms, sc.scan_sigma).round() as u64;
        if !never {
            self.cal.at(now + delay, Ev::ScanReady(u, a));
        }
        self.cal.at(now + sc.patience_ms, Ev::GiveUp(u, a));
        if !user.held {
            user.held = true;
            let id = user.id.clone();
            self.policy.add_session(now, &id);
            self.start_socket(now, u);
        }
    }

    fn fail_attempt(&mut self, now: u64, u: u32) {
        let sc = self.sc;
        let user = &mut self.users[u as usize];
        user.attempt_live = false;
        user.ready = false;
        self.m.links_failed += 1;
        let r = user.rng(Stream::Attempt);
        let retry = r.gen::<f64>() < sc.retry_share;
        let at = now + exponential(r, sc.retry_mean_ms as f64);
        if retry {
            self.cal.at(at, Ev::Arrive(u));
        }
    }

    fn try_scan(&mut self, now: u64, u: u32) {
        let user = &mut self.users[u as usize];
        if user.ready
            && user.scanning.is_none()
            && user.phase == Phase::Qr
            && user.current_qr.is_some()
            && user.backend_qr == user.current_qr
        {
            user.scanning = user.current_qr;
            let at = now + uniform(user.rng(Stream::Socket), 1_000, 2_500);
            self.cal.at(at, Ev::Socket(u, user.socket, Step::NewLogin));
        }
    }

    fn start_socket(&mut self, now: u64, u: u32) {
        let sc = self.sc;
        let socket = self.next_socket;
        self.next_socket += 1;
        let user = &mut self.users[u as usize];
        user.socket = socket;
        user.phase = Phase::Connecting;
        user.scanning = None;
        let linked = user.linked;
        let r = user.rng(Stream::Socket);
        self.cal.at(now + 50, Ev::Socket(u, socket, Step::Connecting));
        if linked {
            if r.gen::<f64>() < sc.connect_fail_share {
                self.cal.at(now + uniform(r, 5_000, 10_000), Ev::Socket(u, socket, Step::ConnectFail));
            } else {
                self.cal.at(now + uniform(r, 1_000, 3_000), Ev::Socket(u, socket, Step::Open));
            }
        } else {
            self.cal.at(now + uniform(r, 1_000, 2_000), Ev::Socket(u, socket, Step::Qr(1)));
        }
    }

    /// The gateway ends the socket on its own (no event reaches the policy).
    fn end_socket(&mut self, now: u64, u: u32) {
        self.end_qr(now, u);
        let user = &mut self.users[u as usize];
        user.socket = 0;
        user.phase = Phase::None;
        user.scanning = None;
    }

    fn end_qr(&mut self, now: u64, u: u32) {
        if let Some(idx) = self.users[u as usize].current_qr.take() {
            let rec = &mut self.m.qrs[idx];
            rec.end = rec.end.min(now);
        }
    }

    fn end_episode(&mut self, now: u64, u: u32) {
        if let Some(start) = self.users[u as usize].episode_start.take() {
            self.m.episode(now.saturating_sub(start));
        }
    }

    /// The policy removed the session.
    fn close_session(&mut self, now: u64, u: u32) {
        self.end_socket(now, u);
        self.end_episode(now, u);
        let sc = self.sc;
        let user = &mut self.users[u as usize];
        user.held = false;
        if user.linked {
            // The gateway dropped a linked session (its credentials go with it): relink later.
            user.linked = false;
            let r = user.rng(Stream::Logout);
            let relink = r.gen::<f64>() < sc.relink_share;
            let at = now + exponential(r, sc.relink_mean_ms as f64);
            if relink {
                self.cal.at(at, Ev::Arrive(u));
            }
        }
        if self.users[u as usize].attempt_live {
            self.fail_attempt(now, u);
        }
    }

    /// The socket closes with a code; the policy is told.
    fn close_socket(&mut self, now: u64, u: u32, code: u16, message: &str) {
        self.end_socket(now, u);
        let update = ConnectionUpdate {
            connection: Some(Connection::Close),
            last_disconnect: Some(LastDisconnect {
                error: Some(DisconnectError {
                    message: Some(message.to_owned()),
                    output: Some(ErrorOutput { status_code: Some(code) }),
                }),
            }),
            ..ConnectionUpdate::default()
        };
        let id = self.users[u as usize].id.clone();
        self.policy.connection_update(now, &id, &update);
    }

    fn socket_step(&mut self, now: u64, u: u32, socket: u64, step: Step) {
        let id = self.users[u as usize].id.clone();
        match step {
            Step::Connecting => {
                let update = ConnectionUpdate {
                    connection: Some(Connection::Connecting),
                    ..ConnectionUpdate::default()
                };
                self.policy.connection_update(now, &id, &update);
            }
            Step::Qr(k) => {
                let phase = self.users[u as usize].phase;
                // After a scan the socket shows no more QRs.
                if (k == 1 && phase != Phase::Connecting) || (k > 1 && phase != Phase::Qr) {
                    return;
                }
                self.end_qr(now, u);
                let idx = self.m.qrs.len();
                self.m.qrs.push(QrRec {
                    user: u,
                    produced: now,
                    end: u64::MAX,
                    arrived: None,
                    spare: self.sc.backend.spare_at(now),
                });
                let user = &mut self.users[u as usize];
                user.current_qr = Some(idx);
                user.phase = Phase::Qr;
                user.episode_start.get_or_insert(now);
                let r = user.rng(Stream::Socket);
                let jitter = uniform(r, 0, 500);
                let life = if k == 1 { FIRST_QR_MS } else { NEXT_QR_MS };
                let next = if k < QRS_PER_SOCKET { Step::Qr(k + 1) } else { Step::QrEnd };
                self.cal.at(now + life + jitter, Ev::Socket(u, socket, next));
                let update = ConnectionUpdate { qr: Some(format!("q{idx}")), ..ConnectionUpdate::default() };
                self.policy.connection_update(now, &id, &update);
            }
            Step::QrEnd => {
                if self.users[u as usize].phase == Phase::Qr {
                    self.close_socket(now, u, 408, QR_REFS_ENDED);
                }
            }
            Step::Open => {
                self.users[u as usize].phase = Phase::Open;
                let update =
                    ConnectionUpdate { connection: Some(Connection::Open), ..ConnectionUpdate::default() };
                self.policy.connection_update(now, &id, &update);
            }
            Step::ConnectFail => self.close_socket(now, u, 408, "Timed Out"),
            Step::NewLogin => {
                let user = &mut self.users[u as usize];
                if user.phase != Phase::Qr || user.scanning != user.current_qr {
                    // The scanned QR was replaced meanwhile: that scan fails; try the current one.
                    user.scanning = None;
                    self.try_scan(now, u);
                    return;
                }
                self.end_qr(now, u);
                self.end_episode(now, u);
                let user = &mut self.users[u as usize];
                user.phase = Phase::Connecting;
                user.scanning = None;
                user.linked = true;
                if user.attempt_live {
                    user.attempt_live = false;
                    user.ready = false;
                    self.m.links_ok += 1;
                }
                self.cal.at(now + 300, Ev::Socket(u, socket, Step::Restart));
                let update = ConnectionUpdate { is_new_login: Some(true), ..ConnectionUpdate::default() };
                self.policy.connection_update(now, &id, &update);
            }
            Step::Restart => self.close_socket(now, u, 515, "Stream Errored (restart required)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::policies::{Books, BreakerLevel, Probe};

    /// Records every update; answers every request; never reconnects.
    #[derive(Default)]
    struct Recorder {
        updates: Vec<(u64, ConnectionUpdate)>,
        actions: VecDeque<Action>,
    }

    impl PolicyModel for Recorder {
        fn name(&self) -> String {
            "recorder".into()
        }
        fn add_session(&mut self, _: u64, _: &str) {}
        fn connection_update(&mut self, now: u64, session: &str, update: &ConnectionUpdate) {
            self.updates.push((now, update.clone()));
            if let Some(qr) = &update.qr {
                let delivery = self.updates.len() as u64;
                let payload = Payload::Qr { session: session.into(), qr: qr.clone() };
                self.actions.push_back(Action::Post { delivery, key: format!("k{delivery}"), payload });
            }
        }
        fn delivery_result(&mut self, _: u64, _: u64, _: &DeliveryOutcome) {}
        fn handle_timeout(&mut self, _: u64) {}
        fn poll_timeout(&self) -> Option<u64> {
            None
        }
        fn poll_action(&mut self) -> Option<Action> {
            self.actions.pop_front()
        }
        fn take_breaker_changes(&mut self) -> Vec<(u64, BreakerLevel, BreakerLevel)> {
            Vec::new()
        }
        fn probe(&self) -> Probe {
            Probe::default()
        }
        fn books(&self) -> Books {
            Books::default()
        }
    }

    fn one_unscanned_user() -> Scenario {
        let mut sc = Scenario::default_for(1, 0.1, 5);
        sc.linked_share = 0.0;
        sc.peak_share = 0.0;
        sc.spread_ms = 0;
        sc.never_scan_share = 1.0;
        sc.blips_ms.clear();
        sc.logouts_per_day = 0.0;
        sc.drop_mean_ms = 1_000 * HOUR;
        sc
    }

    const HOUR: u64 = crate::scenario::HOUR_MS;

    #[test]
    fn a_qr_socket_behaves_like_baileys() {
        let sc = one_unscanned_user();
        let mut rec = Recorder::default();
        let report = World::new(&sc, &mut rec).run().unwrap();
        let qrs: Vec<u64> = rec.updates.iter().filter(|(_, u)| u.qr.is_some()).map(|(t, _)| *t).collect();
        assert_eq!(qrs.len(), 6, "{:?}", rec.updates);
        assert!((1_000..=2_050).contains(&qrs[0]), "first QR 1-2 s after the socket starts");
        let gaps: Vec<u64> = qrs.windows(2).map(|w| w[1] - w[0]).collect();
        assert!((60_000..=60_500).contains(&gaps[0]), "{gaps:?}");
        assert!(gaps[1..].iter().all(|g| (20_000..=20_500).contains(g)), "{gaps:?}");
        let (t_close, close) = rec.updates.last().unwrap();
        assert_eq!(close.connection, Some(Connection::Close));
        assert_eq!(close.status_code(), Some(408));
        assert_eq!(close.error_message(), Some(QR_REFS_ENDED));
        assert!((20_000..=20_500).contains(&(t_close - qrs[5])));
        // Every QR was delivered at once and stayed valid: nothing lost, nothing stale.
        assert_eq!((report.qr_produced, report.qr_delivered_valid, report.qr_lost), (6, 6, 0));
        assert!(report.qr_staleness_p99_ms < 3_000, "{}", report.qr_staleness_p99_ms);
    }
}
