//! The policy author's workbench: `check --as` (a caller asserted, not verified), `Explain` with
//! an asserted caller and a destination address, and `lattice-authz test` suites.

use std::process::{Command, Output};
use std::sync::Arc;

use lattice_authz::authz::{DiagnosticsService, FixedClock};

use crate::support;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lattice-authz"))
        .args(args)
        .env_remove("LATTICE_AUTHZ_SETTINGS")
        .env_remove("LATTICE_AUTHZ_CONFIG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const NGINX_REQUEST: &str = "tests/data/check/anonymous_nginx.req";

#[test]
fn check_as_a_user_decides_with_its_policies_and_says_it_was_asserted() {
    let out = run(&[
        "check",
        "--json",
        "--as",
        "arn:aws:iam::917561075114:user/latticeuser",
        NGINX_REQUEST,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decision"], "allow");
    assert_eq!(
        json["principal"],
        "arn:aws:iam::917561075114:user/latticeuser"
    );
    assert_eq!(
        json["headers"]["x-amzn-lattice-identity"],
        "Principal=arn:aws:iam::917561075114:user/latticeuser; PrincipalOrgID=o-a1b2c3d4e5; PrincipalOrgPath=o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/; Type=AWS_IAM"
    );
    assert_eq!(
        json["trace"][1],
        serde_json::json!({
            "layer": "authentication",
            "outcome": "asserted",
            "detail": "asserted, not verified: arn:aws:iam::917561075114:user/latticeuser",
        })
    );
}

#[test]
fn check_as_a_role_decides_as_its_session_named_asserted() {
    let out = run(&[
        "check",
        "--json",
        "--as",
        "arn:aws:iam::111122223333:role/app",
        NGINX_REQUEST,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["reason"], "no_service_policy");
    assert_eq!(
        json["body"],
        "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/app/asserted is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-08c822987a0b6ab7d/ because no service-based policy allows the vpc-lattice-svcs:Invoke action"
    );
}

#[test]
fn check_as_an_unlisted_session_of_a_role_uses_the_role_and_its_account() {
    // Row 5 of the example world, asserted: the outsider's account is in no organization.
    let request = "tests/data/test/hello_post.req";
    let out = run(&[
        "check",
        "--json",
        "--source-ip",
        "127.0.2.1",
        "--as",
        "arn:aws:sts::444455556666:assumed-role/outsider/any-name",
        request,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["reason"], "no_network_policy");
    assert_eq!(
        json["principal"],
        "arn:aws:sts::444455556666:assumed-role/outsider/any-name"
    );
}

#[test]
fn check_as_anonymous_ignores_the_signature() {
    let out = run(&[
        "check",
        "--as",
        "anonymous",
        "tests/data/test/nginx_signed_bad.req",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("\n  authentication   asserted       asserted, not verified: anonymous\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nreason:    no_service_policy\n"),
        "{stdout}"
    );
}

#[test]
fn check_as_an_unknown_principal_exits_64_with_the_closest_name() {
    let out = run(&[
        "check",
        "--as",
        "arn:aws:iam::917561075114:user/latticeusr",
        NGINX_REQUEST,
    ]);
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        text(&out.stderr),
        "lattice-authz: --as: `arn:aws:iam::917561075114:user/latticeusr` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`); did you mean `arn:aws:iam::917561075114:user/latticeuser`?\n"
    );
}

fn explain_request(as_principal: &str, destination_ip: &str) -> lattice_authz::pb::ExplainRequest {
    lattice_authz::pb::ExplainRequest {
        method: "GET".into(),
        path: "/".into(),
        authority: support::NGINX_HOST.into(),
        headers: vec![],
        source_ip: "127.0.0.1".into(),
        time: String::new(),
        body: vec![],
        as_principal: as_principal.into(),
        destination_ip: destination_ip.into(),
    }
}

#[test]
fn explain_decides_as_an_asserted_principal_and_refuses_an_unknown_one() {
    let support::Harness { store, .. } = support::Harness::example();
    let service = DiagnosticsService::new(
        store,
        Arc::new(lattice_authz::app::new_metrics("test")),
        Arc::new(FixedClock(support::test_time())),
    );
    let explained = service
        .explain_request(&explain_request(
            "arn:aws:iam::917561075114:user/latticeuser",
            "",
        ))
        .unwrap();
    assert_eq!(
        (
            explained.decision.as_str(),
            explained.principal.as_str(),
            explained.trace[1].outcome.as_str()
        ),
        (
            "allow",
            "arn:aws:iam::917561075114:user/latticeuser",
            "asserted"
        )
    );
    let unknown = service
        .explain_request(&explain_request("arn:aws:iam::917561075114:user/eve", ""))
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        unknown.message(),
        "`arn:aws:iam::917561075114:user/eve` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`)"
    );
    let bad_destination = service
        .explain_request(&explain_request("", "not-an-ip"))
        .unwrap_err();
    assert_eq!(
        bad_destination.message(),
        "`not-an-ip` is not an IP address"
    );
    // Without `as_principal` the request is verified as sent: unsigned, anonymous.
    let verified = service.explain_request(&explain_request("", "")).unwrap();
    assert_eq!(verified.principal, "anonymous");
    assert_eq!(verified.trace[1].outcome, "skipped");
}

const EXAMPLE_TESTS: &str = "tests/data/test/example-world.yaml";

#[test]
fn the_example_worlds_test_file_passes_case_by_case() {
    let out = run(&["test", EXAMPLE_TESTS]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = [
        "1: anonymous to nginx is denied by its service policy",
        "2: latticeuser, signed, is allowed into nginx",
        "3: latticeclient, signed, is not named by nginx's policy",
        "4: a role session of account B posts to hello",
        "5: a role session of account C is outside the organization",
        "6: noperms has no identity-based policy",
        "7: anonymous from account C's VPC fails the organization guardrail",
        "8: a signature that does not match is refused",
        "as latticeuser: allowed into nginx",
        "as any session of role app, from account B's VPC: allowed into hello",
        "as anonymous: hello allows nobody without a signature from account C",
    ];
    let mut expected: String = names
        .iter()
        .map(|n| format!("ok    {EXAMPLE_TESTS}: {n}\n"))
        .collect();
    expected.push_str("\n11 passed, 0 failed, 11 case(s)\n");
    assert_eq!(text(&out.stdout), expected);
}

/// A test file in a temporary directory.
fn test_file(name: &str, body: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

const FAILING: &str = "time: 2026-01-01T00:00:00Z
cases:
  - name: noperms expected to pass
    request: {host: hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws}
    as: arn:aws:iam::917561075114:user/noperms
    expect: {decision: allow, layer: none}
  - name: anonymous to hello from account A
    request: {host: hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws}
    expect: {decision: allow}
";

#[test]
fn a_failing_case_shows_what_differed_with_the_trace_and_exits_1() {
    let (dir, path) = test_file("failing.yaml", FAILING);
    let junit = dir.path().join("junit.xml");
    let out = run(&["test", "--junit", junit.to_str().unwrap(), &path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let expected = format!(
        "FAIL  {path}: noperms expected to pass
ok    {path}: anonymous to hello from account A

--- FAIL {path}: noperms expected to pass (as)
  decision: expected `allow`, got `deny`
  layer: expected `none`, got `identity_policy`
  decided: deny 403 reason no_identity_policy at layer identity_policy, principal arn:aws:iam::917561075114:user/noperms
  body: AccessDeniedException: User: arn:aws:iam::917561075114:user/noperms is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-0a11e1c0ffee00001/ because no identity-based policy allows the vpc-lattice-svcs:Invoke action
  trace:
    association      allow          \n    authentication   asserted       asserted, not verified: arn:aws:iam::917561075114:user/noperms
    network_policy   allow          auth policy of sn-0123456789abcdef0: allowed by statement 0
    service_policy   skipped        auth type NONE
    identity_policy  no_match       no identity-based policies attached

1 passed, 1 failed, 2 case(s)
"
    );
    assert_eq!(text(&out.stdout), expected);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        xml,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<testsuites name=\"lattice-authz test\" tests=\"2\" failures=\"1\">
  <testsuite name=\"{path}\" tests=\"2\" failures=\"1\">
    <testcase classname=\"{path}\" name=\"noperms expected to pass\">
      <failure message=\"decision: expected `allow`, got `deny`; layer: expected `none`, got `identity_policy`\">decision: expected `allow`, got `deny`
layer: expected `none`, got `identity_policy`
association allow \nauthentication asserted asserted, not verified: arn:aws:iam::917561075114:user/noperms
network_policy allow auth policy of sn-0123456789abcdef0: allowed by statement 0
service_policy skipped auth type NONE
identity_policy no_match no identity-based policies attached</failure>
    </testcase>
    <testcase classname=\"{path}\" name=\"anonymous to hello from account A\"/>
  </testsuite>
</testsuites>
"
        )
    );
}

#[test]
fn the_json_report_is_one_object() {
    let (_dir, path) = test_file("failing.json", &{
        // The same cases, as JSON.
        let yaml: serde_json::Value = serde_saphyr::from_str(FAILING).unwrap();
        yaml.to_string()
    });
    let out = run(&["test", "--json", &path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["passed"].as_u64(), json["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        json["cases"][0]["differences"],
        serde_json::json!([
            {"field": "decision", "expected": "allow", "actual": "deny"},
            {"field": "layer", "expected": "none", "actual": "identity_policy"},
        ])
    );
    assert_eq!(json["cases"][1]["passed"], true);
    assert_eq!(json["cases"][1]["reason"], "allowed");
}

#[test]
fn unreadable_test_files_exit_65_and_a_world_that_does_not_load_64() {
    let (_dir, path) = test_file(
        "unknown.yaml",
        "cases:\n  - name: c\n    request: {host: h}\n    as: arn:aws:iam::917561075114:user/nobody\n    expect: {decision: deny}\n",
    );
    let out = run(&["test", &path]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        text(&out.stderr),
        format!(
            "lattice-authz: {path}: case 0 (`c`): as: `arn:aws:iam::917561075114:user/nobody` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`)\n"
        )
    );
    assert_eq!(out.stdout, b"");
    let out = run(&["test", "tests/data/test/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(65));
    let out = run(&[
        "test",
        "--config",
        "tests/data/test/no-such-world.yaml",
        EXAMPLE_TESTS,
    ]);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&["test"]);
    assert_eq!(out.status.code(), Some(2), "clap's own usage error");
}
