//! Baileys `connection.update` events as a worker would forward them, raw JSON.

use serde_json::{json, Value};

use crate::rng::SplitMix64;

/// What the generator believes a session's current socket is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Socket {
    /// No socket event yet (new session, or a reconnect was just ordered).
    #[default]
    Idle,
    /// `connection: connecting` seen.
    Connecting,
    /// Showing its n-th QR.
    Qr(u32),
    /// Scanned (`isNewLogin`); a 515 follows.
    Scanned,
    /// Closed with 515 after a scan; a reconnect follows.
    Restarting,
    /// Logged in.
    Open,
    /// Closed (or told to close).
    Closed,
}

/// A session as the generator sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Belief {
    /// The socket's phase.
    pub socket: Socket,
    /// Whether the session has credentials (was scanned and not logged out).
    pub creds: bool,
}

/// Codes a close may carry, with the messages Baileys uses for them.
const CLOSES: &[(u16, &[&str])] = &[
    (401, &["Connection Failure", "Stream Errored (conflict)"]),
    (408, &["Connection was lost", "Timed Out", "QR refs attempts ended"]),
    (428, &["Connection Closed", "Connection Terminated"]),
    (440, &["Stream Errored (conflict)", "Connection Replaced"]),
    (500, &["Bad MAC", "Stream Errored (unknown)"]),
    (515, &["Stream Errored (restart required)"]),
    (403, &["Connection Failure"]),
    (411, &["Multi-device mismatch"]),
    (503, &["Stream Errored", "Service Unavailable"]),
    (402, &["Payment Required"]),
    (405, &["Method Not Allowed"]),
    (406, &["Not Acceptable"]),
];

fn b64(rng: &mut SplitMix64, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..n).map(|_| ALPHABET[rng.below(64) as usize] as char).collect()
}

/// A QR string shaped like Baileys' (`2@ref,noiseKey,identityKey,advSecret`); rarely a bad one.
pub fn qr(rng: &mut SplitMix64) -> String {
    match rng.below(100) {
        0 => String::new(),
        1 => "2@".to_owned() + &"A".repeat(5_000),
        2 => "2@ünïcödé,😀,x".to_owned(),
        _ => format!("2@{},{}=,{}=,{}=", b64(rng, 60), b64(rng, 43), b64(rng, 43), b64(rng, 43)),
    }
}

/// A close event with `code` (or none) and a message, in one of the shapes workers forward.
pub fn close(rng: &mut SplitMix64, code: Option<u16>, message: Option<&str>) -> Value {
    let mut error = serde_json::Map::new();
    if let Some(m) = message {
        error.insert("message".into(), json!(m));
    }
    if let Some(code) = code {
        let mut output = json!({ "statusCode": code });
        if rng.chance(50) {
            output["payload"] = json!({ "statusCode": code, "error": "Boom", "message": message });
            output["headers"] = json!({});
        }
        error.insert("output".into(), output);
    }
    if rng.chance(40) {
        error.insert("isBoom".into(), json!(true));
        error.insert("data".into(), Value::Null);
    }
    match rng.below(20) {
        0 => json!({ "connection": "close" }),
        1 => json!({ "connection": "close", "lastDisconnect": {} }),
        _ => {
            let mut event = json!({ "connection": "close", "lastDisconnect": { "error": error } });
            if rng.chance(30) {
                event["lastDisconnect"]["date"] = json!("2026-11-29T07:00:00.000Z");
            }
            event
        }
    }
}

/// A close with one of the given codes and a matching message.
pub fn close_with(rng: &mut SplitMix64, codes: &[u16]) -> (Value, u16, bool) {
    let code = *rng.pick(codes);
    let messages = CLOSES.iter().find(|(c, _)| *c == code).map_or(&[][..], |(_, m)| *m);
    let message = if messages.is_empty() || rng.chance(10) { None } else { Some(*rng.pick(messages)) };
    let refs_ended = message == Some(sessionkeeper_core::QR_REFS_ENDED);
    (close(rng, Some(code), message), code, refs_ended)
}

/// Any combination of fields, including odd ones (for robustness and parsing parity).
pub fn random_update(rng: &mut SplitMix64) -> Value {
    let mut u = serde_json::Map::new();
    if rng.chance(50) {
        let c = *rng.pick(&["connecting", "open", "close", "sideways"]);
        u.insert("connection".into(), json!(c));
    }
    if rng.chance(30) {
        u.insert("qr".into(), json!(qr(rng)));
    }
    if rng.chance(20) {
        u.insert("isNewLogin".into(), json!(rng.chance(70)));
    }
    if rng.chance(30) {
        let code = rng.pick(CLOSES).0;
        let message = QR_OR_LOST[rng.below(2) as usize];
        let event = close(rng, Some(code), Some(message));
        if let Some(last) = event.get("lastDisconnect") {
            u.insert("lastDisconnect".into(), last.clone());
        }
    }
    if rng.chance(20) {
        u.insert("receivedPendingNotifications".into(), json!(rng.chance(50)));
    }
    if rng.chance(5) {
        u.insert("isOnline".into(), json!(true));
    }
    Value::Object(u)
}

const QR_OR_LOST: [&str; 2] = [sessionkeeper_core::QR_REFS_ENDED, "Connection was lost"];

/// A plausible next event for a socket in `belief`, and the belief after it.
pub fn next_event(rng: &mut SplitMix64, belief: Belief) -> (Value, Belief) {
    let mut after = belief;
    if rng.chance(12) {
        return (random_update(rng), belief);
    }
    let event = match belief.socket {
        Socket::Idle | Socket::Restarting | Socket::Closed => {
            if rng.chance(60) {
                after.socket = Socket::Connecting;
                json!({ "connection": "connecting" })
            } else if belief.creds {
                after.socket = Socket::Open;
                json!({ "connection": "open" })
            } else {
                after.socket = Socket::Qr(1);
                json!({ "qr": qr(rng) })
            }
        }
        Socket::Connecting if belief.creds => {
            if rng.chance(75) {
                after.socket = Socket::Open;
                if rng.chance(20) {
                    json!({ "connection": "open", "receivedPendingNotifications": true })
                } else {
                    json!({ "connection": "open" })
                }
            } else {
                return transient_close(rng, belief);
            }
        }
        Socket::Connecting => {
            if rng.chance(80) {
                after.socket = Socket::Qr(1);
                json!({ "qr": qr(rng) })
            } else {
                return transient_close(rng, belief);
            }
        }
        Socket::Qr(n) => match rng.below(100) {
            0..=49 if n < 6 => {
                after.socket = Socket::Qr(n + 1);
                json!({ "qr": qr(rng) })
            }
            0..=69 => {
                after.socket = Socket::Scanned;
                after.creds = true;
                json!({ "isNewLogin": true })
            }
            70..=84 => {
                after.socket = Socket::Closed;
                close(rng, Some(408), Some(sessionkeeper_core::QR_REFS_ENDED))
            }
            _ => return transient_close(rng, belief),
        },
        Socket::Scanned => {
            if rng.chance(80) {
                after.socket = Socket::Restarting;
                close_with(rng, &[515]).0
            } else {
                after.socket = Socket::Open;
                json!({ "connection": "open" })
            }
        }
        Socket::Open => match rng.below(100) {
            0..=44 => return transient_close(rng, belief),
            45..=59 => {
                after.socket = Socket::Closed;
                close_with(rng, &[440]).0
            }
            60..=74 => {
                after.socket = Socket::Closed;
                after.creds = false;
                close_with(rng, &[401]).0
            }
            75..=82 => {
                after.socket = Socket::Closed;
                close_with(rng, &[403, 411, 402, 405, 406]).0
            }
            _ => json!({ "receivedPendingNotifications": true }),
        },
    };
    (event, after)
}

fn transient_close(rng: &mut SplitMix64, belief: Belief) -> (Value, Belief) {
    let (event, _, refs_ended) = close_with(rng, &[408, 428, 500, 503]);
    let creds = belief.creds && !refs_ended;
    (event, Belief { socket: Socket::Closed, creds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeeper_core::ConnectionUpdate;

    #[test]
    fn plausible_events_parse_as_connection_updates() {
        let mut rng = SplitMix64::new(3);
        let mut belief = Belief::default();
        for _ in 0..2_000 {
            let (event, after) = next_event(&mut rng, belief);
            let parsed: Result<ConnectionUpdate, _> = serde_json::from_value(event.clone());
            let odd = event.get("connection").is_some_and(|c| c == "sideways");
            assert_eq!(parsed.is_ok(), !odd, "{event}");
            belief = after;
        }
    }
}
