//! Kubernetes input as kubectl writes it: a world directory holding a `kind: List` (what
//! `kubectl get -o yaml` prints) with an `IAMAuthPolicy`, the `Gateway` and the `HTTPRoute` it
//! targets; the policy applied and named in the trace, the other kinds skipped, and every
//! problem naming the `IAMAuthPolicy` it is about. The sample is `deploy/kubernetes-input/`.

use std::path::Path;
use std::process::{Command, Output};

/// The sample world directory shipped under `deploy/`.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes-input");
const INVENTORY: &str =
    "inventory-store-0d0d0d0d0d0d0d0d0.7d67968.vpc-lattice-svcs.us-west-2.on.aws";

fn lattice_authz(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lattice-authz"))
        .args(args)
        .env_remove("LATTICE_AUTHZ_SETTINGS")
        .env_remove("LATTICE_AUTHZ_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// `check --json` of an anonymous `method` request to the inventory service from the sample's
/// VPC, against the world in `dir`: (exit code, the JSON).
fn check(dir: &str, method: &str) -> (Option<i32>, serde_json::Value) {
    let request = format!("{method} /items HTTP/1.1\r\nHost: {INVENTORY}\r\n\r\n");
    let out = lattice_authz(
        &[
            "check",
            "--json",
            "--config",
            dir,
            "--source-ip",
            "10.0.1.5",
            "-",
        ],
        request.as_bytes(),
    );
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

/// The service layer's line of a `check --json` trace.
fn service_policy(json: &serde_json::Value) -> String {
    json["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["layer"] == "service_policy")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `validate --json` of the world in `dir`: (exit code, each problem as `severity pointer:
/// message`, file names left out).
fn validate(dir: &Path) -> (Option<i32>, Vec<String>) {
    let out = lattice_authz(
        &["validate", "--json", "--config", dir.to_str().unwrap()],
        b"",
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}: {}",
                p["severity"].as_str().unwrap(),
                p["pointer"].as_str().unwrap(),
                p["message"].as_str().unwrap()
            )
        })
        .collect();
    (out.status.code(), problems)
}

#[test]
fn the_sample_list_applies_its_policy_and_skips_the_gateway_and_route() {
    let (code, problems) = validate(Path::new(SAMPLE));
    assert_eq!((code, problems), (Some(0), Vec::<String>::new()));

    let (code, get) = check(SAMPLE, "GET");
    assert_eq!(code, Some(0), "{get:#}");
    assert_eq!(get["decision"], "allow");
    assert_eq!(
        service_policy(&get),
        "auth policy of svc-0d0d0d0d0d0d0d0d0 (IAMAuthPolicy store/inventory-read-only): \
         allowed by statement 0 (Sid ReadOnly)"
    );
    let (code, post) = check(SAMPLE, "POST");
    assert_eq!(code, Some(3), "{post:#}");
    assert_eq!(post["reason"], "no_service_policy");
    assert_eq!(
        service_policy(&post),
        "auth policy of svc-0d0d0d0d0d0d0d0d0 (IAMAuthPolicy store/inventory-read-only): \
         no statement applies; closest is statement 0 (Sid ReadOnly), whose condition \
         StringEquals on vpc-lattice-svcs:RequestMethod is false"
    );
}

/// The sample's world beside `objects`, in a directory of its own.
fn world_with(objects: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(SAMPLE).join("world.yaml"),
        dir.path().join("world.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("objects.yaml"), objects).unwrap();
    dir
}

#[test]
fn problems_name_the_iam_auth_policy_and_where_it_is_in_the_list() {
    let dir = world_with(
        r#"apiVersion: v1
kind: List
items:
  - apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: inventory, namespace: store}
  - apiVersion: application-networking.k8s.aws/v1alpha1
    kind: IAMAuthPolicy
    metadata: {name: broken, namespace: store}
    spec:
      targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}
      policy: '{"Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}'
  - apiVersion: application-networking.k8s.aws/v1beta1
    kind: IAMAuthPolicy
    metadata: {name: future, namespace: store}
  - metadata: {name: nameless}
  - apiVersion: v1
    kind: List
    items: []
---
kind: IAMAuthPolicy
metadata: {name: no-version}
"#,
    );
    let (code, problems) = validate(dir.path());
    assert_eq!(code, Some(1), "{problems:#?}");
    assert_eq!(
        problems,
        [
            "error [document 0]/items/2: IAMAuthPolicy of `application-networking.k8s.aws/v1beta1`, \
             which the AWS Gateway API Controller does not serve (it serves \
             application-networking.k8s.aws/v1alpha1)",
            "error [document 0]/items/3: an item of a List without a `kind`",
            "error [document 0]/items/4: a List inside a List",
            "error [document 1]: `kind: IAMAuthPolicy` without an `apiVersion`: neither a \
             Kubernetes object nor a part of a world",
        ]
    );

    // A policy whose target is not in the world, then one whose document is not a policy: the
    // problems point into the List item and name the IAMAuthPolicy.
    let route = "  - apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: inventory, namespace: store}
";
    let policy = |name: &str, route: &str, document: &str| {
        format!(
            "  - apiVersion: application-networking.k8s.aws/v1alpha1
    kind: IAMAuthPolicy
    metadata: {{name: {name}, namespace: store}}
    spec:
      targetRef: {{group: gateway.networking.k8s.io, kind: HTTPRoute, name: {route}}}
      policy: '{document}'
"
        )
    };
    let list = |items: &[String]| format!("apiVersion: v1\nkind: List\nitems:\n{}", items.concat());
    let dir = world_with(&list(&[
        route.to_owned(),
        policy("stray", "checkout", "{}"),
    ]));
    assert_eq!(
        validate(dir.path()),
        (
            Some(1),
            vec![
                "error [document 0]/items/1/spec/targetRef: IAMAuthPolicy `store/stray` targets \
                 `HTTPRoute` `checkout`, but no service is named `checkout-store` (TargetNotFound)"
                    .to_owned()
            ]
        )
    );
    let dir = world_with(&list(&[
        route.to_owned(),
        policy(
            "broken",
            "inventory",
            r#"{"Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}"#,
        ),
    ]));
    assert_eq!(
        validate(dir.path()),
        (
            Some(1),
            vec![
                "warning [document 0]/items/1/spec/policy: IAMAuthPolicy `store/broken`: The \
                 policy has no Version element, so it is read with 2008-10-17 rules: `${...}` \
                 policy variables are literal text."
                    .to_owned(),
                "error [document 0]/items/1/spec/policy/Statement/0/Effect: IAMAuthPolicy \
                 `store/broken`: Syntax errors in policy. Effect must be \"Allow\" or \"Deny\", \
                 found `Perhaps`. (statement 0)"
                    .to_owned(),
            ]
        )
    );
}
