//! Scenario fixtures: the VPC endpoint workshop and the association-based design
//! (tests/data/decisions/workshop.yaml) and one case per condition key
//! (tests/data/decisions/condition_keys.yaml).

use std::collections::BTreeMap;

use lattice_authz::lattice::spec::{DocumentSpec, InlinePolicySpec, WorldSpec};
use serde::Deserialize;

use crate::support::{self, Creds, Harness, HeaderMode, check_request_to};

#[derive(Debug, Deserialize)]
struct Expect {
    status: u16,
    reason: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WorkshopCase {
    name: String,
    source: String,
    #[serde(default)]
    destination: Option<String>,
    method: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    host: Option<String>,
    expect: Expect,
}

const ADMIN: Creds = Creds {
    access_key_id: "AKIAWORKSHOPADMIN001",
    secret: "WorkshopAdminSecretEXAMPLEEXAMPLEEXAMPLE1",
    token: None,
};
const ORDERS_HOST: &str = "orders-0123456789abcdef1.7d67968.vpc-lattice-svcs.us-east-1.on.aws";

#[test]
fn vpc_endpoint_workshop_and_associations() {
    #[derive(Deserialize)]
    struct File {
        cases: Vec<WorkshopCase>,
    }
    let file: File = serde_saphyr::from_str(
        &std::fs::read_to_string("tests/data/decisions/workshop.yaml").unwrap(),
    )
    .unwrap();
    let harness =
        Harness::world(&std::fs::read_to_string("tests/data/worlds/workshop.yaml").unwrap());
    for case in &file.cases {
        let host = match (&case.host, case.port) {
            (Some(h), _) => h.clone(),
            (None, Some(port)) => format!("{ORDERS_HOST}:{port}"),
            (None, None) => ORDERS_HOST.to_owned(),
        };
        let headers = support::sign_lattice(
            &case.method,
            &host,
            "/orders",
            &[],
            ADMIN,
            "us-east-1",
            support::test_time(),
        );
        let destination = case.destination.as_deref().unwrap_or("10.9.9.9");
        let got = harness.check(&check_request_to(
            &case.method,
            "/orders",
            &headers,
            &case.source,
            destination,
            HeaderMode::Raw,
        ));
        assert_eq!(
            (got.status, got.reason.as_str()),
            (case.expect.status, case.expect.reason.as_str()),
            "{}: {got:#?}",
            case.name
        );
        if let Some(body) = &case.expect.body {
            assert_eq!(&got.body, body, "{}", case.name);
        }
    }
}

#[derive(Debug, Deserialize)]
struct KeyCase {
    name: String,
    #[serde(default)]
    caller: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    resource: Option<String>,
    condition: serde_json::Value,
    allow: bool,
}

const TABLE_HOST: &str = "rates-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws";
const CALLER: Creds = Creds {
    access_key_id: "AKIACALLEREXAMPLE001",
    secret: "CallerSecretKeyEXAMPLEEXAMPLEEXAMPLE0001",
    token: None,
};

#[test]
fn every_condition_key() {
    #[derive(Deserialize)]
    struct File {
        cases: Vec<KeyCase>,
    }
    let file: File = serde_saphyr::from_str(
        &std::fs::read_to_string("tests/data/decisions/condition_keys.yaml").unwrap(),
    )
    .unwrap();
    let base: WorldSpec = serde_saphyr::from_str(
        &std::fs::read_to_string("tests/data/decisions/table_world.yaml").unwrap(),
    )
    .unwrap();
    let invoke = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}"#;
    assert!(file.cases.len() >= 40);
    for case in &file.cases {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
                "Resource": case.resource.as_deref().unwrap_or("*"), "Condition": case.condition,
            }],
        });
        let mut world = base.clone();
        world.services[0].auth_type = "AWS_IAM".into();
        world.services[0].auth_policy = Some(DocumentSpec {
            document: Some(policy),
            document_file: None,
            source: None,
        });
        world.users[0].policies = vec![InlinePolicySpec {
            name: "invoke".into(),
            document: DocumentSpec {
                document: Some(invoke.into()),
                document_file: None,
                source: None,
            },
        }];
        let harness = Harness::world(&serde_json::to_string(&world).unwrap());
        let method = case.method.as_deref().unwrap_or("GET");
        let path = case.path.as_deref().unwrap_or("/");
        let host = case
            .port
            .map_or_else(|| TABLE_HOST.to_owned(), |p| format!("{TABLE_HOST}:{p}"));
        let extra: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let headers = match case.caller.as_deref() {
            Some("anonymous") => support::unsigned(&host, &extra),
            _ => support::sign_lattice(
                method,
                &host,
                path,
                &extra,
                CALLER,
                "us-west-2",
                support::test_time(),
            ),
        };
        let got = harness.check(&check_request_to(
            method,
            path,
            &headers,
            "10.0.0.5",
            "10.0.0.1",
            HeaderMode::Raw,
        ));
        let expected = if case.allow {
            (200, "allowed")
        } else {
            (403, "no_service_policy")
        };
        assert_eq!(
            (got.status, got.reason.as_str()),
            expected,
            "{}: {got:#?}",
            case.name
        );
    }
}
