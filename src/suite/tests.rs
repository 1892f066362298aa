use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::lattice::WorldOptions;

const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

fn world() -> (World, Arc<Verifier>) {
    let world = World::example(&WorldOptions::default()).unwrap();
    let verifier = Arc::new(Verifier::new(sigv4::Settings::lattice(&world.region)));
    (world, verifier)
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600) // 2026-01-01T00:00:00Z
}

fn suite(text: &str) -> Suite {
    Suite::parse("t.yaml", text).unwrap()
}

#[test]
fn each_kind_of_caller_is_decided_and_compared() {
    let (world, verifier) = world();
    let text = format!(
        r#"
cases:
  - name: signed by latticeuser
    request: {{host: {NGINX}}}
    signedBy: AKIAIOSFODNN7EXAMPLE
    expect: {{decision: allow, reason: allowed, layer: none, status: 200,
              headers: {{x-amzn-source-vpc: vpc-0a0a0a0a0a0a0a0a0}}}}
  - name: latticeclient asserted
    request: {{host: {NGINX}, path: /x?y=1}}
    as: arn:aws:iam::917561075114:user/latticeclient
    expect: {{decision: deny, reason: no_service_policy, layer: service_policy}}
  - name: sent unsigned, wrongly expected to pass
    request: {{host: {NGINX}}}
    expect: {{decision: allow, headers: {{x-amzn-lattice-identity: x}}}}
"#
    );
    let outcomes = run(&[suite(&text)], &world, &verifier, now()).unwrap();
    let summary: Vec<_> = outcomes
        .iter()
        .map(|o| (o.name.as_str(), o.caller, o.differences.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("signed by latticeuser", "signedBy", vec![]),
            ("latticeclient asserted", "as", vec![]),
            (
                "sent unsigned, wrongly expected to pass",
                "as sent",
                vec![
                    Difference {
                        field: "decision".into(),
                        expected: "allow".into(),
                        actual: "deny".into(),
                    },
                    Difference {
                        field: "headers.x-amzn-lattice-identity".into(),
                        expected: "x".into(),
                        actual: "(absent)".into(),
                    },
                ]
            ),
        ]
    );
    assert_eq!(
        outcomes[0].explained.principal,
        "arn:aws:iam::917561075114:user/latticeuser"
    );
    assert_eq!(outcomes[0].explained.trace[1].outcome, "allow");
}

#[test]
fn a_signed_case_goes_through_the_real_verifier() {
    let (world, verifier) = world();
    // The session token of a listed session is sent and checked; the file's time is the signing
    // time, and the world's 2099 expiry is after it.
    let text = format!(
        "time: 2030-06-01T12:00:00Z\ncases:\n  - name: b\n    request: {{host: {NGINX}, sourceIp: 127.0.1.1}}\n    signedBy: ASIAEXAMPLEBSESSION1\n    expect: {{decision: deny, reason: no_service_policy}}\n"
    );
    let outcomes = run(&[suite(&text)], &world, &verifier, now()).unwrap();
    assert_eq!(outcomes[0].differences, vec![]);
    assert_eq!(
        outcomes[0].explained.principal,
        "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example"
    );
}

#[test]
fn files_and_cases_that_cannot_run_are_refused_with_their_place() {
    let (world, verifier) = world();
    let case = |extra: &str| {
        format!(
            "cases:\n  - name: c\n    request: {{host: h}}\n    expect: {{decision: deny}}\n{extra}"
        )
    };
    for (text, message) in [
        (
            case("    as: anonymous\n    signedBy: AKIAIOSFODNN7EXAMPLE\n"),
            "t.yaml: case 0 (`c`): give `as` or `signedBy`, not both",
        ),
        (
            "cases:\n  - name: c\n    request: {host: h}\n    expect: {decision: maybe}\n"
                .to_owned(),
            "t.yaml: case 0 (`c`): expect.decision `maybe` is neither `allow` nor `deny`",
        ),
        (
            "cases:\n  - name: c\n    request: {host: h, sourceIp: 1.2.3}\n    expect: {decision: deny}\n"
                .to_owned(),
            "t.yaml: case 0 (`c`): request.sourceIp `1.2.3` is not an IP address",
        ),
        (
            "time: soon\ncases: []\n".to_owned(),
            "t.yaml: time `soon` is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)",
        ),
    ] {
        assert_eq!(
            Suite::parse("t.yaml", &text).unwrap_err().to_string(),
            message
        );
    }
    assert!(matches!(
        Suite::parse("t.yaml", "cases:\n  - nam: c\n"),
        Err(SuiteError::Unreadable { .. })
    ));
    for (extra, message) in [
        (
            "    signedBy: AKIANOTINTHEWORLD001\n",
            "t.yaml: case 0 (`c`): signedBy: `AKIANOTINTHEWORLD001` is not an access key id the world lists",
        ),
        (
            "    as: arn:aws:iam::917561075114:user/nobody\n",
            "t.yaml: case 0 (`c`): as: `arn:aws:iam::917561075114:user/nobody` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`)",
        ),
    ] {
        let err = run(&[suite(&case(extra))], &world, &verifier, now()).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn json_test_files_work_too() {
    let (world, verifier) = world();
    let text = format!(
        r#"{{"cases": [{{"name": "j", "request": {{"host": "{NGINX}", "method": "POST"}}, "as": "anonymous", "expect": {{"decision": "deny", "layer": "service_policy"}}}}]}}"#
    );
    let suite = Suite::parse("t.json", &text).unwrap();
    let outcomes = run(&[suite], &world, &verifier, now()).unwrap();
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].differences);
    assert_eq!(
        text_report_first_line(&outcomes),
        "ok    t.json: j".to_owned()
    );
}

fn text_report_first_line(outcomes: &[Outcome]) -> String {
    super::text(outcomes).lines().next().unwrap().to_owned()
}
