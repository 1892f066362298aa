//! An offline decision is the decision: every bound the gRPC Check applies, `check` and the
//! Explain call apply too (`tests/data/check/bounds.yaml`).

use std::process::Command;
use std::sync::Arc;

use lattice_authz::authz::{DiagnosticsService, FixedClock};
use serde::Deserialize;

use super::support::{self, Harness, HeaderMode};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    headers: usize,
    #[serde(default)]
    value_bytes: usize,
    #[serde(default)]
    path_bytes: usize,
    #[serde(default)]
    deny: Option<String>,
    #[serde(default)]
    allow: bool,
}

/// (status, body) as each path answers.
type Answer = (u32, String);

impl Case {
    fn path(&self) -> String {
        let mut path = String::from("/");
        path.push_str(&"p".repeat(self.path_bytes.saturating_sub(1)));
        path
    }

    /// The extra header lines, host not included.
    fn extra_headers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = (0..self.headers)
            .map(|i| (format!("x-h-{i}"), "v".to_owned()))
            .collect();
        if self.value_bytes > 0 {
            out.push(("x-big".to_owned(), "b".repeat(self.value_bytes)));
        }
        out
    }

    fn expected(&self) -> Answer {
        match (&self.deny, self.allow) {
            (Some(body), false) => (403, body.clone()),
            (None, true) => (200, String::new()),
            _ => panic!("{}: give exactly one of `deny` and `allow`", self.name),
        }
    }
}

fn by_grpc(harness: &Harness, case: &Case, mode: HeaderMode) -> Answer {
    let mut headers = vec![("host".to_owned(), support::HELLO_HOST.to_owned())];
    headers.extend(case.extra_headers());
    let request = support::check_request("GET", &case.path(), &headers, "127.0.0.1", mode);
    let summary = harness.check(&request);
    if summary.status == 403 {
        assert_eq!(summary.reason, "bad_request", "{}", case.name);
    }
    (u32::from(summary.status), summary.body)
}

fn by_check(case: &Case) -> Answer {
    let mut raw = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n",
        case.path(),
        support::HELLO_HOST
    );
    for (name, value) in case.extra_headers() {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.http");
    std::fs::write(&file, raw).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lattice-authz"))
        .args(["check", "--json", "--source-ip", "127.0.0.1"])
        .arg(&file)
        .env_remove("LATTICE_AUTHZ_SETTINGS")
        .env_remove("LATTICE_AUTHZ_CONFIG")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let status = u32::try_from(json["status"].as_u64().unwrap()).unwrap();
    let expected_exit = if status == 200 { 0 } else { 3 };
    assert_eq!(out.status.code(), Some(expected_exit), "{}", case.name);
    if status == 403 {
        assert_eq!(json["reason"], "bad_request", "{}", case.name);
        assert_eq!(json["layer"], "request", "{}", case.name);
    }
    (status, json["body"].as_str().unwrap().to_owned())
}

fn by_explain(service: &DiagnosticsService, case: &Case) -> Answer {
    let explained = service
        .explain_request(&lattice_authz::pb::ExplainRequest {
            method: "GET".into(),
            path: case.path(),
            authority: support::HELLO_HOST.into(),
            headers: case
                .extra_headers()
                .into_iter()
                .map(|(name, value)| lattice_authz::pb::Header {
                    name,
                    value: value.into_bytes(),
                })
                .collect(),
            source_ip: "127.0.0.1".into(),
            time: String::new(),
            body: vec![],
            as_principal: String::new(),
            destination_ip: String::new(),
        })
        .unwrap();
    (explained.status, explained.body)
}

#[test]
fn check_explain_and_the_grpc_check_apply_the_same_bounds() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/check/bounds.yaml"
    ))
    .unwrap();
    let file: File = serde_saphyr::from_str(&text).unwrap();
    assert!(file.cases.len() >= 6);
    let harness = Harness::example();
    let explain = DiagnosticsService::new(
        harness.store.clone(),
        Arc::new(lattice_authz::app::new_metrics("test")),
        Arc::new(FixedClock(support::test_time())),
    );
    for case in &file.cases {
        let expected = case.expected();
        assert_eq!(
            by_grpc(&harness, case, HeaderMode::Joined),
            expected,
            "{} (joined)",
            case.name
        );
        assert_eq!(
            by_grpc(&harness, case, HeaderMode::Raw),
            expected,
            "{} (raw)",
            case.name
        );
        assert_eq!(by_check(case), expected, "{} (check)", case.name);
        assert_eq!(
            by_explain(&explain, case),
            expected,
            "{} (Explain)",
            case.name
        );
    }
}
