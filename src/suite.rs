//! Policy test suites (`lattice-authz test`): files of cases, each a request, its caller and the
//! decision expected, decided against one world by [`World::authorize`] exactly as `check`
//! decides, and reported as text, JSON or JUnit XML (`report`).
//!
//! It owns the test file format, the resolution of each case's caller (asserted, signed with the
//! world's own secret, or as sent), the comparison with what was expected and the reports. It
//! must not read files, the environment or the clock (texts and `now` are parameters), and it
//! decides nothing itself: every decision is `World::authorize`'s.

mod report;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::SystemTime;

use serde::Deserialize;

use crate::authz::{self, check_bounds};
use crate::lattice::{self, Asserted, Authentication, World};
use crate::pb::ExplainResponse;
use crate::sigv4::{self, CredentialSource as _, KnownCredential as _, Verifier};

pub use report::{json, junit, text};

/// Largest test file read, in bytes.
pub const MAX_SUITE_BYTES: usize = 32 * 1024 * 1024;

/// Most cases one file may hold.
pub const MAX_CASES: usize = 100_000;

/// Why a test file cannot be run: the file or one of its cases is wrong (`EX_DATAERR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuiteError {
    /// The file is not a test file.
    #[error("{file}: {message}")]
    Unreadable {
        /// The file, as named on the command line.
        file: String,
        /// What is wrong, with the parser's position.
        message: String,
    },
    /// The file holds more cases than [`MAX_CASES`].
    #[error("{file}: {count} cases, more than the {MAX_CASES} a file may hold")]
    TooManyCases {
        /// The file.
        file: String,
        /// How many it holds.
        count: usize,
    },
    /// One case cannot be run as written.
    #[error("{file}: case {index} (`{name}`): {message}")]
    Case {
        /// The file.
        file: String,
        /// Index of the case in `cases`, from 0.
        index: usize,
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

// === the file format ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    /// Decide (and sign) as of this time, RFC 3339; default: now.
    #[serde(default)]
    time: Option<String>,
    cases: Vec<RawCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCase {
    name: String,
    request: RawRequest,
    #[serde(default, rename = "as")]
    as_principal: Option<String>,
    #[serde(default)]
    signed_by: Option<String>,
    expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRequest {
    #[serde(default)]
    method: Option<String>,
    host: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    destination_ip: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    layer: Option<String>,
    #[serde(default)]
    status: Option<u32>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// One test file, read and checked (its callers are resolved against a world by [`run`]).
#[derive(Debug)]
pub struct Suite {
    /// The file, as named on the command line.
    pub file: String,
    time: Option<SystemTime>,
    cases: Vec<Case>,
}

/// Who calls in a case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CallerSpec {
    /// The request as sent: its own `Authorization` header (if any) verified.
    AsSent,
    /// `as:` a principal ARN or `anonymous`, asserted.
    As(String),
    /// `signedBy:` an access key id of the world: signed with its secret, then verified.
    SignedBy(String),
}

#[derive(Debug)]
struct Case {
    name: String,
    method: String,
    target: String,
    authority: String,
    /// Lower-case names, with `host` added when the file gives none.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    source: IpAddr,
    destination: Option<IpAddr>,
    caller: CallerSpec,
    expect: RawExpect,
}

impl Suite {
    /// Reads a test file: JSON when `file` ends in `.json`, YAML otherwise.
    pub fn parse(file: &str, text: &str) -> Result<Self, SuiteError> {
        let unreadable = |message: String| SuiteError::Unreadable {
            file: file.to_owned(),
            message,
        };
        let raw: RawSuite = if file.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?
        } else {
            serde_saphyr::from_str(text).map_err(|e| unreadable(e.to_string()))?
        };
        if raw.cases.len() > MAX_CASES {
            return Err(SuiteError::TooManyCases {
                file: file.to_owned(),
                count: raw.cases.len(),
            });
        }
        let time = match &raw.time {
            None => None,
            Some(t) => Some(humantime::parse_rfc3339_weak(t).map_err(|_| {
                unreadable(format!(
                    "time `{t}` is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)"
                ))
            })?),
        };
        let cases = raw
            .cases
            .into_iter()
            .enumerate()
            .map(|(index, raw)| {
                let name = raw.name.clone();
                Case::try_from(raw).map_err(|message| SuiteError::Case {
                    file: file.to_owned(),
                    index,
                    name,
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            file: file.to_owned(),
            time,
            cases,
        })
    }

    /// Number of cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether the file holds no case.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

impl TryFrom<RawCase> for Case {
    type Error = String;

    fn try_from(raw: RawCase) -> Result<Self, String> {
        let RawCase {
            name,
            request,
            as_principal,
            signed_by,
            expect,
        } = raw;
        let RawRequest {
            method,
            host,
            path,
            headers,
            source_ip,
            destination_ip,
            body,
        } = request;
        let caller = match (as_principal, signed_by) {
            (Some(_), Some(_)) => {
                return Err("give `as` or `signedBy`, not both".to_owned());
            }
            (Some(p), None) => CallerSpec::As(p),
            (None, Some(k)) => CallerSpec::SignedBy(k),
            (None, None) => CallerSpec::AsSent,
        };
        if expect.decision != "allow" && expect.decision != "deny" {
            return Err(format!(
                "expect.decision `{}` is neither `allow` nor `deny`",
                expect.decision
            ));
        }
        let ip = |field: &str, text: &str| -> Result<IpAddr, String> {
            text.parse()
                .map_err(|_| format!("request.{field} `{text}` is not an IP address"))
        };
        let source = match source_ip {
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(t) => ip("sourceIp", &t)?,
        };
        let destination = destination_ip
            .map(|t| ip("destinationIp", &t))
            .transpose()?;
        let target = path.unwrap_or_else(|| "/".to_owned());
        if !target.starts_with('/') {
            return Err(format!("request.path `{target}` does not start with `/`"));
        }
        let mut headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        if !headers.iter().any(|(k, _)| k == "host") {
            headers.insert(0, ("host".to_owned(), host.clone()));
        }
        Ok(Self {
            name,
            method: method.unwrap_or_else(|| "GET".to_owned()),
            target,
            authority: host,
            headers,
            body: body.map(String::into_bytes).unwrap_or_default(),
            source,
            destination,
            caller,
            expect,
        })
    }
}

// === running ===

/// One field of a case that differs from what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `decision`, `reason`, `layer`, `status`, `body` or `headers.<name>`.
    pub field: String,
    /// What the file expects.
    pub expected: String,
    /// What the decision says (`(absent)` for a header not set).
    pub actual: String,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The file.
    pub file: String,
    /// The case's name.
    pub name: String,
    /// How the caller was given: `as`, `signedBy` or `as sent`.
    pub caller: &'static str,
    /// Empty when the case passed.
    pub differences: Vec<Difference>,
    /// The decision, as `check --json` prints it.
    pub explained: ExplainResponse,
}

impl Outcome {
    /// Whether the decision is what the case expects.
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Runs every case of `suites` against `world` (with its `verifier`), as of each file's `time` or
/// else `now`. Every caller is resolved first: an unknown principal or access key fails the run
/// before any case does.
pub fn run(
    suites: &[Suite],
    world: &World,
    verifier: &Verifier,
    now: SystemTime,
) -> Result<Vec<Outcome>, SuiteError> {
    let mut asserted: HashMap<&str, Asserted> = HashMap::new();
    for suite in suites {
        for (index, case) in suite.cases.iter().enumerate() {
            let failed = |message: String| SuiteError::Case {
                file: suite.file.clone(),
                index,
                name: case.name.clone(),
                message,
            };
            match &case.caller {
                CallerSpec::AsSent => {}
                CallerSpec::As(name) => {
                    if !asserted.contains_key(name.as_str()) {
                        let resolved = world
                            .asserted(name)
                            .map_err(|e| failed(format!("as: {e}")))?;
                        asserted.insert(name, resolved);
                    }
                }
                CallerSpec::SignedBy(key) => {
                    if world.credential(key, None).is_none() {
                        return Err(failed(format!(
                            "signedBy: `{key}` is not an access key id the world lists"
                        )));
                    }
                }
            }
        }
    }
    let mut outcomes = Vec::with_capacity(suites.iter().map(Suite::len).sum());
    for suite in suites {
        let now = suite.time.unwrap_or(now);
        for case in &suite.cases {
            let authentication = match &case.caller {
                CallerSpec::As(name) => asserted
                    .get(name.as_str())
                    .map_or(Authentication::Verify, Authentication::Assert),
                CallerSpec::AsSent | CallerSpec::SignedBy(_) => Authentication::Verify,
            };
            let explained = decide(world, verifier, case, authentication, now);
            outcomes.push(Outcome {
                file: suite.file.clone(),
                name: case.name.clone(),
                caller: match case.caller {
                    CallerSpec::AsSent => "as sent",
                    CallerSpec::As(_) => "as",
                    CallerSpec::SignedBy(_) => "signedBy",
                },
                differences: compare(&case.expect, &explained),
                explained,
            });
        }
    }
    Ok(outcomes)
}

/// One case decided as `check` decides a request: the same bounds, the same orchestration.
fn decide(
    world: &World,
    verifier: &Verifier,
    case: &Case,
    authentication: Authentication<'_>,
    now: SystemTime,
) -> ExplainResponse {
    let mut headers: Vec<(&str, String)> = case
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    if let CallerSpec::SignedBy(key) = &case.caller {
        sign(world, verifier, key, case, &mut headers, now);
    }
    let headers: Vec<sigv4::Header<'_>> = headers
        .iter()
        .map(|(name, value)| sigv4::Header {
            name,
            value: value.as_bytes(),
        })
        .collect();
    if let Err(invalid) = check_bounds(&headers, &case.target) {
        return authz::explain_refused(&invalid);
    }
    let request = lattice::Request {
        method: &case.method,
        target: &case.target,
        authority: &case.authority,
        scheme: "http",
        headers: &headers,
        body: (!case.body.is_empty()).then_some(&case.body[..]),
        source: case.source,
        destination: case.destination,
        vpc_endpoint: None,
    };
    let decision = world.authorize(
        verifier,
        &request,
        authentication,
        now,
        &mut lattice::Untimed,
    );
    authz::explain(&decision)
}

/// Signs `headers` as an AWS SDK signs a Lattice request (SigV4, every header signed,
/// `UNSIGNED-PAYLOAD` unless the case gives its own `x-amz-content-sha256`), with the secret
/// the world holds for `key`. The string to sign is the verifier's own, so the signature is
/// then checked by the real verifier like any client's. A request the verifier refuses before
/// any signature check keeps its placeholder signature and is denied for what it is.
fn sign(
    world: &World,
    verifier: &Verifier,
    key: &str,
    case: &Case,
    headers: &mut Vec<(&str, String)>,
    now: SystemTime,
) {
    let Some(credential) = world.credential(key, None) else {
        return;
    };
    headers.retain(|(name, _)| {
        !matches!(
            *name,
            "authorization" | "x-amz-date" | "x-amz-security-token"
        )
    });
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let date = stamp.get(..8).unwrap_or_default().to_owned();
    headers.push(("x-amz-date", stamp));
    if !headers.iter().any(|(n, _)| *n == "x-amz-content-sha256") {
        headers.push(("x-amz-content-sha256", sigv4::UNSIGNED_PAYLOAD.to_owned()));
    }
    if let Some(token) = credential.session_token() {
        headers.push((
            "x-amz-security-token",
            String::from_utf8_lossy(token).into_owned(),
        ));
    }
    let mut signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    signed.sort_unstable();
    signed.dedup();
    let region = &*world.region;
    let service = sigv4::LATTICE_SERVICE;
    let head = format!(
        "AWS4-HMAC-SHA256 Credential={key}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature=",
        signed.join(";")
    );
    headers.push(("authorization", format!("{head}{}", "0".repeat(64))));
    let explanation = {
        let view: Vec<sigv4::Header<'_>> = headers
            .iter()
            .map(|(name, value)| sigv4::Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        let http = sigv4::HttpRequest {
            method: &case.method,
            target: &case.target,
            authority: &case.authority,
            headers: &view,
            body: (!case.body.is_empty()).then_some(&case.body[..]),
        };
        verifier.explain(&http, now)
    };
    if let Ok(Some(explanation)) = explanation {
        let signature = sigv4::signature(
            credential.secret(),
            &date,
            region,
            service,
            &explanation.string_to_sign,
        );
        if let Some(last) = headers.last_mut() {
            last.1 = format!("{head}{signature}");
        }
    }
}

/// Every expected field that the decision does not match.
fn compare(expect: &RawExpect, got: &ExplainResponse) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut field = |name: String, expected: &str, actual: &str| {
        if expected != actual {
            out.push(Difference {
                field: name,
                expected: expected.to_owned(),
                actual: actual.to_owned(),
            });
        }
    };
    field("decision".to_owned(), &expect.decision, &got.decision);
    if let Some(reason) = &expect.reason {
        field("reason".to_owned(), reason, &got.reason);
    }
    if let Some(layer) = &expect.layer {
        field("layer".to_owned(), layer, &got.layer);
    }
    if let Some(status) = expect.status {
        field(
            "status".to_owned(),
            &status.to_string(),
            &got.status.to_string(),
        );
    }
    if let Some(body) = &expect.body {
        field("body".to_owned(), body, &got.body);
    }
    for (name, value) in &expect.headers {
        let actual = got
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map_or_else(
                || "(absent)".to_owned(),
                |h| String::from_utf8_lossy(&h.value).into_owned(),
            );
        field(format!("headers.{name}"), value, &actual);
    }
    out
}

#[cfg(test)]
mod tests;
