//! Hostile input (issue 7): a table of bad requests (`tests/data/hostile/cases.yaml`) sent to the
//! real server over loopback gRPC, each with its exact outcome, and the one-byte replay of allowed
//! requests.
//!
//! A case is signed by a real SigV4 / SigV4A client (`aws-sigv4`), shaped the way Envoy hands it
//! over (pseudo-headers, raw `header_map` or the joined `headers` map, where Envoy turns bytes that
//! are not UTF-8 into `!`), then mutated, then checked. Every outcome is compared exactly: the
//! decision, the 403 status, the `PERMISSION_DENIED` check status, the body byte for byte, the
//! `x-amzn-errortype` header and the reason label, or the gRPC error code. Only cases marked
//! `control: true` may expect an allow: they make the denies next to them meaningful.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::{v4, v4a};
use aws_smithy_runtime_api::client::identity::Identity;
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::google::protobuf::value::Kind;
use lattice_authz::app;
use lattice_authz::authz::FixedClock;
use lattice_authz::test_util::{self, HeaderMode};
use prost::Message as _;
use serde::Deserialize;
use tonic::transport::Channel;

use crate::grpc_check::loopback_settings;
use crate::sigv4_common::at;
use crate::support;

const CASES: &str = "tests/data/hostile/cases.yaml";

/// `UriEncode` (sigv4 §1.6.1): everything but `A-Za-z0-9-._~`, as clients write presigned URLs.
const QUERY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

// === The data file ===

#[derive(Debug, Deserialize)]
struct VarsOnly {
    vars: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[expect(dead_code, reason = "substituted into the text before parsing")]
    vars: BTreeMap<String, String>,
    credentials: BTreeMap<String, Cred>,
    servers: BTreeMap<String, ServerSpec>,
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cred {
    access_key_id: String,
    secret: String,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSpec {
    /// The server clock (`YYYYMMDDTHHMMSSZ`); the test time by default.
    #[serde(default)]
    clock: Option<String>,
    #[serde(default)]
    query_auth: bool,
    /// Single-encoding fallback off.
    #[serde(default)]
    strict_paths: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for the reader of the data file")]
    why: Option<String>,
    #[serde(default = "default_server")]
    server: String,
    request: Req,
    /// Who signs and how; absent for an anonymous request.
    #[serde(default)]
    sign: Option<Sign>,
    /// Applied in order, after signing, to the request as Envoy sees it.
    #[serde(default)]
    mutate: Vec<Mutation>,
    /// Header modes to run (both by default).
    #[serde(default)]
    modes: Option<Vec<Mode>>,
    expect: Expect,
    /// The outcome in joined mode, when it differs.
    #[serde(default)]
    joined: Option<Expect>,
    /// May expect an allow.
    #[serde(default)]
    control: bool,
}

fn default_server() -> String {
    "default".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Raw,
    Joined,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    #[serde(default = "default_method")]
    method: String,
    host: String,
    #[serde(default = "default_path")]
    path: String,
    #[serde(default = "default_source")]
    source: String,
    /// Extra headers present when signing (so signed, when signed).
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_path() -> String {
    "/".to_owned()
}

fn default_source() -> String {
    "127.0.0.1".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Algo {
    #[default]
    V4,
    V4a,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sign {
    /// A name from `credentials`.
    #[serde(rename = "as")]
    who: String,
    #[serde(default)]
    algorithm: Algo,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    region_set: Option<String>,
    #[serde(default)]
    service: Option<String>,
    /// Seconds from the server clock.
    #[serde(default)]
    offset: i64,
    /// Presigned URL instead of an `Authorization` header.
    #[serde(default)]
    query: bool,
    #[serde(default)]
    expires: Option<u64>,
    /// Single-encoded, unnormalised canonical URI (S3 style, Lattice's Go example).
    #[serde(default)]
    single: bool,
    /// `x-amz-content-sha256` value, or `omit`; `UNSIGNED-PAYLOAD` by default.
    #[serde(default)]
    content_sha256: Option<String>,
}

/// What happens to the request after signing. Header names are lower-case; `:authority`,
/// `:method` and `:path` are header lines like any other, but [`Mutation::Authority`],
/// [`Mutation::Method`] and [`Mutation::Path`] also change Envoy's `host`, `method` and `path`
/// attributes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mutation {
    /// Removes every line of a header.
    Remove(String),
    /// Adds a line.
    Append { name: String, value: String },
    /// Adds a copy of the header's first line.
    Duplicate(String),
    /// Replaces the value of every line of a header (adds one if there is none).
    Set { name: String, value: String },
    /// Replaces the first `from` in the header's first line that has it.
    Edit {
        name: String,
        from: String,
        to: String,
    },
    /// Like `edit`, with the replacement given as hex bytes (may be non-UTF-8).
    EditHex {
        name: String,
        from: String,
        to_hex: String,
    },
    /// Replaces one `Authorization` parameter's value.
    AuthParam { param: String, value: String },
    /// Adds a line of `size` bytes.
    Pad { name: String, size: usize },
    /// Adds `count` lines `<prefix><i>: 1`.
    Lines { prefix: String, count: usize },
    /// Sets the request target (path and query).
    Path(String),
    /// Sets a target of `/` followed by `a`s, `n` bytes long.
    LongPath(usize),
    /// Replaces the first `from` in the target.
    EditPath { from: String, to: String },
    /// Sets the method.
    Method(String),
    /// Sets `:authority` (and Envoy's `host`).
    Authority(String),
    /// Removes `:authority`, any `host` line and Envoy's `host`.
    NoAuthority,
    /// Sets the source address.
    Source(String),
    /// Drops `attributes.request.http` altogether.
    NoHttp,
    /// Patches the encoded `CheckRequest` (same length): protobuf strings that are not UTF-8.
    Wire { from: String, to_hex: String },
    /// Sends these bytes (hex) instead of a `CheckRequest`.
    Garbage(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Allowed, with this principal.
    #[serde(default)]
    allow: Option<String>,
    /// Denied (403, `PERMISSION_DENIED`), with this reason label.
    #[serde(default)]
    deny: Option<String>,
    /// `x-amzn-errortype` of a deny.
    #[serde(default, rename = "type")]
    error_type: Option<String>,
    /// Body of a deny.
    #[serde(default)]
    body: Option<String>,
    /// A gRPC error code instead of an answer (`Internal`, `OutOfRange`, ...).
    #[serde(default)]
    error: Option<String>,
}

impl Expect {
    fn outcome(&self, case: &str) -> Outcome {
        match (&self.allow, &self.deny, &self.error) {
            (Some(principal), None, None) => {
                assert!(
                    self.body.is_none() && self.error_type.is_none(),
                    "{case}: an allow has no body"
                );
                Outcome::Allow {
                    principal: principal.clone(),
                }
            }
            (None, Some(reason), None) => Outcome::Deny {
                reason: reason.clone(),
                error_type: self
                    .error_type
                    .clone()
                    .unwrap_or_else(|| panic!("{case}: a deny needs its type")),
                body: self
                    .body
                    .clone()
                    .unwrap_or_else(|| panic!("{case}: a deny needs its body")),
            },
            (None, None, Some(code)) => Outcome::Error { code: code.clone() },
            _ => panic!("{case}: expect exactly one of allow, deny, error"),
        }
    }
}

/// Replaces `{name}` by each variable's value.
fn fill(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn load() -> File {
    let text = std::fs::read_to_string(CASES).unwrap();
    let vars: VarsOnly = serde_saphyr::from_str(&text).unwrap();
    serde_saphyr::from_str(&fill(&text, &vars.vars)).unwrap()
}

// === Outcomes ===

/// What the server answered, reduced to what the table asserts. Building it checks the
/// invariants every answer must keep (a deny is 403 with `PERMISSION_DENIED` and a plain-text
/// body that starts with its error type; an allow is `OK` with the caller's identity header).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Allow {
        principal: String,
    },
    Deny {
        reason: String,
        error_type: String,
        body: String,
    },
    Error {
        code: String,
    },
}

fn metadata(response: &CheckResponse, key: &str) -> String {
    response
        .dynamic_metadata
        .as_ref()
        .and_then(|m| m.fields.get(key))
        .and_then(|v| match &v.kind {
            Some(Kind::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

impl Outcome {
    fn of(answer: Result<CheckResponse, tonic::Status>) -> Outcome {
        let response = match answer {
            Ok(response) => response,
            Err(status) => {
                return Outcome::Error {
                    code: format!("{:?}", status.code()),
                };
            }
        };
        let check_code = response.status.as_ref().map_or(-1, |s| s.code);
        let reason = metadata(&response, "reason");
        match &response.http_response {
            Some(HttpResponse::DeniedResponse(denied)) => {
                let headers: BTreeMap<_, _> = denied
                    .headers
                    .iter()
                    .filter_map(|h| h.header.as_ref())
                    .map(|h| (h.key.as_str(), h.value.as_str()))
                    .collect();
                let error_type = headers.get("x-amzn-errortype").copied().unwrap_or_default();
                assert_eq!(check_code, 7, "a deny is PERMISSION_DENIED: {response:?}");
                assert_eq!(denied.status.as_ref().map(|s| s.code), Some(403));
                assert_eq!(headers.get("content-type"), Some(&"text/plain"));
                assert_eq!(metadata(&response, "decision"), "deny");
                assert!(
                    denied.body.starts_with(&format!("{error_type}: ")),
                    "{response:?}"
                );
                Outcome::Deny {
                    reason,
                    error_type: error_type.to_owned(),
                    body: denied.body.clone(),
                }
            }
            Some(HttpResponse::OkResponse(ok)) => {
                let principal = metadata(&response, "principal");
                assert_eq!(check_code, 0, "an allow is OK: {response:?}");
                assert_eq!(reason, "allowed");
                assert_eq!(metadata(&response, "decision"), "allow");
                if principal != "anonymous" {
                    let identity = ok
                        .headers
                        .iter()
                        .filter_map(|h| h.header.as_ref())
                        .find(|h| h.key == "x-amzn-lattice-identity")
                        .map(|h| h.value.clone())
                        .unwrap_or_default();
                    assert!(
                        identity.starts_with(&format!("Principal={principal};")),
                        "{response:?}"
                    );
                }
                Outcome::Allow { principal }
            }
            Some(HttpResponse::ErrorResponse(_)) | None => {
                panic!("neither an allow nor a deny: {response:?}")
            }
        }
    }
}

// === The request as Envoy hands it over ===

/// A request after signing, before it becomes a `CheckRequest`.
#[derive(Debug, Clone)]
struct Wire {
    method: String,
    target: String,
    /// Envoy's `host` attribute.
    host: String,
    source: String,
    /// Header lines in order, pseudo-headers first, raw bytes.
    lines: Vec<(String, Vec<u8>)>,
    no_http: bool,
    patch: Option<(Vec<u8>, Vec<u8>)>,
    garbage: Option<Vec<u8>>,
}

/// Envoy's UTF-8 sanitising of the joined `headers` map: each byte of an invalid sequence
/// becomes `!` (ext-authz §1.3 item 6).
fn sanitise(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('!', chunk.invalid().len()));
    }
    out
}

fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(digits).unwrap()
}

fn replace_once(haystack: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let at = haystack.windows(from.len()).position(|w| w == from)?;
    let mut out = haystack[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&haystack[at + from.len()..]);
    Some(out)
}

impl Wire {
    /// `headers` holds `host` and every other header line of the signed request.
    fn new(method: &str, target: &str, source: &str, headers: &[(String, String)]) -> Self {
        let host = headers
            .iter()
            .find(|(k, _)| k == "host")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut lines: Vec<(String, Vec<u8>)> = vec![
            (":authority".into(), host.clone().into_bytes()),
            (":method".into(), method.into()),
            (":path".into(), target.into()),
            (":scheme".into(), "http".into()),
        ];
        lines.extend(
            headers
                .iter()
                .filter(|(k, _)| k != "host")
                .map(|(k, v)| (k.clone(), v.clone().into_bytes())),
        );
        Wire {
            method: method.to_owned(),
            target: target.to_owned(),
            host,
            source: source.to_owned(),
            lines,
            no_http: false,
            patch: None,
            garbage: None,
        }
    }

    fn set_line(&mut self, name: &str, value: &[u8]) {
        let mut found = false;
        for (k, v) in &mut self.lines {
            if k == name {
                *v = value.to_vec();
                found = true;
            }
        }
        if !found {
            self.lines.push((name.to_owned(), value.to_vec()));
        }
    }

    fn edit_line(&mut self, case: &str, name: &str, from: &[u8], to: &[u8]) {
        let line = self
            .lines
            .iter_mut()
            .find(|(k, v)| k == name && v.windows(from.len()).any(|w| w == from))
            .unwrap_or_else(|| panic!("{case}: no `{name}` line holds {from:?}"));
        line.1 = replace_once(&line.1, from, to).unwrap();
        if name == ":authority" {
            self.host = sanitise(&line.1);
        }
    }

    fn apply(&mut self, case: &str, mutation: &Mutation) {
        match mutation {
            Mutation::Remove(name) => self.lines.retain(|(k, _)| k != name),
            Mutation::Append { name, value } => {
                self.lines.push((name.clone(), value.clone().into_bytes()));
            }
            Mutation::Duplicate(name) => {
                let line = self
                    .lines
                    .iter()
                    .find(|(k, _)| k == name)
                    .unwrap_or_else(|| panic!("{case}: no `{name}` to duplicate"))
                    .clone();
                self.lines.push(line);
            }
            Mutation::Set { name, value } => self.set_line(name, value.as_bytes()),
            Mutation::Edit { name, from, to } => {
                self.edit_line(case, name, from.as_bytes(), to.as_bytes());
            }
            Mutation::EditHex { name, from, to_hex } => {
                self.edit_line(case, name, from.as_bytes(), &unhex(to_hex));
            }
            Mutation::AuthParam { param, value } => {
                let line = self
                    .lines
                    .iter_mut()
                    .find(|(k, _)| k == "authorization")
                    .unwrap_or_else(|| panic!("{case}: no authorization"));
                let text = String::from_utf8(line.1.clone()).unwrap();
                let key = format!("{param}=");
                let start = text
                    .find(&key)
                    .unwrap_or_else(|| panic!("{case}: no {param}"))
                    + key.len();
                let end = text[start..].find(',').map_or(text.len(), |i| start + i);
                line.1 = format!("{}{value}{}", &text[..start], &text[end..]).into_bytes();
            }
            Mutation::Pad { name, size } => self.lines.push((name.clone(), vec![b'a'; *size])),
            Mutation::Lines { prefix, count } => {
                for i in 0..*count {
                    self.lines.push((format!("{prefix}{i}"), b"1".to_vec()));
                }
            }
            Mutation::Path(target) => self.set_target(target),
            Mutation::LongPath(n) => self.set_target(&format!("/{}", "a".repeat(n - 1))),
            Mutation::EditPath { from, to } => {
                let target = self.target.replacen(from.as_str(), to, 1);
                assert_ne!(target, self.target, "{case}: the target has no {from:?}");
                self.set_target(&target);
            }
            Mutation::Method(method) => {
                self.method.clone_from(method);
                self.set_line(":method", method.as_bytes());
            }
            Mutation::Authority(host) => {
                self.host.clone_from(host);
                self.set_line(":authority", host.as_bytes());
            }
            Mutation::NoAuthority => {
                self.host.clear();
                self.lines.retain(|(k, _)| k != ":authority" && k != "host");
            }
            Mutation::Source(source) => self.source.clone_from(source),
            Mutation::NoHttp => self.no_http = true,
            Mutation::Wire { from, to_hex } => {
                let to = unhex(to_hex);
                assert_eq!(
                    from.len(),
                    to.len(),
                    "{case}: a wire patch keeps the length"
                );
                self.patch = Some((from.clone().into_bytes(), to));
            }
            Mutation::Garbage(bytes) => self.garbage = Some(unhex(bytes)),
        }
    }

    fn set_target(&mut self, target: &str) {
        self.target = target.to_owned();
        self.set_line(":path", target.as_bytes());
    }

    /// The `CheckRequest` Envoy would send in `mode`.
    fn check_request(&self, mode: HeaderMode) -> CheckRequest {
        // The Envoy shape (addresses, ids, scheme, protocol) comes from the shared builder;
        // headers, method, path and host are then set from this request, byte for byte.
        let mut request = test_util::check_request(
            &self.method,
            &self.target,
            &[("host".to_owned(), self.host.clone())],
            &self.source,
            "127.0.0.1",
            mode,
        );
        let attributes = request.attributes.as_mut().unwrap();
        let http = attributes.request.as_mut().unwrap().http.as_mut().unwrap();
        http.host.clone_from(&self.host);
        http.method.clone_from(&self.method);
        http.path.clone_from(&self.target);
        http.headers.clear();
        http.header_map = None;
        match mode {
            HeaderMode::Raw => {
                http.header_map = Some(HeaderMap {
                    headers: self
                        .lines
                        .iter()
                        .map(|(k, v)| HeaderValue {
                            key: k.clone(),
                            value: String::new(),
                            raw_value: v.clone(),
                        })
                        .collect(),
                });
            }
            HeaderMode::Joined => {
                for (k, v) in &self.lines {
                    let v = sanitise(v);
                    http.headers
                        .entry(k.clone())
                        .and_modify(|e| {
                            e.push(',');
                            e.push_str(&v);
                        })
                        .or_insert(v);
                }
            }
        }
        if self.no_http {
            attributes.request.as_mut().unwrap().http = None;
        }
        request
    }

    /// The bytes to send: the encoded `CheckRequest` (patched), or garbage.
    fn encoded(&self, mode: HeaderMode) -> Option<Vec<u8>> {
        if let Some(garbage) = &self.garbage {
            return Some(garbage.clone());
        }
        let (from, to) = self.patch.as_ref()?;
        let bytes = self.check_request(mode).encode_to_vec();
        let count = bytes.windows(from.len()).filter(|w| w == from).count();
        assert_eq!(count, 1, "a wire patch must match exactly once");
        replace_once(&bytes, from, to)
    }
}

// === Signing ===

/// Signs with `aws-sigv4` the way a Lattice client does; returns the target and every header
/// (`host` first), names lower-case.
fn sign_request(
    req: &Req,
    how: &Sign,
    cred: &Cred,
    time: SystemTime,
) -> (String, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = vec![("host".into(), req.host.clone())];
    match how.content_sha256.as_deref() {
        Some("omit") => {}
        Some(value) => headers.push(("x-amz-content-sha256".into(), value.to_owned())),
        None => headers.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into())),
    }
    headers.extend(
        req.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    let identity: Identity = Credentials::new(
        &cred.access_key_id,
        &cred.secret,
        cred.token.clone(),
        None,
        "hostile",
    )
    .into();
    let mut settings = SigningSettings::default();
    if how.single {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    if how.query {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(how.expires.unwrap_or(300)));
    }
    let service = how.service.as_deref().unwrap_or("vpc-lattice-svcs");
    let params = match how.algorithm {
        Algo::V4 => v4::SigningParams::builder()
            .identity(&identity)
            .region(how.region.as_deref().unwrap_or("ap-northeast-1"))
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into(),
        Algo::V4a => v4a::SigningParams::builder()
            .identity(&identity)
            .region_set(how.region_set.as_deref().unwrap_or("*"))
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into(),
    };
    let signable = SignableRequest::new(
        &req.method,
        format!("http://{}{}", req.host, req.path),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut target = req.path.clone();
    for (name, value) in instructions.params() {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_ENCODE).to_string();
        target.push(if target.contains('?') { '&' } else { '?' });
        target.push_str(&format!("{}={}", enc(name), enc(value)));
    }
    let (added, _) = instructions.into_parts();
    headers.extend(
        added
            .into_iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned())),
    );
    (target, headers)
}

// === The server ===

struct Server {
    running: app::Running,
    client: AuthorizationClient<Channel>,
    channel: Channel,
    clock: SystemTime,
}

impl Server {
    async fn start(spec: &ServerSpec) -> Server {
        let clock = spec.clock.as_deref().map_or_else(support::test_time, at);
        let settings = lattice_authz::config::Settings {
            query_auth: spec.query_auth,
            single_encoding_fallback: !spec.strict_paths,
            // A shared, busy machine must not turn a slow check into DEADLINE_EXCEEDED.
            check_timeout: Duration::from_secs(30),
            ..loopback_settings()
        };
        let running = app::start(settings, Arc::new(FixedClock(clock)))
            .await
            .unwrap();
        let channel = Channel::from_shared(format!("http://{}", running.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Server {
            running,
            client: AuthorizationClient::new(channel.clone()),
            channel,
            clock,
        }
    }

    async fn send(&self, wire: &Wire, mode: HeaderMode) -> Outcome {
        check(self.client.clone(), self.channel.clone(), wire, mode).await
    }

    /// Sends every request, up to 32 at a time on the one connection; outcomes in order.
    async fn send_all(&self, requests: Vec<(Wire, HeaderMode)>) -> Vec<Outcome> {
        let total = requests.len();
        let mut pending = requests.into_iter().enumerate();
        let mut running = tokio::task::JoinSet::new();
        let mut out = vec![None; total];
        loop {
            while running.len() < 32 {
                let Some((i, (wire, mode))) = pending.next() else {
                    break;
                };
                let (client, channel) = (self.client.clone(), self.channel.clone());
                running.spawn(async move { (i, check(client, channel, &wire, mode).await) });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (i, outcome) = done.unwrap();
            out[i] = Some(outcome);
        }
        out.into_iter().map(Option::unwrap).collect()
    }
}

async fn check(
    mut client: AuthorizationClient<Channel>,
    channel: Channel,
    wire: &Wire,
    mode: HeaderMode,
) -> Outcome {
    let answer = match wire.encoded(mode) {
        None => client
            .check(wire.check_request(mode))
            .await
            .map(tonic::Response::into_inner),
        Some(bytes) => send_bytes(channel, bytes).await,
    };
    Outcome::of(answer)
}

/// Sends bytes as the `Check` request message: what a peer that does not speak valid protobuf
/// can put on the wire.
async fn send_bytes(channel: Channel, bytes: Vec<u8>) -> Result<CheckResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static("/envoy.service.auth.v3.Authorization/Check");
    grpc.unary(tonic::Request::new(bytes), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// A codec that sends a message's bytes as given and decodes a `CheckResponse`.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

#[derive(Debug, Clone, Copy)]
struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = CheckResponse;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<CheckResponse>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

fn offset(time: SystemTime, secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs < 0 {
        time - magnitude
    } else {
        time + magnitude
    }
}

fn modes(case: &Case) -> Vec<Mode> {
    case.modes
        .clone()
        .unwrap_or_else(|| vec![Mode::Raw, Mode::Joined])
}

fn header_mode(mode: Mode) -> HeaderMode {
    match mode {
        Mode::Raw => HeaderMode::Raw,
        Mode::Joined => HeaderMode::Joined,
    }
}

// === The table ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_has_its_exact_outcome_and_never_an_unmarked_allow() {
    let file = load();
    let names: BTreeSet<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), file.cases.len(), "case names are unique");
    let mut servers = BTreeMap::new();
    for (name, spec) in &file.servers {
        servers.insert(name.clone(), Server::start(spec).await);
    }
    let mut failures = Vec::new();
    let mut checks = 0;
    let mut allows = 0;
    for case in &file.cases {
        let server = servers
            .get(&case.server)
            .unwrap_or_else(|| panic!("{}: no server {}", case.name, case.server));
        let (target, headers) = match &case.sign {
            None => (
                case.request.path.clone(),
                support::unsigned(
                    &case.request.host,
                    &case
                        .request
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                ),
            ),
            Some(how) => {
                let cred = file
                    .credentials
                    .get(&how.who)
                    .unwrap_or_else(|| panic!("{}: no credential {}", case.name, how.who));
                sign_request(&case.request, how, cred, offset(server.clock, how.offset))
            }
        };
        let mut wire = Wire::new(
            &case.request.method,
            &target,
            &case.request.source,
            &headers,
        );
        for mutation in &case.mutate {
            wire.apply(&case.name, mutation);
        }
        for mode in modes(case) {
            let expect = match (mode, &case.joined) {
                (Mode::Joined, Some(joined)) => joined,
                _ => &case.expect,
            };
            let expected = expect.outcome(&case.name);
            if matches!(expected, Outcome::Allow { .. }) {
                assert!(
                    case.control,
                    "{}: only a control case may expect an allow",
                    case.name
                );
                allows += 1;
            }
            let got = server.send(&wire, header_mode(mode)).await;
            checks += 1;
            if got != expected {
                failures.push(format!(
                    "{} ({mode:?}):\n  expected {expected:?}\n  got      {got:?}",
                    case.name
                ));
            }
        }
    }
    for (_, server) in servers {
        server.running.stop().await.unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let controls = file.cases.iter().filter(|c| c.control).count();
    assert!(
        file.cases.len() - controls >= 40,
        "at least 40 kinds of bad request, got {}",
        file.cases.len() - controls
    );
    // Every control case allows in both modes; nothing else allows.
    assert_eq!(allows, 2 * controls, "{checks} checks");
}

// === The one-byte replay ===

/// A signed thing of a request: the method, `:authority`, the target, or a header's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Method,
    Authority,
    Target,
    Header(String),
}

impl Wire {
    fn part(&self, part: &Part) -> Vec<u8> {
        match part {
            Part::Method => self.method.clone().into_bytes(),
            Part::Authority => self.host.clone().into_bytes(),
            Part::Target => self.target.clone().into_bytes(),
            Part::Header(name) => {
                let mut lines = self.lines.iter().filter(|(k, _)| k == name);
                let (_, value) = lines.next().unwrap();
                assert!(lines.next().is_none(), "one `{name}` line");
                value.clone()
            }
        }
    }

    fn with_part(&self, part: &Part, value: &[u8]) -> Wire {
        let mut wire = self.clone();
        let text = || String::from_utf8(value.to_vec()).unwrap();
        match part {
            Part::Method => wire.apply("replay", &Mutation::Method(text())),
            Part::Authority => wire.apply("replay", &Mutation::Authority(text())),
            Part::Target => wire.set_target(&text()),
            Part::Header(name) => wire.set_line(name, value),
        }
        wire
    }
}

/// The bytes a position is changed to: the other case of a letter, the next character of its
/// class, and characters that mean something to a parser (separators, escapes, path syntax).
fn replacements(original: u8) -> BTreeSet<u8> {
    let mut out: BTreeSet<u8> = b" ,;=/.%".iter().copied().collect();
    if original.is_ascii_alphabetic() {
        out.insert(original ^ 0x20);
    }
    out.insert(match original {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => original + 1,
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        _ => b'x',
    });
    out.remove(&original);
    out
}

/// Changes that cannot matter, by design: AWS accepts `,` and white space alike between the
/// `Authorization` parameters (sigv4 §1.2), so a separator's comma may become a space and the
/// space after it a comma.
fn allowed_by_design(part: &Part, value: &[u8], at: usize, to: u8) -> bool {
    let before = at.checked_sub(1).and_then(|i| value.get(i));
    *part == Part::Header("authorization".into())
        && match (value[at], to) {
            (b',', b' ') => true,
            (b' ', b',') => before == Some(&b','),
            _ => false,
        }
}

/// What the replay saw for one base request.
#[derive(Debug, Default, PartialEq, Eq)]
struct Replay {
    /// Positions per part.
    positions: BTreeMap<Part, usize>,
    /// Changed requests sent (per header mode).
    tries: usize,
    /// Deny reason labels per part, with counts.
    denies: BTreeMap<Part, BTreeMap<String, usize>>,
    /// (part, position, replacement) of every allow.
    allows: BTreeSet<(Part, usize, u8)>,
}

async fn replay(server: &Server, wire: &Wire, principal: &str) -> Replay {
    let allowed = Outcome::Allow {
        principal: principal.to_owned(),
    };
    for mode in [HeaderMode::Raw, HeaderMode::Joined] {
        assert_eq!(
            server.send(wire, mode).await,
            allowed,
            "the base request allows"
        );
    }
    // Every header line but the pseudo-headers is signed (or is the Authorization header).
    let authorization =
        String::from_utf8(wire.part(&Part::Header("authorization".into()))).unwrap();
    let signed: BTreeSet<&str> = authorization
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split(';')
        .filter(|h| *h != "host")
        .chain(["authorization"])
        .collect();
    let headers: BTreeSet<&str> = wire
        .lines
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.starts_with(':'))
        .collect();
    assert_eq!(headers, signed);
    let parts = [Part::Method, Part::Authority, Part::Target]
        .into_iter()
        .chain(headers.iter().map(|h| Part::Header((*h).to_owned())));
    let mut seen = Replay::default();
    let mut changes = Vec::new();
    for part in parts {
        let value = wire.part(&part);
        seen.positions.insert(part.clone(), value.len());
        for at in 0..value.len() {
            for to in replacements(value[at]) {
                changes.push((part.clone(), value.clone(), at, to));
            }
        }
    }
    let requests = changes
        .iter()
        .flat_map(|(part, value, at, to)| {
            let mut changed = value.clone();
            changed[*at] = *to;
            let changed = wire.with_part(part, &changed);
            [
                (changed.clone(), HeaderMode::Raw),
                (changed, HeaderMode::Joined),
            ]
        })
        .collect();
    let outcomes = server.send_all(requests).await;
    seen.tries = changes.len();
    for ((part, value, at, to), pair) in changes.iter().zip(outcomes.chunks(2)) {
        let (at, to) = (*at, *to);
        let what = format!("{part:?}[{at}] {:?} -> {:?}", value[at] as char, to as char);
        assert_eq!(pair[0], pair[1], "{what}: both header modes agree");
        match &pair[0] {
            Outcome::Allow { principal: who } => {
                assert_eq!(who, principal, "{what}");
                assert!(allowed_by_design(part, value, at, to), "{what} allowed");
                seen.allows.insert((part.clone(), at, to));
            }
            Outcome::Deny { reason, .. } => {
                assert!(!allowed_by_design(part, value, at, to), "{what} denied");
                *seen
                    .denies
                    .entry(part.clone())
                    .or_default()
                    .entry(reason.clone())
                    .or_default() += 1;
            }
            Outcome::Error { code } => panic!("{what}: gRPC error {code}"),
        }
    }
    seen
}

fn reasons(counts: &[(&str, usize)]) -> BTreeMap<String, usize> {
    counts.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_byte_in_any_signed_position_never_allows_another_request() {
    let server = Server::start(&ServerSpec::default()).await;
    let cred = |c: support::Creds| Cred {
        access_key_id: c.access_key_id.to_owned(),
        secret: c.secret.to_owned(),
        token: c.token.map(str::to_owned),
    };
    let base = |req: Req, c: support::Creds| {
        let (target, headers) =
            sign_request(&req, &Sign::default(), &cred(c), support::test_time());
        Wire::new(&req.method, &target, &req.source, &headers)
    };
    let user = base(
        Req {
            method: "GET".into(),
            host: support::NGINX_HOST.into(),
            path: "/items/42?color=blue".into(),
            source: "127.0.0.1".into(),
            headers: BTreeMap::new(),
        },
        support::LATTICEUSER,
    );
    let session = base(
        Req {
            method: "POST".into(),
            host: support::HELLO_HOST.into(),
            path: "/orders?id=7".into(),
            source: "127.0.1.1".into(),
            headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        },
        support::SESSION_B,
    );
    let user_seen = replay(&server, &user, "arn:aws:iam::917561075114:user/latticeuser").await;
    let session_seen = replay(
        &server,
        &session,
        "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example",
    )
    .await;
    server.running.stop().await.unwrap();

    let auth = || Part::Header("authorization".to_owned());
    let header = |name: &str| Part::Header(name.to_owned());
    let expected_user = Replay {
        positions: [
            (Part::Method, 3),
            (Part::Authority, 70),
            (Part::Target, 20),
            (auth(), 230),
            (header("x-amz-content-sha256"), 16),
            (header("x-amz-date"), 16),
        ]
        .into(),
        tries: 3039,
        denies: [
            (Part::Method, reasons(&[("sigv4_mismatch", 27)])),
            // A letter's case changes nothing in routing but breaks the signature.
            (
                Part::Authority,
                reasons(&[("sigv4_mismatch", 42), ("unknown_service", 555)]),
            ),
            // `%` makes a bad escape, except `/items%42`, a good one.
            (
                Part::Target,
                reasons(&[("sigv4_malformed", 19), ("sigv4_mismatch", 152)]),
            ),
            (
                auth(),
                reasons(&[
                    ("sigv4_malformed", 1147),
                    ("sigv4_mismatch", 409),
                    ("sigv4_scope", 292),
                    ("sigv4_unknown_key", 119),
                ]),
            ),
            (
                header("x-amz-content-sha256"),
                reasons(&[("sigv4_payload", 143)]),
            ),
            // A seconds digit moved inside the window still breaks the signature.
            (
                header("x-amz-date"),
                reasons(&[
                    ("sigv4_expired", 9),
                    ("sigv4_malformed", 118),
                    ("sigv4_mismatch", 3),
                ]),
            ),
        ]
        .into(),
        // `…aws4_request, SignedHeaders=…, Signature=…`: each separator's `,` → ` `, ` ` → `,`.
        allows: [(102, b' '), (103, b','), (154, b' '), (155, b',')]
            .into_iter()
            .map(|(at, to)| (auth(), at, to))
            .collect(),
    };
    assert_eq!(user_seen, expected_user);
    let expected_session = Replay {
        positions: [
            (Part::Method, 4),
            (Part::Authority, 70),
            (Part::Target, 12),
            (auth(), 264),
            (header("content-type"), 16),
            (header("x-amz-content-sha256"), 16),
            (header("x-amz-date"), 16),
            (header("x-amz-security-token"), 43),
        ]
        .into(),
        tries: 3805,
        denies: [
            (Part::Method, reasons(&[("sigv4_mismatch", 36)])),
            (
                Part::Authority,
                reasons(&[("sigv4_mismatch", 43), ("unknown_service", 555)]),
            ),
            (
                Part::Target,
                reasons(&[("sigv4_malformed", 11), ("sigv4_mismatch", 91)]),
            ),
            (
                auth(),
                reasons(&[
                    ("sigv4_malformed", 1445),
                    ("sigv4_mismatch", 410),
                    ("sigv4_scope", 292),
                    ("sigv4_unknown_key", 119),
                ]),
            ),
            (header("content-type"), reasons(&[("sigv4_mismatch", 142)])),
            (
                header("x-amz-content-sha256"),
                reasons(&[("sigv4_payload", 143)]),
            ),
            (
                header("x-amz-date"),
                reasons(&[
                    ("sigv4_expired", 9),
                    ("sigv4_malformed", 118),
                    ("sigv4_mismatch", 3),
                ]),
            ),
            // Any other token is no token of this key.
            (
                header("x-amz-security-token"),
                reasons(&[("sigv4_unknown_key", 384)]),
            ),
        ]
        .into(),
        allows: [(102, b' '), (103, b','), (188, b' '), (189, b',')]
            .into_iter()
            .map(|(at, to)| (auth(), at, to))
            .collect(),
    };
    assert_eq!(session_seen, expected_session);
}
