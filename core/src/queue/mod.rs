//! The sync queue toward the backend: coalescing lanes, pacing, retries, dead letters.

mod item;
mod lane_ids;
mod lane_key;
mod lanes;
mod pacer;
mod sync_queue;

pub use item::{idempotency_key, ItemKind, NewItem, Payload};
pub use lane_key::LaneKey;
pub use sync_queue::SyncQueue;
