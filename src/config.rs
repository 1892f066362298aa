//! Process settings: addresses, limits, the world source, logging, and the open-question
//! choices of lattice-auth §11. Read from a settings file (YAML/JSON), `LATTICE_AUTHZ_*`
//! environment variables and command-line flags (later wins), and validated completely before
//! any port opens; every problem is reported at once.
//!
//! It must not touch: policy data (the world is `store`'s), the network.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Where settings come from besides files: the process environment in production, a map in tests.
pub trait Env {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (default).
    Json,
    /// Human-readable lines.
    Text,
}

/// How the payload of a signed request is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// Lattice: `x-amz-content-sha256: UNSIGNED-PAYLOAD` required.
    Lattice,
    /// Standard SigV4 payload hashes (see `danger` in the README).
    Standard,
}

/// Default of [`Settings::session_cache_bytes`] (the same as `lattice`'s own default, which a
/// test keeps equal).
pub const DEFAULT_SESSION_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Validated process settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// gRPC listen address (ext_authz, health, reflection, diagnostics).
    pub listen: SocketAddr,
    /// HTTP listen address for `/metrics`, `/healthz`, `/readyz`.
    pub metrics_listen: SocketAddr,
    /// Time a client of `metrics_listen` has to send a request's head, from when it connects
    /// or was last answered; past it the connection is closed.
    pub metrics_header_timeout: Duration,
    /// Time a connection to `metrics_listen` may stay open, whatever it does.
    pub metrics_connection_timeout: Duration,
    /// Connections to `metrics_listen` open at once; more are closed as soon as accepted.
    pub metrics_max_connections: usize,
    /// The world: a YAML/JSON file or a directory. `None`: the built-in example world.
    pub world: Option<PathBuf>,
    /// A world must be configured (never the built-in example world) and loaded at start-up,
    /// or the process exits instead of serving.
    pub require_world: bool,
    /// `tracing` filter directive (`info`, `debug`, `lattice_authz=debug`).
    pub log_level: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log allowed decisions too (denies are always logged).
    pub log_allows: bool,
    /// Answers carry the decision as Envoy dynamic metadata (for Envoy's access log).
    pub dynamic_metadata: bool,
    /// How often the world is checked for changes.
    pub reload_interval: Duration,
    /// Allowed clock skew of signed requests, either way.
    pub max_skew: Duration,
    /// Accept presigned (query-string) SigV4.
    pub query_auth: bool,
    /// Retry a failed signature with the single-encoded path.
    pub single_encoding_fallback: bool,
    /// Payload rules.
    pub payload_mode: PayloadMode,
    /// SigV4A public-key cache capacity (SigV4 signing keys are kept one per secret).
    pub key_cache_capacity: u64,
    /// Compiled-policy cache capacity.
    pub policy_cache_capacity: u64,
    /// Bound of the cache of opened session tokens (sessions issued by `lattice-authz sts`), in
    /// estimated bytes.
    pub session_cache_bytes: u64,
    /// Largest auth policy accepted.
    pub max_policy_bytes: usize,
    /// Most bytes a world may hold: its files together, and any one file it refers to.
    pub max_world_bytes: u64,
    /// Most nodes a world's documents may hold together (every mapping, sequence and scalar,
    /// keys included); counted while parsing, so a world past it is refused before it is built.
    pub max_world_nodes: u64,
    /// Accept bare-string account principals with a warning.
    pub bare_account_principal: bool,
    /// `{"AWS":"*"}` matches anonymous callers.
    pub aws_wildcard_matches_anonymous: bool,
    /// Send `x-amzn-lattice-identity: Type=NONE` for anonymous callers.
    pub anonymous_identity_header: bool,
    /// Checks being decided at once (their request message has arrived, their answer is not
    /// ready); more are shed with `RESOURCE_EXHAUSTED`. A stream still waiting for its request
    /// does not count.
    pub max_concurrent_checks: usize,
    /// Deadline of one check; past it the check fails (`DEADLINE_EXCEEDED`), never allows.
    pub check_timeout: Duration,
    /// How long shutdown waits for in-flight checks.
    pub shutdown_grace: Duration,
    /// gRPC worker threads, each serving its connections on an event loop of its own; 0 is one
    /// per CPU the process may use.
    pub workers: usize,
    /// Streams one gRPC connection may have open at once (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`); a client asking for more waits or opens another
    /// connection.
    pub max_streams_per_connection: u32,
    /// Time a gRPC connection may go without sending a byte before it is closed.
    pub grpc_idle_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9191)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            metrics_header_timeout: DEFAULT_METRICS_HEADER_TIMEOUT,
            metrics_connection_timeout: DEFAULT_METRICS_CONNECTION_TIMEOUT,
            metrics_max_connections: DEFAULT_METRICS_MAX_CONNECTIONS,
            world: None,
            require_world: false,
            log_level: "info".to_owned(),
            log_format: LogFormat::Json,
            log_allows: true,
            dynamic_metadata: true,
            reload_interval: Duration::from_millis(1000),
            max_skew: Duration::from_secs(300),
            query_auth: false,
            single_encoding_fallback: true,
            payload_mode: PayloadMode::Lattice,
            key_cache_capacity: 100_000,
            policy_cache_capacity: 100_000,
            session_cache_bytes: DEFAULT_SESSION_CACHE_BYTES,
            max_policy_bytes: 10 * 1024,
            max_world_bytes: DEFAULT_MAX_WORLD_BYTES,
            max_world_nodes: DEFAULT_MAX_WORLD_NODES,
            bare_account_principal: true,
            aws_wildcard_matches_anonymous: true,
            anonymous_identity_header: false,
            max_concurrent_checks: 4096,
            check_timeout: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(10),
            workers: 0,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            grpc_idle_timeout: DEFAULT_GRPC_IDLE_TIMEOUT,
        }
    }
}

/// A settings file as written: every key optional, unknown keys rejected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    listen: Option<String>,
    metrics_listen: Option<String>,
    metrics_header_timeout_ms: Option<u64>,
    metrics_connection_timeout_ms: Option<u64>,
    metrics_max_connections: Option<usize>,
    world: Option<String>,
    require_world: Option<bool>,
    log_level: Option<String>,
    log_format: Option<String>,
    log_allows: Option<bool>,
    dynamic_metadata: Option<bool>,
    reload_interval_ms: Option<u64>,
    max_skew_secs: Option<u64>,
    query_auth: Option<bool>,
    single_encoding_fallback: Option<bool>,
    payload_mode: Option<String>,
    key_cache_capacity: Option<u64>,
    policy_cache_capacity: Option<u64>,
    session_cache_bytes: Option<u64>,
    max_policy_bytes: Option<usize>,
    max_world_bytes: Option<u64>,
    max_world_nodes: Option<u64>,
    bare_account_principal: Option<bool>,
    aws_wildcard_matches_anonymous: Option<bool>,
    anonymous_identity_header: Option<bool>,
    max_concurrent_checks: Option<usize>,
    check_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    workers: Option<usize>,
    max_streams_per_connection: Option<u64>,
    grpc_idle_timeout_secs: Option<u64>,
}

/// Settings given on the command line (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<String>,
    /// `--config` (the world).
    pub world: Option<String>,
    /// `--require-world` (only ever turns it on).
    pub require_world: bool,
    /// `--log-level`.
    pub log_level: Option<String>,
}

/// Every problem with the settings, one per line.
#[derive(Debug, thiserror::Error)]
pub struct InvalidSettings(pub Vec<SettingProblem>);

impl fmt::Display for InvalidSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid settings:\n  ")?;
        for (n, problem) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("\n  ")?;
            }
            write!(f, "{problem}")?;
            // One level: the only cause is the settings file parser's error, whose message
            // already tells its own causes.
            if let Some(cause) = std::error::Error::source(problem) {
                write!(f, ": {cause}")?;
            }
        }
        Ok(())
    }
}

/// One problem with the settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingProblem {
    /// The settings file is not YAML/JSON, or not settings (an unknown key, a wrong type).
    #[error("settings file")]
    File(#[source] serde_saphyr::Error),
    /// An environment variable that should be true or false.
    #[error("{ENV_PREFIX}{key}: `{value}` is not true or false")]
    NotBool {
        /// The variable's name after [`ENV_PREFIX`].
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// An environment variable that should be a whole number.
    #[error("{ENV_PREFIX}{key}: `{value}` is not a whole number")]
    NotWholeNumber {
        /// The variable's name after [`ENV_PREFIX`].
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// A listen address that is not an address.
    #[error("{setting}: `{value}` is not an address (expected e.g. 127.0.0.1:9191)")]
    NotAddress {
        /// `listen` or `metrics_listen`.
        setting: &'static str,
        /// The value given.
        value: String,
    },
    /// Both listeners on one address.
    #[error("listen and metrics_listen are both {0}")]
    SameAddress(SocketAddr),
    /// A `log_level` that is not a log filter.
    #[error("log_level: `{0}` is not a log filter (e.g. info, debug, lattice_authz=debug)")]
    NotLogFilter(String),
    /// A `log_format` other than `json` and `text`.
    #[error("log_format: `{0}` is not json or text")]
    NotLogFormat(String),
    /// A `payload_mode` other than `lattice` and `standard`.
    #[error("payload_mode: `{0}` is not lattice or standard")]
    NotPayloadMode(String),
    /// `require_world` without a world to load.
    #[error(
        "require_world: no world is configured (--config, world or {ENV_PREFIX}CONFIG), and the built-in example world is not served"
    )]
    NoWorld,
    /// A number outside its bounds.
    #[error("{setting}: {value} is outside {min}..={max}")]
    OutOfRange {
        /// The setting's key.
        setting: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
}

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "LATTICE_AUTHZ_";

/// Default of [`Settings::metrics_header_timeout`]: a scraper or probe sends its request head in
/// one packet as soon as it connects, so seconds are plenty even on a loaded node, and a client
/// that connects and sends nothing (or half a request) is let go quickly.
pub const DEFAULT_METRICS_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Default of [`Settings::metrics_connection_timeout`]: far longer than any answer of the
/// endpoint takes to send, even to a slow reader, yet short enough that clients which read or
/// send slowly on purpose cannot keep the connection slots for long.
pub const DEFAULT_METRICS_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of [`Settings::metrics_max_connections`]: many times what scrapers and probes open
/// at once (a few each), and small enough that every slot held, with its buffers, still fits in
/// a few MiB.
pub const DEFAULT_METRICS_MAX_CONNECTIONS: usize = 256;

/// Default of [`Settings::max_streams_per_connection`]: Envoy multiplexes a worker's Checks on
/// one connection, and its default circuit breaker allows 1,024 requests in flight to a cluster,
/// so Envoy never meets this limit; a client that opens streams and sends nothing on them holds
/// at most this many per connection.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// Default of [`Settings::grpc_idle_timeout`]: Envoy sends Checks on its connections all the
/// time, so only a connection its client abandoned stays silent this long.
pub const DEFAULT_GRPC_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Default of [`Settings::max_world_bytes`]: 16 MiB. A world of 25,000 principals with a key
/// each and 2,500 services is 6.4 MiB of JSON; with [`DEFAULT_MAX_WORLD_NODES`], what a load may
/// take fits the deployment's 256 MiB beside the world being served (docs/hostile-input.md has
/// the figures).
pub const DEFAULT_MAX_WORLD_BYTES: u64 = 16 * 1024 * 1024;

/// Default of [`Settings::max_world_nodes`]: a world of 25,000 principals with a key each and
/// 2,500 services has about 372,000 nodes. A load takes at most about 450 bytes a node (a list
/// of invalid items, each with a problem of its own), so 400,000 nodes take at most about
/// 175 MiB, which fits the deployment's 256 MiB beside the world being served.
pub const DEFAULT_MAX_WORLD_NODES: u64 = 400_000;

/// Every setting's environment variable, with what it sets.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("LISTEN", "gRPC listen address"),
    ("METRICS_LISTEN", "HTTP metrics/health listen address"),
    (
        "METRICS_HEADER_TIMEOUT_MS",
        "time an HTTP client has to send a request head",
    ),
    (
        "METRICS_CONNECTION_TIMEOUT_MS",
        "time an HTTP connection may stay open",
    ),
    ("METRICS_MAX_CONNECTIONS", "HTTP connections open at once"),
    ("CONFIG", "world file or directory"),
    ("LOG_LEVEL", "log filter"),
    ("LOG_FORMAT", "json or text"),
    ("LOG_ALLOWS", "log allowed decisions too"),
    (
        "DYNAMIC_METADATA",
        "answers carry the decision as dynamic metadata",
    ),
    ("RELOAD_INTERVAL_MS", "world change polling interval"),
    ("MAX_SKEW_SECS", "allowed clock skew"),
    ("QUERY_AUTH", "accept presigned query auth"),
    (
        "SINGLE_ENCODING_FALLBACK",
        "retry with the single-encoded path",
    ),
    ("PAYLOAD_MODE", "lattice or standard"),
    ("KEY_CACHE_CAPACITY", "SigV4A public-key cache entries"),
    ("POLICY_CACHE_CAPACITY", "compiled-policy cache entries"),
    ("MAX_POLICY_BYTES", "largest auth policy"),
    ("MAX_WORLD_BYTES", "most bytes of world files"),
    ("MAX_WORLD_NODES", "most YAML/JSON nodes in the world"),
    (
        "BARE_ACCOUNT_PRINCIPAL",
        "accept \"Principal\": \"123456789012\"",
    ),
    (
        "AWS_WILDCARD_MATCHES_ANONYMOUS",
        "{\"AWS\":\"*\"} matches anonymous",
    ),
    (
        "ANONYMOUS_IDENTITY_HEADER",
        "send Type=NONE for anonymous callers",
    ),
    (
        "MAX_CONCURRENT_CHECKS",
        "checks being decided at once before shedding",
    ),
    ("CHECK_TIMEOUT_MS", "deadline of one check"),
    ("SHUTDOWN_GRACE_MS", "drain time on SIGTERM"),
    ("WORKERS", "gRPC worker threads (0: one per CPU)"),
    (
        "MAX_STREAMS_PER_CONNECTION",
        "gRPC streams one connection may have open",
    ),
    (
        "GRPC_IDLE_TIMEOUT_SECS",
        "time a silent gRPC connection stays open",
    ),
];

impl RawSettings {
    /// Parses a settings file (YAML or JSON).
    pub fn from_text(text: &str) -> Result<Self, InvalidSettings> {
        serde_saphyr::from_str(text).map_err(|e| InvalidSettings(vec![SettingProblem::File(e)]))
    }

    /// Applies `LATTICE_AUTHZ_*` variables on top of this file.
    fn apply_env(&mut self, env: &dyn Env, problems: &mut Vec<SettingProblem>) {
        let var = |k: &str| env.get(&format!("{ENV_PREFIX}{k}"));
        let mut bool_var = |k: &'static str, slot: &mut Option<bool>| {
            if let Some(v) = var(k) {
                match v.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => *slot = Some(true),
                    "false" | "0" | "no" => *slot = Some(false),
                    _ => problems.push(SettingProblem::NotBool { key: k, value: v }),
                }
            }
        };
        bool_var("LOG_ALLOWS", &mut self.log_allows);
        bool_var("REQUIRE_WORLD", &mut self.require_world);
        bool_var("DYNAMIC_METADATA", &mut self.dynamic_metadata);
        bool_var("QUERY_AUTH", &mut self.query_auth);
        bool_var(
            "SINGLE_ENCODING_FALLBACK",
            &mut self.single_encoding_fallback,
        );
        bool_var("BARE_ACCOUNT_PRINCIPAL", &mut self.bare_account_principal);
        bool_var(
            "AWS_WILDCARD_MATCHES_ANONYMOUS",
            &mut self.aws_wildcard_matches_anonymous,
        );
        bool_var(
            "ANONYMOUS_IDENTITY_HEADER",
            &mut self.anonymous_identity_header,
        );
        let mut num_var = |k: &'static str, slot: &mut Option<u64>| {
            if let Some(v) = var(k) {
                match v.parse() {
                    Ok(n) => *slot = Some(n),
                    Err(_) => problems.push(SettingProblem::NotWholeNumber { key: k, value: v }),
                }
            }
        };
        num_var("RELOAD_INTERVAL_MS", &mut self.reload_interval_ms);
        num_var("MAX_SKEW_SECS", &mut self.max_skew_secs);
        num_var("KEY_CACHE_CAPACITY", &mut self.key_cache_capacity);
        num_var("POLICY_CACHE_CAPACITY", &mut self.policy_cache_capacity);
        num_var("SESSION_CACHE_BYTES", &mut self.session_cache_bytes);
        num_var("CHECK_TIMEOUT_MS", &mut self.check_timeout_ms);
        num_var("SHUTDOWN_GRACE_MS", &mut self.shutdown_grace_ms);
        num_var(
            "MAX_STREAMS_PER_CONNECTION",
            &mut self.max_streams_per_connection,
        );
        num_var("GRPC_IDLE_TIMEOUT_SECS", &mut self.grpc_idle_timeout_secs);
        num_var("MAX_WORLD_BYTES", &mut self.max_world_bytes);
        num_var("MAX_WORLD_NODES", &mut self.max_world_nodes);
        num_var(
            "METRICS_HEADER_TIMEOUT_MS",
            &mut self.metrics_header_timeout_ms,
        );
        num_var(
            "METRICS_CONNECTION_TIMEOUT_MS",
            &mut self.metrics_connection_timeout_ms,
        );
        let mut usize_var = |k: &'static str, slot: &mut Option<usize>| {
            if let Some(v) = var(k) {
                match v.parse() {
                    Ok(n) => *slot = Some(n),
                    Err(_) => problems.push(SettingProblem::NotWholeNumber { key: k, value: v }),
                }
            }
        };
        usize_var("MAX_POLICY_BYTES", &mut self.max_policy_bytes);
        usize_var("MAX_CONCURRENT_CHECKS", &mut self.max_concurrent_checks);
        usize_var("WORKERS", &mut self.workers);
        usize_var("METRICS_MAX_CONNECTIONS", &mut self.metrics_max_connections);
        for (k, slot) in [
            ("LISTEN", &mut self.listen),
            ("METRICS_LISTEN", &mut self.metrics_listen),
            ("CONFIG", &mut self.world),
            ("LOG_LEVEL", &mut self.log_level),
            ("LOG_FORMAT", &mut self.log_format),
            ("PAYLOAD_MODE", &mut self.payload_mode),
        ] {
            if let Some(v) = var(k) {
                *slot = Some(v);
            }
        }
    }
}

impl Settings {
    /// Merges file, environment and flags (later wins) and validates everything.
    pub fn resolve(
        file: Option<RawSettings>,
        env: &dyn Env,
        flags: &Flags,
    ) -> Result<Settings, InvalidSettings> {
        let mut problems = Vec::new();
        let mut raw = file.unwrap_or_default();
        raw.apply_env(env, &mut problems);
        for (flag, slot) in [
            (&flags.listen, &mut raw.listen),
            (&flags.metrics_listen, &mut raw.metrics_listen),
            (&flags.world, &mut raw.world),
            (&flags.log_level, &mut raw.log_level),
        ] {
            if flag.is_some() {
                slot.clone_from(flag);
            }
        }
        if flags.require_world {
            raw.require_world = Some(true);
        }
        let require_world = raw.require_world.unwrap_or(false);
        if require_world && raw.world.is_none() {
            problems.push(SettingProblem::NoWorld);
        }
        let d = Settings::default();
        let mut addr = |name: &'static str, v: Option<String>, default: SocketAddr| match v {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                problems.push(SettingProblem::NotAddress {
                    setting: name,
                    value: v,
                });
                default
            }),
        };
        let listen = addr("listen", raw.listen, d.listen);
        let metrics_listen = addr("metrics_listen", raw.metrics_listen, d.metrics_listen);
        if listen == metrics_listen && listen.port() != 0 {
            problems.push(SettingProblem::SameAddress(listen));
        }
        let log_level = raw.log_level.unwrap_or(d.log_level);
        if tracing_subscriber::EnvFilter::builder()
            .parse(&log_level)
            .is_err()
        {
            problems.push(SettingProblem::NotLogFilter(log_level.clone()));
        }
        let log_format = match raw.log_format.as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                problems.push(SettingProblem::NotLogFormat(other.to_owned()));
                LogFormat::Json
            }
        };
        let payload_mode = match raw.payload_mode.as_deref() {
            None | Some("lattice") => PayloadMode::Lattice,
            Some("standard") => PayloadMode::Standard,
            Some(other) => {
                problems.push(SettingProblem::NotPayloadMode(other.to_owned()));
                PayloadMode::Lattice
            }
        };
        let mut bounded =
            |name: &'static str, v: Option<u64>, default: u64, min: u64, max: u64| match v {
                None => default,
                Some(v) if (min..=max).contains(&v) => v,
                Some(v) => {
                    problems.push(SettingProblem::OutOfRange {
                        setting: name,
                        value: v,
                        min,
                        max,
                    });
                    default
                }
            };
        let reload_interval = Duration::from_millis(bounded(
            "reload_interval_ms",
            raw.reload_interval_ms,
            1000,
            50,
            3_600_000,
        ));
        let max_skew =
            Duration::from_secs(bounded("max_skew_secs", raw.max_skew_secs, 300, 1, 3600));
        let key_cache_capacity = bounded(
            "key_cache_capacity",
            raw.key_cache_capacity,
            d.key_cache_capacity,
            1,
            100_000_000,
        );
        let policy_cache_capacity = bounded(
            "policy_cache_capacity",
            raw.policy_cache_capacity,
            d.policy_cache_capacity,
            1,
            100_000_000,
        );
        let session_cache_bytes = bounded(
            "session_cache_bytes",
            raw.session_cache_bytes,
            d.session_cache_bytes,
            0,
            1 << 40,
        );
        let check_timeout = Duration::from_millis(bounded(
            "check_timeout_ms",
            raw.check_timeout_ms,
            200,
            1,
            60_000,
        ));
        let shutdown_grace = Duration::from_millis(bounded(
            "shutdown_grace_ms",
            raw.shutdown_grace_ms,
            10_000,
            0,
            600_000,
        ));
        let max_policy_bytes = bounded(
            "max_policy_bytes",
            raw.max_policy_bytes.map(|v| v as u64),
            10_240,
            64,
            1 << 20,
        );
        let max_world_bytes = bounded(
            "max_world_bytes",
            raw.max_world_bytes,
            d.max_world_bytes,
            1024,
            1 << 30,
        );
        let max_world_nodes = bounded(
            "max_world_nodes",
            raw.max_world_nodes,
            d.max_world_nodes,
            1000,
            1_000_000_000,
        );
        let max_concurrent_checks = bounded(
            "max_concurrent_checks",
            raw.max_concurrent_checks.map(|v| v as u64),
            4096,
            1,
            1_000_000,
        );
        let workers = bounded("workers", raw.workers.map(|v| v as u64), 0, 0, 1024);
        let metrics_header_timeout = Duration::from_millis(bounded(
            "metrics_header_timeout_ms",
            raw.metrics_header_timeout_ms,
            millis(d.metrics_header_timeout),
            1,
            600_000,
        ));
        let metrics_connection_timeout = Duration::from_millis(bounded(
            "metrics_connection_timeout_ms",
            raw.metrics_connection_timeout_ms,
            millis(d.metrics_connection_timeout),
            1,
            3_600_000,
        ));
        let metrics_max_connections = bounded(
            "metrics_max_connections",
            raw.metrics_max_connections.map(|v| v as u64),
            d.metrics_max_connections as u64,
            1,
            65_536,
        );
        let max_streams_per_connection = bounded(
            "max_streams_per_connection",
            raw.max_streams_per_connection,
            u64::from(d.max_streams_per_connection),
            1,
            65_536,
        );
        let grpc_idle_timeout = Duration::from_secs(bounded(
            "grpc_idle_timeout_secs",
            raw.grpc_idle_timeout_secs,
            d.grpc_idle_timeout.as_secs(),
            1,
            86_400,
        ));
        if !problems.is_empty() {
            return Err(InvalidSettings(problems));
        }
        Ok(Settings {
            listen,
            metrics_listen,
            metrics_header_timeout,
            metrics_connection_timeout,
            metrics_max_connections: usize::try_from(metrics_max_connections)
                .unwrap_or(d.metrics_max_connections),
            world: raw.world.map(PathBuf::from),
            require_world,
            log_level,
            log_format,
            log_allows: raw.log_allows.unwrap_or(d.log_allows),
            dynamic_metadata: raw.dynamic_metadata.unwrap_or(d.dynamic_metadata),
            reload_interval,
            max_skew,
            query_auth: raw.query_auth.unwrap_or(d.query_auth),
            single_encoding_fallback: raw
                .single_encoding_fallback
                .unwrap_or(d.single_encoding_fallback),
            payload_mode,
            key_cache_capacity,
            policy_cache_capacity,
            session_cache_bytes,
            max_policy_bytes: usize::try_from(max_policy_bytes).unwrap_or(d.max_policy_bytes),
            max_world_bytes,
            max_world_nodes,
            bare_account_principal: raw
                .bare_account_principal
                .unwrap_or(d.bare_account_principal),
            aws_wildcard_matches_anonymous: raw
                .aws_wildcard_matches_anonymous
                .unwrap_or(d.aws_wildcard_matches_anonymous),
            anonymous_identity_header: raw
                .anonymous_identity_header
                .unwrap_or(d.anonymous_identity_header),
            max_concurrent_checks: usize::try_from(max_concurrent_checks)
                .unwrap_or(d.max_concurrent_checks),
            check_timeout,
            shutdown_grace,
            workers: usize::try_from(workers).unwrap_or(d.workers),
            max_streams_per_connection: u32::try_from(max_streams_per_connection)
                .unwrap_or(d.max_streams_per_connection),
            grpc_idle_timeout,
        })
    }
}

/// A default duration in whole milliseconds, as its setting is written.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each problem's message, as a line of the report.
    fn messages(err: &InvalidSettings) -> Vec<String> {
        err.0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_session_cache_default_is_the_worlds() {
        assert_eq!(
            DEFAULT_SESSION_CACHE_BYTES,
            crate::lattice::DEFAULT_SESSION_CACHE_BYTES
        );
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(None, &env(&[]), &Flags::default()).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.listen.to_string(), "127.0.0.1:9191");
        assert_eq!(s.metrics_listen.to_string(), "127.0.0.1:9464");
    }

    #[test]
    fn file_then_env_then_flags() {
        let file =
            RawSettings::from_text("listen: 127.0.0.1:1\nmax_skew_secs: 60\nlog_allows: false\n")
                .unwrap();
        let e = env(&[
            ("LATTICE_AUTHZ_LISTEN", "127.0.0.1:2"),
            ("LATTICE_AUTHZ_MAX_SKEW_SECS", "900"),
        ]);
        let flags = Flags {
            listen: Some("127.0.0.1:3".into()),
            ..Flags::default()
        };
        let s = Settings::resolve(Some(file), &e, &flags).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3");
        assert_eq!(s.max_skew, Duration::from_secs(900));
        assert!(!s.log_allows);
    }

    #[test]
    fn dynamic_metadata_is_on_unless_turned_off() {
        let s = Settings::resolve(None, &env(&[]), &Flags::default()).unwrap();
        assert!(s.dynamic_metadata);
        let file = RawSettings::from_text("dynamic_metadata: false\n").unwrap();
        let s = Settings::resolve(Some(file), &env(&[]), &Flags::default()).unwrap();
        assert!(!s.dynamic_metadata);
        // The environment overrides the file, either way.
        let file = RawSettings::from_text("dynamic_metadata: false\n").unwrap();
        let e = env(&[("LATTICE_AUTHZ_DYNAMIC_METADATA", "true")]);
        assert!(
            Settings::resolve(Some(file), &e, &Flags::default())
                .unwrap()
                .dynamic_metadata
        );
        let e = env(&[("LATTICE_AUTHZ_DYNAMIC_METADATA", "no")]);
        assert!(
            !Settings::resolve(None, &e, &Flags::default())
                .unwrap()
                .dynamic_metadata
        );
        let e = env(&[("LATTICE_AUTHZ_DYNAMIC_METADATA", "off")]);
        let err = Settings::resolve(None, &e, &Flags::default()).unwrap_err();
        assert!(matches!(
            &err.0[..],
            [SettingProblem::NotBool {
                key: "DYNAMIC_METADATA",
                value
            }] if value == "off"
        ));
        assert_eq!(
            messages(&err),
            vec!["LATTICE_AUTHZ_DYNAMIC_METADATA: `off` is not true or false"]
        );
    }

    #[test]
    fn require_world_needs_a_world_from_the_file_the_environment_or_a_flag() {
        let s = Settings::resolve(None, &env(&[]), &Flags::default()).unwrap();
        assert!(!s.require_world);
        let file = RawSettings::from_text("require_world: true\n").unwrap();
        let err = Settings::resolve(Some(file), &env(&[]), &Flags::default()).unwrap_err();
        assert!(matches!(&err.0[..], [SettingProblem::NoWorld]));
        assert_eq!(
            messages(&err),
            vec![
                "require_world: no world is configured (--config, world or LATTICE_AUTHZ_CONFIG), \
                 and the built-in example world is not served"
            ]
        );
        let file = RawSettings::from_text("require_world: true\nworld: /etc/w.yaml\n").unwrap();
        let s = Settings::resolve(Some(file), &env(&[]), &Flags::default()).unwrap();
        assert!(s.require_world);
        let e = env(&[
            ("LATTICE_AUTHZ_REQUIRE_WORLD", "yes"),
            ("LATTICE_AUTHZ_CONFIG", "/etc/w.yaml"),
        ]);
        assert!(
            Settings::resolve(None, &e, &Flags::default())
                .unwrap()
                .require_world
        );
        // The flag only turns it on: `--require-world` absent leaves the file's choice.
        let flags = Flags {
            require_world: true,
            world: Some("/etc/w.yaml".into()),
            ..Flags::default()
        };
        let file = RawSettings::from_text("require_world: false\n").unwrap();
        assert!(
            Settings::resolve(Some(file), &env(&[]), &flags)
                .unwrap()
                .require_world
        );
    }

    #[test]
    fn every_problem_at_once() {
        let e = env(&[
            ("LATTICE_AUTHZ_LISTEN", "nowhere"),
            ("LATTICE_AUTHZ_LOG_ALLOWS", "maybe"),
            ("LATTICE_AUTHZ_MAX_SKEW_SECS", "0"),
            ("LATTICE_AUTHZ_PAYLOAD_MODE", "signed"),
        ]);
        let err = Settings::resolve(None, &e, &Flags::default()).unwrap_err();
        assert!(matches!(
            &err.0[..],
            [
                SettingProblem::NotBool {
                    key: "LOG_ALLOWS",
                    ..
                },
                SettingProblem::NotAddress {
                    setting: "listen",
                    ..
                },
                SettingProblem::NotPayloadMode(_),
                SettingProblem::OutOfRange {
                    setting: "max_skew_secs",
                    value: 0,
                    min: 1,
                    max: 3600
                },
            ]
        ));
        assert_eq!(
            messages(&err),
            vec![
                "LATTICE_AUTHZ_LOG_ALLOWS: `maybe` is not true or false",
                "listen: `nowhere` is not an address (expected e.g. 127.0.0.1:9191)",
                "payload_mode: `signed` is not lattice or standard",
                "max_skew_secs: 0 is outside 1..=3600",
            ]
        );
    }

    #[test]
    fn workers_default_to_one_per_cpu_and_are_bounded() {
        let s = Settings::resolve(None, &env(&[]), &Flags::default()).unwrap();
        assert_eq!(s.workers, 0);
        let file = RawSettings::from_text("workers: 3\n").unwrap();
        let s = Settings::resolve(Some(file), &env(&[]), &Flags::default()).unwrap();
        assert_eq!(s.workers, 3);
        let e = env(&[("LATTICE_AUTHZ_WORKERS", "5000")]);
        let err = Settings::resolve(None, &e, &Flags::default()).unwrap_err();
        assert!(matches!(
            &err.0[..],
            [SettingProblem::OutOfRange {
                setting: "workers",
                value: 5000,
                min: 0,
                max: 1024
            }]
        ));
        assert_eq!(messages(&err), vec!["workers: 5000 is outside 0..=1024"]);
        let e = env(&[("LATTICE_AUTHZ_WORKERS", "two")]);
        let err = Settings::resolve(None, &e, &Flags::default()).unwrap_err();
        assert!(matches!(
            &err.0[..],
            [SettingProblem::NotWholeNumber { key: "WORKERS", .. }]
        ));
        assert_eq!(
            messages(&err),
            vec!["LATTICE_AUTHZ_WORKERS: `two` is not a whole number"]
        );
    }

    #[test]
    fn the_metrics_port_bounds_default_and_are_bounded() {
        let s = Settings::resolve(None, &env(&[]), &Flags::default()).unwrap();
        assert_eq!(s.metrics_header_timeout, Duration::from_secs(5));
        assert_eq!(s.metrics_connection_timeout, Duration::from_secs(30));
        assert_eq!(s.metrics_max_connections, 256);
        let file = RawSettings::from_text(
            "metrics_header_timeout_ms: 250\nmetrics_connection_timeout_ms: 1000\n\
             metrics_max_connections: 4\n",
        )
        .unwrap();
        let e = env(&[("LATTICE_AUTHZ_METRICS_MAX_CONNECTIONS", "16")]);
        let s = Settings::resolve(Some(file), &e, &Flags::default()).unwrap();
        assert_eq!(s.metrics_header_timeout, Duration::from_millis(250));
        assert_eq!(s.metrics_connection_timeout, Duration::from_secs(1));
        assert_eq!(s.metrics_max_connections, 16, "the environment wins");
        let e = env(&[
            ("LATTICE_AUTHZ_METRICS_HEADER_TIMEOUT_MS", "0"),
            ("LATTICE_AUTHZ_METRICS_CONNECTION_TIMEOUT_MS", "soon"),
            ("LATTICE_AUTHZ_METRICS_MAX_CONNECTIONS", "0"),
        ]);
        let err = Settings::resolve(None, &e, &Flags::default()).unwrap_err();
        assert_eq!(
            messages(&err),
            vec![
                "LATTICE_AUTHZ_METRICS_CONNECTION_TIMEOUT_MS: `soon` is not a whole number",
                "metrics_header_timeout_ms: 0 is outside 1..=600000",
                "metrics_max_connections: 0 is outside 1..=65536",
            ]
        );
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let err = RawSettings::from_text("listen: 127.0.0.1:1\nlisten_port: 3\n").unwrap_err();
        assert!(
            matches!(&err.0[..], [SettingProblem::File(e)] if e.to_string().contains("listen_port")),
            "{err}"
        );
        // The report names the file, then the parser's words.
        assert!(
            err.to_string()
                .starts_with("invalid settings:\n  settings file: "),
            "{err}"
        );
    }

    /// The report as `main` prints it: every kind of problem once, each on its own line.
    #[test]
    fn every_kind_of_problem_reads_as_before() {
        let err = InvalidSettings(vec![
            SettingProblem::NotBool {
                key: "QUERY_AUTH",
                value: "maybe".to_owned(),
            },
            SettingProblem::NotWholeNumber {
                key: "WORKERS",
                value: "two".to_owned(),
            },
            SettingProblem::NotAddress {
                setting: "metrics_listen",
                value: "nowhere".to_owned(),
            },
            SettingProblem::SameAddress(SocketAddr::from(([127, 0, 0, 1], 9191))),
            SettingProblem::NotLogFilter("[".to_owned()),
            SettingProblem::NotLogFormat("xml".to_owned()),
            SettingProblem::NotPayloadMode("signed".to_owned()),
            SettingProblem::OutOfRange {
                setting: "workers",
                value: 5000,
                min: 0,
                max: 1024,
            },
        ]);
        assert_eq!(
            err.to_string(),
            "invalid settings:\n  \
             LATTICE_AUTHZ_QUERY_AUTH: `maybe` is not true or false\n  \
             LATTICE_AUTHZ_WORKERS: `two` is not a whole number\n  \
             metrics_listen: `nowhere` is not an address (expected e.g. 127.0.0.1:9191)\n  \
             listen and metrics_listen are both 127.0.0.1:9191\n  \
             log_level: `[` is not a log filter (e.g. info, debug, lattice_authz=debug)\n  \
             log_format: `xml` is not json or text\n  \
             payload_mode: `signed` is not lattice or standard\n  \
             workers: 5000 is outside 0..=1024"
        );
        let file = RawSettings::from_text("listen: [1\n").unwrap_err();
        let [SettingProblem::File(parser)] = &file.0[..] else {
            panic!("{file:?}")
        };
        assert_eq!(
            file.to_string(),
            format!("invalid settings:\n  settings file: {parser}")
        );
    }
}
