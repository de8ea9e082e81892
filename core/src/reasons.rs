//! Why a session was closed, removed or reconnected: one closed set, the same words in
//! commands, state changes and `/status` bodies on every edge. The backend contract lists them.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A reason. On the wire it is its [`Reason::as_str`] text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The socket closed with this Baileys code (`closed (428)`), or without one
    /// (`closed (no code)`).
    Closed(Option<u16>),
    /// 401: the user logged the device out.
    LoggedOut,
    /// 440 again and again: another socket keeps taking the session.
    ConnectionReplacedLoop,
    /// Not connected for `inactiveSessionTimeout`.
    Inactive,
    /// A pending episode ran past `pendingSessionTimeout`.
    PendingTimeout,
    /// A pending episode showed `maxQrCodes` QRs.
    MaxQrCodes,
    /// Baileys closed the QR socket: all its QRs shown, none scanned.
    QrRefsEnded,
    /// An operator's `POST /cleanup-pending-sessions`.
    PendingCleanup,
    /// An operator removed it without saying why.
    RemovedByOperator,
    /// An operator removed it and said why (1 to `MAX_REASON_LEN` characters).
    Operator(Box<str>),
    /// 515 after a scan: reconnect at once.
    RestartRequired,
    /// A transient close: reconnect after the backoff.
    Backoff,
}

impl Reason {
    /// The wire text of every reason without a parameter. With `closed (<code>)` and an
    /// operator's own words that is every reason there is; the npm package's `Reason` type is
    /// generated from this list.
    pub const FIXED: &'static [&'static str] = &[
        "closed (no code)",
        "logged_out",
        "connection_replaced_loop",
        "inactive",
        "pending_timeout",
        "max_qr_codes",
        "qr_refs_ended",
        "pending_cleanup",
        "removed_by_operator",
        "restart_required",
        "backoff",
    ];

    /// The wire text.
    pub fn as_str(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Closed(None) => "closed (no code)",
            Self::Closed(Some(code)) => return closed_code(*code),
            Self::LoggedOut => "logged_out",
            Self::ConnectionReplacedLoop => "connection_replaced_loop",
            Self::Inactive => "inactive",
            Self::PendingTimeout => "pending_timeout",
            Self::MaxQrCodes => "max_qr_codes",
            Self::QrRefsEnded => "qr_refs_ended",
            Self::PendingCleanup => "pending_cleanup",
            Self::RemovedByOperator => "removed_by_operator",
            Self::Operator(text) => return Cow::Owned(text.to_string()),
            Self::RestartRequired => "restart_required",
            Self::Backoff => "backoff",
        })
    }

    /// Reads the wire text back; text that names no other reason is an operator's.
    pub fn parse(text: &str) -> Self {
        match text {
            "closed (no code)" => Self::Closed(None),
            "logged_out" => Self::LoggedOut,
            "connection_replaced_loop" => Self::ConnectionReplacedLoop,
            "inactive" => Self::Inactive,
            "pending_timeout" => Self::PendingTimeout,
            "max_qr_codes" => Self::MaxQrCodes,
            "qr_refs_ended" => Self::QrRefsEnded,
            "pending_cleanup" => Self::PendingCleanup,
            "removed_by_operator" => Self::RemovedByOperator,
            "restart_required" => Self::RestartRequired,
            "backoff" => Self::Backoff,
            other => match other.strip_prefix("closed (").and_then(|r| r.strip_suffix(')')) {
                Some(code) if code.parse::<u16>().is_ok_and(|c| c.to_string() == code) => {
                    Self::Closed(code.parse().ok())
                }
                _ => Self::Operator(other.into()),
            },
        }
    }
}

/// `closed (<code>)`, without formatting for the codes Baileys uses.
fn closed_code(code: u16) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        408 => "closed (408)",
        428 => "closed (428)",
        440 => "closed (440)",
        500 => "closed (500)",
        503 => "closed (503)",
        515 => "closed (515)",
        402 => "closed (402)",
        403 => "closed (403)",
        405 => "closed (405)",
        406 => "closed (406)",
        411 => "closed (411)",
        other => return Cow::Owned(format!("closed ({other})")),
    })
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        Ok(Self::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason without a parameter, in `Reason::FIXED` order.
    fn fixed() -> [Reason; 11] {
        [
            Reason::Closed(None),
            Reason::LoggedOut,
            Reason::ConnectionReplacedLoop,
            Reason::Inactive,
            Reason::PendingTimeout,
            Reason::MaxQrCodes,
            Reason::QrRefsEnded,
            Reason::PendingCleanup,
            Reason::RemovedByOperator,
            Reason::RestartRequired,
            Reason::Backoff,
        ]
    }

    #[test]
    fn every_reason_reads_back_as_itself() {
        let parametrised = [
            Reason::Closed(Some(428)),
            Reason::Closed(Some(599)),
            Reason::Operator("moved to another plan".into()),
        ];
        let all = fixed().into_iter().chain(parametrised);
        for r in all {
            assert_eq!(Reason::parse(&r.as_str()), r, "{r}");
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), r);
        }
        for code in [408, 428, 440, 500, 503, 515, 402, 403, 411, 599] {
            assert_eq!(Reason::Closed(Some(code)).as_str(), format!("closed ({code})"));
        }
        assert_eq!(Reason::parse("closed (0428)"), Reason::Operator("closed (0428)".into()));
    }

    #[test]
    fn the_fixed_list_names_every_reason_without_a_parameter() {
        let fixed: Vec<String> = fixed().iter().map(|r| r.as_str().into_owned()).collect();
        assert_eq!(fixed, Reason::FIXED);
        for text in Reason::FIXED {
            assert!(!matches!(Reason::parse(text), Reason::Operator(_)), "{text}");
        }
    }
}
