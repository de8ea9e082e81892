//! Sessions: lifecycle from Baileys events, pending expiry, inactivity, reconnect policy.

mod reconnect;
mod state;
mod table;
mod timers;

pub use state::{BackendStatus, SessionState};
pub use table::{Effect, SessionTable};
