//! # sessionkeeper-parity-guest
//!
//! One step protocol over the core, compiled twice: natively (as an rlib the parity test links)
//! and to `wasm32-unknown-unknown` (as a cdylib the parity test loads with wasmtime). Both builds
//! run exactly the same [`Driver`] code, so the parity test compares the bytes each returns.
//!
//! ## Step protocol
//!
//! A trace is one config (a JSON object of core config keys) and a list of steps, one JSON object
//! each:
//!
//! - `{"now": u64, "input": <Input>}`: `handle(now, input)`, then drain the outputs;
//! - `{"now": u64, "timeout": true}`: `handle_timeout(now)`, then drain;
//! - `{"now": u64, "restart": true}`: `snapshot()`, `Keeper::restore`, `handle(now, Restarted)`
//!   (a host crash and restart), then drain;
//! - `{"now": u64, "peek": true}`: nothing changes; only the views are taken.
//!
//! Every step answers one JSON object (see [`Driver::step`]): the ack or error, the outputs, the
//! next deadline, `sessions(now)`, `health(now)`, every session's QR and the full `snapshot()`.
//!
//! ## Wasm ABI (see [`abi`])
//!
//! `sk_alloc(len) -> ptr`, `sk_dealloc(ptr, len)`, `sk_new(ptr, len) -> packed`,
//! `sk_step(ptr, len) -> packed`, `sk_snapshot_every(n)`, `sk_fingerprint() -> packed`, where `packed = ptr << 32 | len` points at the answer, which
//! stays valid until the next call. The module has no imports.

pub mod abi;
mod driver;

pub use driver::{Driver, Step, StepKind};

/// A hash of the core's and this crate's sources at build time (see `build.rs`): the native and
/// the wasm build of one tree carry the same value.
pub const SOURCE_FINGERPRINT: &str = env!("SK_SOURCE_FINGERPRINT");
