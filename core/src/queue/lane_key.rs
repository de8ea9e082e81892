//! Lane names. Session lanes are numbered by the session's handle, so the hot path compares
//! integers, not strings; only the gateway's own keyed lanes carry a name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which lane an item travels in (also used as a coalescing key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LaneKey {
    /// A session's statuses (and the gateway's calls tied to that session), in order.
    Session(u64),
    /// A session's QRs: at most one queued, served ahead of statuses.
    Qr(u64),
    /// The gateway's own calls, by name.
    Custom(String),
}

impl LaneKey {
    /// Whether the lane is served from the urgent ring.
    pub fn urgent(&self) -> bool {
        matches!(self, Self::Qr(_))
    }
}

impl fmt::Display for LaneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Session(h) => write!(f, "s:{h}"),
            Self::Qr(h) => write!(f, "q:{h}"),
            Self::Custom(name) => write!(f, "c:{name}"),
        }
    }
}

// As a string, so maps keyed by lanes serialise as JSON objects.
impl Serialize for LaneKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LaneKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("bad lane key `{text}`"));
        match text.split_once(':') {
            Some(("s", h)) => h.parse().map(Self::Session).map_err(|_| bad()),
            Some(("q", h)) => h.parse().map(Self::Qr).map_err(|_| bad()),
            Some(("c", name)) => Ok(Self::Custom(name.to_owned())),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_a_string() {
        for key in [LaneKey::Session(7), LaneKey::Qr(0), LaneKey::Custom("a:b/c".into())] {
            let json = serde_json::to_string(&key).unwrap();
            assert_eq!(serde_json::from_str::<LaneKey>(&json).unwrap(), key);
        }
        assert!(serde_json::from_str::<LaneKey>("\"x:1\"").is_err());
    }
}
