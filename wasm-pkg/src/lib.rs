//! # sessionkeeper-wasm
//!
//! A thin wasm-bindgen binding of [`sessionkeeper_core::Keeper`] for Node.js, shipped inside the
//! `sessionkeeper` npm package (`js-shim/`). It holds no policy: every call converts its
//! arguments (serde-wasm-bindgen with `Serializer::json_compatible()`), calls the core and
//! converts the answer back. Errors become JS `Error`s carrying the core's message, with
//! `name = "KeeperError"` and a `code` naming the [`sessionkeeper_core::KeeperError`] variant
//! (`UnknownSession`, `SessionExists`, `InvalidSessionId`, `QueueFull`, `InvalidItem`, `Config`,
//! `Snapshot`) or `InvalidInput` when the value did not have the documented shape.
//!
//! The call contract is the core's: `handle` (or `handleBatch`), then drain `pollOutputs`,
//! then arm one timer at `pollTimeout` and call `handleTimeout` when it fires.
//!
//! Build: `bash scripts/build-wasm.sh` (cargo for `wasm32-unknown-unknown`, then the
//! `wasm-bindgen` CLI of the exact crate version, `--target nodejs`).

mod convert;
mod edge;
mod keeper;
mod qr;
mod types;

pub use convert::parse_now;
pub use edge::{
    check_session_id_js, cleanup_ms_js, outcome_class_js, outcome_label_js, outcome_labels_js,
    process_metrics_text_js,
};
pub use keeper::WasmKeeper;
pub use qr::{render_qr_png_js, render_qr_svg_js};
