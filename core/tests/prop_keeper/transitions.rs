//! What the property test can do to a keeper, and how transitions are generated.
//!
//! Transitions are symbolic: a delivery result names an in-flight delivery by position
//! (`pick`), a QR's text is minted by the harness, so a transition stays meaningful when the
//! sequence around it shrinks.

use proptest::prelude::*;
use proptest::sample::select;
use sessionkeeper_core::OutcomeClass;

use crate::model::ModelState;

/// Valid session ids the test draws from (small, so ids collide and come back).
pub const POOL: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// Length of the "huge" strings (reasons, messages, payloads, QRs).
pub const HUGE: usize = 8_192;

/// A session id, valid or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sid {
    /// `POOL[i]`.
    Pool(usize),
    /// `""`.
    Empty,
    /// Characters outside the allowed set.
    BadChars,
    /// Longer than the limit.
    TooLong,
}

impl Sid {
    /// The id as sent.
    pub fn render(&self) -> String {
        match self {
            Sid::Pool(i) => POOL[*i % POOL.len()].to_owned(),
            Sid::Empty => String::new(),
            Sid::BadChars => "bad id/../\u{1F600}".to_owned(),
            Sid::TooLong => "x".repeat(300),
        }
    }
}

/// Why a socket closed.
#[derive(Clone, Debug)]
pub enum CloseWhy {
    /// `lastDisconnect.error.output.statusCode`.
    Code(u16),
    /// 408 with Baileys' "QR refs attempts ended" message.
    QrRefsEnded,
    /// An error without a status code.
    NoCode,
    /// No `lastDisconnect` at all.
    Bare,
}

/// A Baileys `connection.update`.
#[derive(Clone, Debug)]
pub enum Update {
    /// A new QR (text minted by the harness, unique).
    Qr,
    /// A QR longer than the core accepts.
    HugeQr,
    /// An empty QR.
    EmptyQr,
    /// `isNewLogin: true` (the scan).
    NewLogin,
    /// `connection: connecting`.
    Connecting,
    /// `connection: open`.
    Open,
    /// `connection: close`.
    Close(CloseWhy),
    /// A QR and `connecting` in one event.
    QrConnecting,
    /// An event with no field the core reads.
    Empty,
}

/// `Retry-After` values, sane and absurd.
#[derive(Clone, Debug)]
pub enum RetryAfter {
    /// Delta seconds.
    Secs(u64),
    /// A number too big for u64.
    Digits,
    /// An HTTP-date far in the future.
    FarDate,
    /// An HTTP-date in the past.
    PastDate,
    /// Not a valid value.
    Garbage,
}

impl RetryAfter {
    fn render(&self) -> String {
        match self {
            RetryAfter::Secs(s) => s.to_string(),
            RetryAfter::Digits => "99999999999999999999999999".to_owned(),
            RetryAfter::FarDate => "Fri, 31 Dec 9999 23:59:59 GMT".to_owned(),
            RetryAfter::PastDate => "Sun, 06 Nov 1994 08:49:37 GMT".to_owned(),
            RetryAfter::Garbage => "soon-ish".to_owned(),
        }
    }
}

/// What the backend did with a delivery.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// An HTTP status, no Retry-After.
    Status(u16),
    /// 429 or 503 with a Retry-After.
    Throttled { status: u16, retry_after: RetryAfter },
    /// No answer.
    Timeout,
    /// Connection error (optionally with a huge message).
    Network { huge: bool },
}

impl Outcome {
    /// As the core's input type.
    pub fn render(&self) -> sessionkeeper_core::DeliveryOutcome {
        use sessionkeeper_core::DeliveryOutcome as D;
        match self {
            Outcome::Status(status) => D::Response { status: *status, retry_after: None },
            Outcome::Throttled { status, retry_after } => {
                D::Response { status: *status, retry_after: Some(retry_after.render()) }
            }
            Outcome::Timeout => D::Timeout,
            Outcome::Network { huge } => D::NetworkError {
                message: if *huge { "e".repeat(HUGE) } else { "connect ECONNREFUSED".to_owned() },
            },
        }
    }

    /// Whether the core counts it as delivered.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Status(200..=299))
    }

    /// The class DESIGN.md gives the outcome.
    pub fn class(&self) -> OutcomeClass {
        match self {
            Outcome::Status(200..=299) => OutcomeClass::Success,
            Outcome::Status(429) | Outcome::Throttled { .. } => OutcomeClass::Throttled,
            // The backend cannot take anything right now: held, retried, counted by the breaker.
            Outcome::Status(401 | 403 | 404 | 408 | 421 | 425) => OutcomeClass::Failure,
            // Redirects are never followed: the request as sent was not taken.
            Outcome::Status(300..=499) => OutcomeClass::Rejected,
            Outcome::Status(_) | Outcome::Timeout | Outcome::Network { .. } => OutcomeClass::Failure,
        }
    }
}

/// The path of an enqueued item.
#[derive(Clone, Debug)]
pub enum PathKind {
    /// `/custom/<n>`.
    Good,
    /// No leading slash.
    NoSlash,
    /// Contains `..`.
    DotDot,
    /// Too long.
    TooLong,
}

/// One step of the test. Time moves only through `Tick`, `Stall`, `Rewind`, `Absurd` and
/// `HandleTimeout`.
#[derive(Clone, Debug)]
pub enum Transition {
    /// The caller's clock moves by `ms`; it calls `handle_timeout` at every deadline on the way.
    Tick { ms: u64 },
    /// The clock moves by `ms` but the caller is late: no call until the next input.
    Stall { ms: u64 },
    /// The caller's clock jumps back by `ms`.
    Rewind { ms: u64 },
    /// The caller's clock jumps to an absurd value.
    Absurd { now: u64 },
    /// The caller sleeps until `poll_timeout` and calls `handle_timeout`.
    HandleTimeout,
    /// An extra `handle_timeout` at the keeper's current time (must be a no-op).
    Nudge,
    /// `addSession`.
    AddSession { id: Sid },
    /// `removeSession`.
    RemoveSession { id: Sid, huge_reason: bool },
    /// `connectionUpdate`.
    Update { id: Sid, update: Update },
    /// `deliveryResult` for the in-flight delivery at position `pick` (unknown id if none).
    Deliver { pick: usize, outcome: Outcome },
    /// `deliveryResult` for an id that was never handed out (or is not handed out yet).
    DeliverUnknown { id: u64, outcome: Outcome },
    /// `deliveryResult` again for a delivery that already finished.
    DeliverDuplicate { pick: usize, outcome: Outcome },
    /// `enqueue`.
    Enqueue { path: PathKind, key: Option<u8>, session: Option<Sid>, huge: bool },
    /// `cleanupInactive`.
    CleanupInactive { idle_for_ms: Option<u64> },
    /// `cleanupPending`.
    CleanupPending { older_than_ms: Option<u64> },
    /// `restarted`; with `crash` the keepers are first rebuilt from their snapshots.
    Restarted { crash: bool },
    /// A copy of the keeper is restored from its snapshot and runs in lockstep from here on.
    SnapshotRestore,
    /// An operator re-sends the kept dead letter at position `pick` (an unknown id if none).
    RetryDeadLetter { pick: usize },
    /// An operator discards the kept dead letter at position `pick` (an unknown id if none).
    DiscardDeadLetter { pick: usize },
}

fn any_sid() -> BoxedStrategy<Sid> {
    prop_oneof![
        12 => (0..POOL.len()).prop_map(Sid::Pool),
        1 => Just(Sid::Empty),
        1 => Just(Sid::BadChars),
        1 => Just(Sid::TooLong),
    ]
    .boxed()
}

/// Mostly sessions the model believes are known, sometimes any id.
fn session(state: &ModelState) -> BoxedStrategy<Sid> {
    let known: Vec<usize> = state.added.iter().copied().collect();
    if known.is_empty() {
        return any_sid();
    }
    prop_oneof![4 => select(known).prop_map(Sid::Pool), 1 => any_sid()].boxed()
}

fn close_why() -> BoxedStrategy<CloseWhy> {
    prop_oneof![
        12 => select(vec![401u16, 403, 408, 411, 428, 440, 500, 515, 402, 405, 406, 503]).prop_map(CloseWhy::Code),
        2 => Just(CloseWhy::QrRefsEnded),
        2 => Just(CloseWhy::NoCode),
        1 => Just(CloseWhy::Bare),
        1 => any::<u16>().prop_map(CloseWhy::Code),
    ]
    .boxed()
}

fn update() -> BoxedStrategy<Update> {
    prop_oneof![
        30 => Just(Update::Qr),
        1 => Just(Update::HugeQr),
        1 => Just(Update::EmptyQr),
        8 => Just(Update::NewLogin),
        8 => Just(Update::Connecting),
        12 => Just(Update::Open),
        24 => close_why().prop_map(Update::Close),
        3 => Just(Update::QrConnecting),
        1 => Just(Update::Empty),
    ]
    .boxed()
}

fn retry_after() -> BoxedStrategy<RetryAfter> {
    prop_oneof![
        8 => (0u64..=5).prop_map(RetryAfter::Secs),
        2 => (6u64..=100_000).prop_map(RetryAfter::Secs),
        1 => Just(RetryAfter::Secs(u64::MAX)),
        1 => Just(RetryAfter::Digits),
        1 => Just(RetryAfter::FarDate),
        1 => Just(RetryAfter::PastDate),
        1 => Just(RetryAfter::Garbage),
    ]
    .boxed()
}

fn outcome() -> BoxedStrategy<Outcome> {
    prop_oneof![
        30 => select(vec![200u16, 201, 204]).prop_map(Outcome::Status),
        8 => select(vec![500u16, 502, 503, 504]).prop_map(Outcome::Status),
        3 => select(vec![400u16, 409, 410, 422]).prop_map(Outcome::Status),
        2 => select(vec![401u16, 403, 404, 408]).prop_map(Outcome::Status),
        2 => Just(Outcome::Status(429)),
        3 => (select(vec![429u16, 503]), retry_after())
            .prop_map(|(status, retry_after)| Outcome::Throttled { status, retry_after }),
        5 => Just(Outcome::Timeout),
        3 => Just(Outcome::Network { huge: false }),
        1 => Just(Outcome::Network { huge: true }),
        1 => prop_oneof![Just(0u16), Just(100), Just(302), Just(999), Just(u16::MAX)].prop_map(Outcome::Status),
    ]
    .boxed()
}

/// Milliseconds, scaled: most ticks are short, some cross the config's timeouts.
fn ms(scale: u64) -> BoxedStrategy<u64> {
    prop_oneof![
        10 => 0..=200u64,
        6 => 200..=1_500u64,
        4 => (1_500..=6_000u64).prop_map(move |m| m * scale),
        1 => (6_000..=60_000u64).prop_map(move |m| m * scale),
    ]
    .boxed()
}

/// Every transition, weighted.
pub fn transition(state: &ModelState, scale: u64) -> BoxedStrategy<Transition> {
    let sid = session(state);
    prop_oneof![
        72 => ms(scale).prop_map(|ms| Transition::Tick { ms }),
        9 => ms(scale).prop_map(|ms| Transition::Stall { ms }),
        2 => (0..=100_000u64).prop_map(|ms| Transition::Rewind { ms }),
        1 => prop_oneof![
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(u64::MAX - 5_000),
            Just(1u64 << 63),
            Just(1u64 << 53),
        ]
        .prop_map(|now| Transition::Absurd { now }),
        18 => Just(Transition::HandleTimeout),
        6 => Just(Transition::Nudge),
        24 => any_sid().prop_map(|id| Transition::AddSession { id }),
        9 => (sid.clone(), prop::bool::weighted(0.1))
            .prop_map(|(id, huge_reason)| Transition::RemoveSession { id, huge_reason }),
        120 => (sid.clone(), update()).prop_map(|(id, update)| Transition::Update { id, update }),
        78 => (any::<usize>(), outcome()).prop_map(|(pick, outcome)| Transition::Deliver { pick, outcome }),
        3 => (prop_oneof![Just(0u64), 1..64u64, Just(u64::MAX)], outcome())
            .prop_map(|(id, outcome)| Transition::DeliverUnknown { id, outcome }),
        6 => (any::<usize>(), outcome())
            .prop_map(|(pick, outcome)| Transition::DeliverDuplicate { pick, outcome }),
        15 => (
            prop_oneof![
                12 => Just(PathKind::Good),
                1 => Just(PathKind::NoSlash),
                1 => Just(PathKind::DotDot),
                1 => Just(PathKind::TooLong),
            ],
            proptest::option::of(0u8..3),
            proptest::option::of(sid),
            prop::bool::weighted(0.05),
        )
            .prop_map(|(path, key, session, huge)| Transition::Enqueue { path, key, session, huge }),
        6 => proptest::option::of(prop_oneof![0..30_000u64, Just(u64::MAX)])
            .prop_map(|idle_for_ms| Transition::CleanupInactive { idle_for_ms }),
        6 => proptest::option::of(prop_oneof![0..10_000u64, Just(u64::MAX)])
            .prop_map(|older_than_ms| Transition::CleanupPending { older_than_ms }),
        6 => any::<bool>().prop_map(|crash| Transition::Restarted { crash }),
        40 => Just(Transition::SnapshotRestore),
        8 => any::<usize>().prop_map(|pick| Transition::RetryDeadLetter { pick }),
        4 => any::<usize>().prop_map(|pick| Transition::DiscardDeadLetter { pick }),
    ]
    .boxed()
}
