//! # sessionkeeper-tests
//!
//! Cross-cutting tests of the core. The parity suite proves that the logic running inside Node
//! (the core compiled to `wasm32-unknown-unknown`) is exactly the logic tested natively: every
//! trace is replayed through the same [`sessionkeeper_parity_guest::Driver`] twice, natively and
//! inside wasmtime, and the JSON answers of every step (ack or error, outputs, next deadline,
//! `sessions(now)`, `health(now)`, QRs and the full snapshot) must be byte-identical.
//!
//! - [`guest`] builds the guest crate for wasm32 and runs it under wasmtime;
//! - [`traces`] reads recorded traces (`tests/traces/*.jsonl`);
//! - [`generator`] makes seeded traces of plausible gateway traffic, reacting to the outputs;
//! - [`mod@replay`] drives both sides step by step and reports the first difference;
//! - [`coverage`] checks that the generated traces reach every feature worth comparing.
//!
//! Environment: `SK_PARITY_SEED` (base seed, decimal or `0x` hex), `SK_PARITY_TRACES` (number of
//! generated traces), `SK_PARITY_ONLY` (one generated trace by index), `SK_PARITY_SNAPSHOT_EVERY`
//! (snapshot comparison period of generated traces, default 4), `SK_PARITY_WASM` (a prebuilt
//! guest `.wasm`, skips the build; it must come from the same sources, see the guest's
//! `SOURCE_FINGERPRINT`), `SK_PARITY_CHECK_EXPECT=1` (also check recorded `expect`s),
//! `SK_PARITY_ENGINE=cranelift` (compile with Cranelift instead
//! of Winch, ~10x slower to compile).

pub mod coverage;
pub mod generator;
pub mod guest;
pub mod replay;
pub mod rng;
pub mod traces;

pub use coverage::Coverage;
pub use generator::TraceGen;
pub use guest::{GuestError, GuestInstance, GuestModule};
pub use replay::{replay, Failure, ReplayStats, Trace};
pub use rng::SplitMix64;
