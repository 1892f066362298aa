//! Decision fixtures: shared/spec/example-world.md's expected decisions and every row of
//! lattice-auth §2.10, through the whole Check (service struct, no socket), in both of Envoy's
//! header modes. Bodies and identity headers are compared byte for byte.

use std::collections::BTreeMap;

use lattice_authz::lattice::spec::{DocumentSpec, InlinePolicySpec, WorldSpec};
use serde::Deserialize;

use crate::support::{self, Creds, Harness, HeaderMode, Summary, check_request};

#[derive(Debug, Deserialize)]
struct Expect {
    status: u16,
    reason: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    exception: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ExampleCase {
    row: u32,
    caller: String,
    #[serde(default)]
    tamper: Option<String>,
    source: String,
    method: String,
    host: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    expect: Expect,
}

fn creds(name: &str) -> Option<Creds> {
    match name {
        "anonymous" => None,
        "latticeuser" => Some(support::LATTICEUSER),
        "latticeclient" => Some(support::LATTICECLIENT),
        "noperms" => Some(support::NOPERMS),
        "session-b" => Some(support::SESSION_B),
        "session-c" => Some(support::SESSION_C),
        other => panic!("unknown caller {other}"),
    }
}

/// Flips one hex digit of the `Signature=` value.
fn tamper_signature(headers: &mut [(String, String)]) {
    let (_, auth) = headers
        .iter_mut()
        .find(|(k, _)| k == "authorization")
        .unwrap();
    let at = auth.find("Signature=").unwrap() + "Signature=".len();
    let flipped = if &auth[at..=at] == "0" { "1" } else { "0" };
    auth.replace_range(at..=at, flipped);
}

fn assert_expected(name: &str, got: &Summary, expect: &Expect, body: Option<&String>) {
    assert_eq!(got.status, expect.status, "{name}: {got:#?}");
    assert_eq!(got.reason, expect.reason, "{name}: {got:#?}");
    if expect.status == 200 {
        assert_eq!(got.grpc_code, 0, "{name}");
        if !expect.headers.is_empty() {
            assert_eq!(got.headers, expect.headers, "{name}");
        }
    } else {
        assert_eq!(got.grpc_code, 7, "{name}: PERMISSION_DENIED");
        assert_eq!(Some(&got.body), body, "{name}");
        let exception = expect
            .exception
            .as_deref()
            .unwrap_or("AccessDeniedException");
        assert_eq!(
            got.headers.get("x-amzn-errortype").map(String::as_str),
            Some(exception),
            "{name}"
        );
        assert_eq!(
            got.headers.get("content-type").map(String::as_str),
            Some("text/plain"),
            "{name}"
        );
    }
}

/// The example world's rows (`tests/data/decisions/example_world.yaml`), each with the header
/// lines of its request.
fn example_rows() -> Vec<(ExampleCase, Vec<(String, String)>)> {
    let text = std::fs::read_to_string("tests/data/decisions/example_world.yaml").unwrap();
    #[derive(Deserialize)]
    struct File {
        cases: Vec<ExampleCase>,
    }
    let file: File = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(file.cases.len(), 8);
    file.cases
        .into_iter()
        .map(|case| {
            let extra: Vec<(&str, &str)> = case
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut headers = match creds(&case.caller) {
                None => support::unsigned(&case.host, &extra),
                Some(c) => support::signed(&case.method, &case.host, &case.path, &extra, c),
            };
            if case.tamper.as_deref() == Some("signature") {
                tamper_signature(&mut headers);
            }
            (case, headers)
        })
        .collect()
}

#[test]
fn example_world_rows() {
    let harness = Harness::example();
    for (case, headers) in example_rows() {
        for mode in [HeaderMode::Raw, HeaderMode::Joined] {
            let got = harness.check(&check_request(
                &case.method,
                &case.path,
                &headers,
                &case.source,
                mode,
            ));
            assert_expected(
                &format!("row {} ({mode:?})", case.row),
                &got,
                &case.expect,
                case.expect.body.as_ref(),
            );
        }
    }
}

/// `dynamic_metadata: false` leaves the metadata out of every answer and changes nothing else.
#[test]
fn example_world_rows_without_dynamic_metadata() {
    let with = Harness::example();
    let settings = lattice_authz::config::Settings {
        dynamic_metadata: false,
        ..lattice_authz::config::Settings::default()
    };
    let without = Harness::with(None, settings);
    for (case, headers) in example_rows() {
        let request = check_request(
            &case.method,
            &case.path,
            &headers,
            &case.source,
            HeaderMode::Raw,
        );
        let mut full = with.service.check_request(&request).unwrap();
        let bare = without.service.check_request(&request).unwrap();
        let fields = full
            .dynamic_metadata
            .take()
            .map(|m| m.fields.into_keys().collect());
        assert_eq!(
            fields,
            Some(std::collections::BTreeSet::from(
                ["decision", "decision_id", "layer", "principal", "reason"].map(String::from)
            )),
            "row {}",
            case.row
        );
        assert_eq!(bare.dynamic_metadata, None, "row {}", case.row);
        assert_eq!(full, bare, "row {}", case.row);
    }
}

#[derive(Debug, Deserialize)]
struct Side {
    #[serde(rename = "authType")]
    auth_type: String,
    #[serde(default)]
    policy: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TableCase {
    name: String,
    network: Side,
    service: Side,
    #[serde(default)]
    identity: Vec<String>,
    caller: String,
    #[serde(default)]
    path: Option<String>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
struct Table {
    policies: BTreeMap<String, String>,
    cases: Vec<TableCase>,
}

const TABLE_HOST: &str = "rates-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws";
const CALLER: Creds = Creds {
    access_key_id: "AKIACALLEREXAMPLE001",
    secret: "CallerSecretKeyEXAMPLEEXAMPLEEXAMPLE0001",
    token: None,
};

#[test]
fn lattice_decision_table() {
    let table: Table = serde_saphyr::from_str(
        &std::fs::read_to_string("tests/data/decisions/decision_table.yaml").unwrap(),
    )
    .unwrap();
    let base: WorldSpec = serde_saphyr::from_str(
        &std::fs::read_to_string("tests/data/decisions/table_world.yaml").unwrap(),
    )
    .unwrap();
    let doc = |name: &String| DocumentSpec {
        document: Some(serde_json::Value::String(
            table
                .policies
                .get(name)
                .unwrap_or_else(|| panic!("no policy {name}"))
                .clone(),
        )),
        document_file: None,
        source: None,
    };
    assert!(table.cases.len() >= 20);
    for case in &table.cases {
        let mut world = base.clone();
        world.service_networks[0]
            .auth_type
            .clone_from(&case.network.auth_type);
        world.service_networks[0].auth_policy = case.network.policy.as_ref().map(doc);
        world.services[0]
            .auth_type
            .clone_from(&case.service.auth_type);
        world.services[0].auth_policy = case.service.policy.as_ref().map(doc);
        world.users[0].policies = case
            .identity
            .iter()
            .map(|p| InlinePolicySpec {
                name: p.clone(),
                document: doc(p),
            })
            .collect();
        let harness = Harness::world(&serde_json::to_string(&world).unwrap());
        let path = case.path.as_deref().unwrap_or("/");
        let (mut headers, caller) = match case.caller.as_str() {
            "anonymous" => (support::unsigned(TABLE_HOST, &[]), "anonymous"),
            "signed" | "bad-signature" => (
                support::sign_lattice(
                    "GET",
                    TABLE_HOST,
                    path,
                    &[],
                    CALLER,
                    "us-west-2",
                    support::test_time(),
                ),
                "arn:aws:iam::123456789012:user/caller",
            ),
            other => panic!("unknown caller {other}"),
        };
        if case.caller == "bad-signature" {
            tamper_signature(&mut headers);
        }
        let resource = format!(
            "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0{path}"
        );
        let body = case.expect.body.as_ref().map(|b| {
            b.replace("{caller}", caller)
                .replace("{resource}", &resource)
        });
        let exception = case
            .expect
            .body
            .as_ref()
            .and_then(|b| b.split(':').next())
            .map(str::to_owned);
        let expect = Expect { exception, ..serde_saphyr::from_str(&serde_json::to_string(&serde_json::json!({
            "status": case.expect.status, "reason": case.expect.reason, "headers": case.expect.headers,
        })).unwrap()).unwrap() };
        for mode in [HeaderMode::Raw, HeaderMode::Joined] {
            let got = harness.check(&check_request("GET", path, &headers, "10.0.0.5", mode));
            assert_expected(
                &format!("{} ({mode:?})", case.name),
                &got,
                &expect,
                body.as_ref(),
            );
        }
    }
}
