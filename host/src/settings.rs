//! Configuration of the host: the core's keys plus the host's own, from a TOML file, the
//! environment (`SK_SCREAMING_SNAKE`) and flags, in that order of precedence (flags win).
//!
//! Keys are the seed's camelCase names (`port`, `laravelApiUrl`, `pendingSessionTimeout`, ...).
//! A bad value stops start-up with a [`SettingsError`] naming the key and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sessionkeeper_core::Config;

/// How a host key's raw text (from the environment or a flag) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Boolean,
}

/// The host's own keys (everything else belongs to the core's [`Config`]).
const HOST_KEYS: &[(&str, Kind)] = &[
    ("port", Kind::Integer),
    ("host", Kind::Text),
    ("dataDir", Kind::Text),
    ("laravelApiUrl", Kind::Text),
    ("laravelApiToken", Kind::Text),
    ("apiKey", Kind::Text),
    ("signingSecret", Kind::Text),
    ("requestTimeout", Kind::Integer),
    ("allowPublicBind", Kind::Boolean),
    ("logJson", Kind::Boolean),
    ("snapshotEvery", Kind::Integer),
    ("shutdownTimeout", Kind::Integer),
    ("clientHeaderTimeout", Kind::Integer),
    ("clientRequestTimeout", Kind::Integer),
    ("maxConnections", Kind::Integer),
    ("maxClockJump", Kind::Integer),
    ("maxStorageMb", Kind::Integer),
];

/// Default backend base URL (the seed's local Laravel API).
pub const DEFAULT_LARAVEL_API_URL: &str = "http://localhost:8000/api";

/// A secret string: shown as `***` by `Debug` and `Display` so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself (for headers and comparisons only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything the host runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// TCP port of the HTTP API (seed: 4000; 0 picks a free port).
    pub port: u16,
    /// Bind address (default 127.0.0.1).
    pub host: IpAddr,
    /// Directory of the embedded store (default `./data`).
    pub data_dir: PathBuf,
    /// Base URL of the backend; deliveries go to `{laravelApiUrl}{path}`.
    pub laravel_api_url: String,
    /// Sent as `Authorization: Bearer` to the backend.
    pub laravel_api_token: Option<Secret>,
    /// When set, every endpoint but `/health` requires it.
    pub api_key: Option<Secret>,
    /// When set, backend requests carry an HMAC-SHA256 `X-Signature`.
    pub signing_secret: Option<Secret>,
    /// Per-request timeout of a backend delivery (ms, default 10 000).
    pub request_timeout: u64,
    /// Allows binding a non-loopback address without an `apiKey`.
    pub allow_public_bind: bool,
    /// JSON log lines instead of human-readable ones.
    pub log_json: bool,
    /// Journal entries between two snapshots of the state (default 100 000).
    pub snapshot_every: u64,
    /// How long a graceful shutdown waits for in-flight deliveries (ms, default 15 000).
    pub shutdown_timeout: u64,
    /// How long a client has to send a request's headers; idle keep-alive connections are
    /// closed after as long (ms, default 10 000).
    pub client_header_timeout: u64,
    /// How long a request may take, its body included, before it is answered 408 (ms,
    /// default 30 000; event streams are not cut).
    pub client_request_timeout: u64,
    /// Client connections open at most; at the cap the longest-idle one is closed for a new
    /// one (default 512: keep it below the process's file-descriptor limit).
    pub max_connections: u64,
    /// How far past the saved keeper time a restart may move keeper time (ms, default one
    /// hour): a wall clock that was wrong ahead for one run cannot leave the state further ahead.
    pub max_clock_jump: u64,
    /// Size the database may grow to (MiB, default 0: no cap). At the cap, writes fail as on a
    /// full disk: requests are answered 503 and the service stops (restart with a larger cap).
    pub max_storage_mb: u64,
    /// Start although the store lost committed entries (the `--accept-data-loss` flag only).
    pub accept_data_loss: bool,
    /// The core's configuration.
    pub core: Config,
    /// Notes for the log (unknown `SK_` variables, ...).
    pub warnings: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            port: 4000,
            host: IpAddr::from([127, 0, 0, 1]),
            data_dir: PathBuf::from("./data"),
            laravel_api_url: DEFAULT_LARAVEL_API_URL.into(),
            laravel_api_token: None,
            api_key: None,
            signing_secret: None,
            request_timeout: 10_000,
            allow_public_bind: false,
            log_json: false,
            snapshot_every: 100_000,
            shutdown_timeout: 15_000,
            client_header_timeout: 10_000,
            client_request_timeout: 30_000,
            max_connections: 512,
            max_clock_jump: 3_600_000,
            max_storage_mb: 0,
            accept_data_loss: false,
            core: Config::default(),
            warnings: Vec::new(),
        }
    }
}

/// A configuration value that stops start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config `{key}`{}: {reason}", origin.as_ref().map(|o| format!(" (from {o})")).unwrap_or_default())]
pub struct SettingsError {
    /// The camelCase key.
    pub key: String,
    /// Where the value came from (`env SK_PORT`, `flag --port`, `file host.toml`).
    pub origin: Option<String>,
    /// Why it was refused.
    pub reason: String,
}

impl SettingsError {
    fn new(key: &str, origin: Option<&str>, reason: impl Into<String>) -> Self {
        Self { key: key.into(), origin: origin.map(str::to_owned), reason: reason.into() }
    }
}

/// The raw inputs of [`load`].
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// A TOML file of camelCase (or snake_case) keys.
    pub file: Option<PathBuf>,
    /// Environment variables (only `SK_*` ones are read).
    pub env: Vec<(String, String)>,
    /// Flag values as `(camelCase key, raw text, flag name)`, applied last.
    pub flags: Vec<(String, String, String)>,
}

impl Sources {
    /// The file and flags given, with the process environment.
    pub fn from_process(file: Option<PathBuf>, flags: Vec<(String, String, String)>) -> Self {
        Self { file, env: std::env::vars().collect(), flags }
    }
}

/// `pendingSessionTimeout` -> `PENDING_SESSION_TIMEOUT`.
pub fn screaming_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `pending_session_timeout` -> `pendingSessionTimeout` (camelCase passes through).
fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' || c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every key the host accepts (the core's and its own).
pub fn all_keys() -> impl Iterator<Item = &'static str> {
    Config::key_names().chain(HOST_KEYS.iter().map(|(k, _)| *k))
}

fn known_key(key: &str) -> Option<&'static str> {
    all_keys().find(|k| *k == key)
}

fn host_kind(key: &str) -> Option<Kind> {
    HOST_KEYS.iter().find(|(k, _)| *k == key).map(|(_, kind)| *kind)
}

/// Reads raw text from the environment or a flag as a JSON value of the key's type.
fn parse_raw(key: &str, raw: &str) -> Value {
    match host_kind(key) {
        Some(Kind::Text) => Value::String(raw.to_owned()),
        Some(Kind::Boolean) => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Value::Bool(true),
            "0" | "false" | "no" | "off" | "" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        },
        // Integers (host or core keys) and the core's enums: numbers and booleans are taken as
        // such, anything else as text (the typed check below then names the key).
        _ => match serde_json::from_str::<Value>(raw.trim()) {
            Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
            _ => Value::String(raw.to_owned()),
        },
    }
}

type Layered = BTreeMap<&'static str, (Value, String)>;

fn read_file(path: &Path, into: &mut Layered) -> Result<(), SettingsError> {
    let origin = format!("file {}", path.display());
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::new("config", Some(&origin), format!("cannot read: {e}")))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| SettingsError::new("config", Some(&origin), format!("not valid TOML: {e}")))?;
    for (raw_key, value) in table {
        let key = camel_case(&raw_key);
        let Some(key) = known_key(&key) else {
            return Err(SettingsError::new(&raw_key, Some(&origin), "unknown key"));
        };
        let value = serde_json::to_value(&value)
            .map_err(|e| SettingsError::new(key, Some(&origin), e.to_string()))?;
        into.insert(key, (value, origin.clone()));
    }
    Ok(())
}

/// Builds the settings from defaults, file, environment and flags (later sources win).
pub fn load(sources: &Sources) -> Result<Settings, SettingsError> {
    let mut layered = Layered::new();
    let mut warnings = Vec::new();
    if let Some(path) = &sources.file {
        read_file(path, &mut layered)?;
    }
    let env_names: BTreeMap<String, &'static str> =
        all_keys().map(|k| (format!("SK_{}", screaming_snake(k)), k)).collect();
    for (name, raw) in &sources.env {
        if !name.starts_with("SK_") {
            continue;
        }
        match env_names.get(name) {
            Some(key) => {
                layered.insert(key, (parse_raw(key, raw), format!("env {name}")));
            }
            None => warnings.push(format!("ignoring unknown environment variable {name}")),
        }
    }
    for (raw_key, raw, flag) in &sources.flags {
        let Some(key) = known_key(&camel_case(raw_key)) else {
            return Err(SettingsError::new(raw_key, Some(flag), "unknown key"));
        };
        layered.insert(key, (parse_raw(key, raw), flag.clone()));
    }
    let mut settings = build(layered)?;
    settings.warnings = warnings;
    Ok(settings)
}

fn build(mut layered: Layered) -> Result<Settings, SettingsError> {
    let mut s = Settings::default();
    let mut take = |key: &'static str| layered.remove(key);
    if let Some((v, o)) = take("port") {
        s.port = u16::try_from(integer("port", &v, &o)?)
            .map_err(|_| SettingsError::new("port", Some(&o), "must be 0 to 65535"))?;
    }
    if let Some((v, o)) = take("host") {
        let text = text("host", &v, &o)?;
        s.host = if text == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            text.parse().map_err(|_| SettingsError::new("host", Some(&o), "must be an IP address"))?
        };
    }
    if let Some((v, o)) = take("dataDir") {
        let dir = text("dataDir", &v, &o)?;
        if dir.is_empty() {
            return Err(SettingsError::new("dataDir", Some(&o), "must not be empty"));
        }
        s.data_dir = PathBuf::from(dir);
    }
    if let Some((v, o)) = take("laravelApiUrl") {
        s.laravel_api_url = text("laravelApiUrl", &v, &o)?;
        validate_url(&s.laravel_api_url).map_err(|r| SettingsError::new("laravelApiUrl", Some(&o), r))?;
    }
    s.laravel_api_url = s.laravel_api_url.trim_end_matches('/').to_owned();
    s.laravel_api_token = secret(take("laravelApiToken"), "laravelApiToken")?;
    s.api_key = secret(take("apiKey"), "apiKey")?;
    s.signing_secret = secret(take("signingSecret"), "signingSecret")?;
    if let Some((v, o)) = take("requestTimeout") {
        s.request_timeout = ranged("requestTimeout", &v, &o, 1, 600_000)?;
    }
    if let Some((v, o)) = take("allowPublicBind") {
        s.allow_public_bind = boolean("allowPublicBind", &v, &o)?;
    }
    if let Some((v, o)) = take("logJson") {
        s.log_json = boolean("logJson", &v, &o)?;
    }
    if let Some((v, o)) = take("snapshotEvery") {
        s.snapshot_every = ranged("snapshotEvery", &v, &o, 1, 100_000_000)?;
    }
    if let Some((v, o)) = take("shutdownTimeout") {
        s.shutdown_timeout = ranged("shutdownTimeout", &v, &o, 0, 600_000)?;
    }
    if let Some((v, o)) = take("clientHeaderTimeout") {
        s.client_header_timeout = ranged("clientHeaderTimeout", &v, &o, 100, 600_000)?;
    }
    if let Some((v, o)) = take("clientRequestTimeout") {
        s.client_request_timeout = ranged("clientRequestTimeout", &v, &o, 100, 600_000)?;
    }
    if let Some((v, o)) = take("maxConnections") {
        s.max_connections = ranged("maxConnections", &v, &o, 1, 1_000_000)?;
    }
    if let Some((v, o)) = take("maxClockJump") {
        s.max_clock_jump = ranged("maxClockJump", &v, &o, 0, 10 * 365 * 86_400_000)?;
    }
    if let Some((v, o)) = take("maxStorageMb") {
        s.max_storage_mb = ranged("maxStorageMb", &v, &o, 0, 1 << 40)?;
    }
    // What is left belongs to the core.
    let origins: BTreeMap<&str, String> = layered.iter().map(|(k, (_, o))| (*k, o.clone())).collect();
    let core_map: serde_json::Map<String, Value> =
        layered.into_iter().map(|(k, (v, _))| (k.to_owned(), v)).collect();
    s.core = Config::from_value(Value::Object(core_map)).map_err(|e| SettingsError {
        key: e.key.to_owned(),
        origin: origins.get(e.key).cloned(),
        reason: e.reason,
    })?;
    if !s.host.is_loopback() && s.api_key.is_none() && !s.allow_public_bind {
        return Err(SettingsError::new(
            "host",
            None,
            format!(
                "binding the non-loopback address {} without an apiKey is refused; set apiKey \
                 (SK_API_KEY) or allowPublicBind (--allow-insecure-bind)",
                s.host
            ),
        ));
    }
    Ok(s)
}

fn validate_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(())
}

fn text(key: &str, v: &Value, origin: &str) -> Result<String, SettingsError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(SettingsError::new(key, Some(origin), "must be a string")),
    }
}

fn secret(entry: Option<(Value, String)>, key: &str) -> Result<Option<Secret>, SettingsError> {
    let Some((v, o)) = entry else { return Ok(None) };
    // Surrounding whitespace (a trailing newline from a secrets file) is never part of a key.
    let value = text(key, &v, &o)?.trim().to_owned();
    Ok((!value.is_empty()).then(|| Secret::new(value)))
}

fn integer(key: &str, v: &Value, origin: &str) -> Result<u64, SettingsError> {
    v.as_u64().ok_or_else(|| SettingsError::new(key, Some(origin), "must be a non-negative integer"))
}

fn ranged(key: &str, v: &Value, origin: &str, min: u64, max: u64) -> Result<u64, SettingsError> {
    let n = integer(key, v, origin)?;
    if n < min || n > max {
        return Err(SettingsError::new(key, Some(origin), format!("must be {min} to {max}")));
    }
    Ok(n)
}

fn boolean(key: &str, v: &Value, origin: &str) -> Result<bool, SettingsError> {
    v.as_bool().ok_or_else(|| SettingsError::new(key, Some(origin), "must be true or false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Sources {
        Sources {
            env: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Sources::default()
        }
    }

    #[test]
    fn defaults_are_the_seeds() {
        let s = load(&Sources::default()).unwrap();
        assert_eq!(s.port, 4000);
        assert_eq!(s.host.to_string(), "127.0.0.1");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.core.pending_session_timeout, 120_000);
        assert_eq!(s.core.sync_spacing, 400);
    }

    #[test]
    fn environment_uses_screaming_snake_names() {
        assert_eq!(screaming_snake("laravelApiUrl"), "LARAVEL_API_URL");
        let s = load(&env(&[
            ("SK_PORT", "4100"),
            ("SK_LARAVEL_API_URL", "http://backend:9000/api/"),
            ("SK_PENDING_SESSION_TIMEOUT", "300"),
            ("SK_PACING", "adaptive"),
            ("SK_LOG_JSON", "true"),
            ("SK_API_KEY", "k"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(s.port, 4100);
        assert_eq!(s.laravel_api_url, "http://backend:9000/api");
        assert_eq!(s.core.pending_session_timeout, 300);
        assert_eq!(s.core.pacing, sessionkeeper_core::PacingMode::Adaptive);
        assert!(s.log_json);
        assert_eq!(format!("{:?}", s.api_key), "Some(***)");
    }

    #[test]
    fn bad_values_name_their_key_and_origin() {
        let e = load(&env(&[("SK_PORT", "http")])).unwrap_err();
        assert_eq!(e.key, "port");
        assert!(e.to_string().contains("SK_PORT"), "{e}");
        let e = load(&env(&[("SK_CIRCUIT_BREAKER_THRESHOLD", "0")])).unwrap_err();
        assert_eq!(e.key, "circuitBreakerThreshold");
        let e = load(&env(&[("SK_SYNC_SPACING", "fast")])).unwrap_err();
        assert_eq!(e.key, "syncSpacing");
        assert_eq!(e.origin.as_deref(), Some("env SK_SYNC_SPACING"));
        let e = load(&env(&[("SK_LARAVEL_API_URL", "ftp://x")])).unwrap_err();
        assert_eq!(e.key, "laravelApiUrl");
    }

    #[test]
    fn public_bind_needs_an_api_key_or_the_override() {
        let e = load(&env(&[("SK_HOST", "0.0.0.0")])).unwrap_err();
        assert_eq!(e.key, "host");
        load(&env(&[("SK_HOST", "0.0.0.0"), ("SK_API_KEY", "secret")])).unwrap();
        load(&env(&[("SK_HOST", "0.0.0.0"), ("SK_ALLOW_PUBLIC_BIND", "1")])).unwrap();
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(&path, "port = 4200\nsync_spacing = 10\nmaxQrCodes = 3\n").unwrap();
        let sources = Sources {
            file: Some(path.clone()),
            env: vec![("SK_PORT".into(), "4300".into())],
            flags: vec![("maxQrCodes".into(), "4".into(), "flag --set".into())],
        };
        let s = load(&sources).unwrap();
        assert_eq!(s.port, 4300);
        assert_eq!(s.core.sync_spacing, 10);
        assert_eq!(s.core.max_qr_codes, 4);
        std::fs::write(&path, "noSuchKey = 1\n").unwrap();
        let e = load(&Sources { file: Some(path), ..Sources::default() }).unwrap_err();
        assert_eq!(e.key, "noSuchKey");
    }
}
