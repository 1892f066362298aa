//! The `lattice-authz` binary: `check`, `validate`, `example-world`, and settings errors, with
//! their exit codes (0 allow, 1 invalid world, 3 deny, 64 usage/settings, 65 unreadable request).

use std::process::{Command, Output};

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lattice-authz"));
    cmd.args(args)
        .env_remove("LATTICE_AUTHZ_SETTINGS")
        .env_remove("LATTICE_AUTHZ_CONFIG");
    match stdin {
        None => cmd.output().unwrap(),
        Some(bytes) => {
            use std::io::Write as _;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(bytes).unwrap();
            child.wait_with_output().unwrap()
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_denies_an_anonymous_request_with_the_exact_text() {
    let out = run(
        &[
            "check",
            "--json",
            "--source-ip",
            "127.0.0.1",
            "tests/data/check/anonymous_nginx.req",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["status"], 403);
    assert_eq!(json["principal"], "anonymous");
    assert_eq!(json["reason"], "no_service_policy");
    assert_eq!(json["layer"], "service_policy");
    assert_eq!(
        json["body"],
        "AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-08c822987a0b6ab7d/ because no service-based policy allows the vpc-lattice-svcs:Invoke action"
    );
    let layers: Vec<_> = json["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["layer"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        layers,
        [
            "association",
            "authentication",
            "network_policy",
            "service_policy",
            "identity_policy"
        ]
    );
}

#[test]
fn check_reads_stdin_and_prints_text() {
    let request = b"GET / HTTP/1.1\r\nHost: hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws\r\n\r\n";
    let out = run(&["check", "--source-ip", "127.0.0.1", "-"], Some(request));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "decision:  allow\nstatus:    200\nprincipal: anonymous\nreason:    allowed\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  x-amzn-source-vpc: vpc-0a0a0a0a0a0a0a0a0\n"),
        "{stdout}"
    );
}

#[test]
fn check_exit_codes_for_bad_input() {
    let out = run(&["check", "-"], Some(b"this is not http"));
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        text(&out.stderr),
        "lattice-authz: unreadable request: `this is not http` is not a request line (METHOD TARGET HTTP/1.1)\n"
    );
    let out = run(
        &[
            "check",
            "--now",
            "yesterday",
            "tests/data/check/anonymous_nginx.req",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    let out = run(
        &[
            "check",
            "--config",
            "tests/data/worlds/invalid",
            "tests/data/check/anonymous_nginx.req",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn validate_reports_every_problem_with_its_pointer() {
    let out = run(
        &[
            "validate",
            "--json",
            "--config",
            "tests/data/worlds/invalid/world.yaml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let problems: Vec<(String, String, String)> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["severity"].as_str().unwrap().into(),
                p["pointer"].as_str().unwrap().into(),
                p["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |severity: &str, pointer: &str, message: &str| {
        assert!(
            problems
                .iter()
                .any(|(s, p, m)| s == severity && p == pointer && m.contains(message)),
            "missing {severity} {pointer} {message:?} in {problems:#?}"
        );
    };
    has(
        "error",
        "/accounts/0/id",
        "`12345` is not a 12-digit account id",
    );
    has(
        "error",
        "/users/0/managedPolicies/0",
        "managed policy `NoSuchPolicy` is not defined",
    );
    has(
        "error",
        "/users/1/accessKeys/0/accessKeyId",
        "access key `AKIAEXAMPLEALICE0001` belongs to both",
    );
    has(
        "error",
        "/vpcs/0/cidrBlocks/0",
        "`10.0.0.0/33` is not a CIDR block",
    );
    has(
        "error",
        "/serviceNetworks/0/vpcAssociations/0/vpcId",
        "VPC `vpc-0fffffffffffffff0`, which is not defined",
    );
    has(
        "error",
        "/serviceNetworks/0/serviceAssociations/0",
        "service `svc-0fffffffffffffff0`, which is not defined",
    );
    assert!(
        problems.iter().any(|(s, p, _)| s == "error"
            && p.starts_with("/services/1/authPolicy/document/Statement/0/Condition")),
        "unknown operator not reported: {problems:#?}"
    );
    assert!(json["errors"].as_u64().unwrap() >= 7);
}

#[test]
fn validate_warns_like_a_lattice_aware_analyzer() {
    let dir = tempfile::tempdir().unwrap();
    let world = std::fs::read_to_string("tests/data/worlds/invalid/world.yaml").unwrap();
    // Keep only what loads: the two services and a valid VPC and network.
    let services = &world[world.find("services:").unwrap()..];
    let yaml = format!(
        "region: ap-northeast-1\naccounts: [{{id: \"123456789012\"}}]\nserviceNetworks:\n  - {{id: sn-0123456789abcdef0, name: net, authType: AWS_IAM, serviceAssociations: [orders]}}\n{}",
        services
            .replace("StringEqulas", "StringEquals")
            .replace("\"aws:PrincipalOrgID\"", "\"aws:TagKeys\"")
    );
    std::fs::write(dir.path().join("world.yaml"), yaml).unwrap();
    let out = run(
        &["validate", "--config", dir.path().to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    for expected in [
        "warning: /serviceNetworks/0/authType: `sn-0123456789abcdef0` has auth type AWS_IAM and no auth policy: every request to it is denied",
        "warning: /services/0/authPolicy: the auth policy of `svc-0123456789abcdef0` is inactive because its auth type is NONE",
        "condition key `aws:TagKeys` is never set for a Lattice request",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(
        stdout.ends_with(" error(s), 3 warning(s)\n") || stdout.contains("0 error(s)"),
        "{stdout}"
    );
}

#[test]
fn example_world_round_trips_through_validate() {
    let out = run(&["example-world"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        lattice_authz::lattice::World::EXAMPLE_YAML
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("world.yaml"), &out.stdout).unwrap();
    let out = run(
        &[
            "validate",
            "--config",
            dir.path().join("world.yaml").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn bad_settings_exit_64_before_anything_starts() {
    let out = Command::new(env!("CARGO_BIN_EXE_lattice-authz"))
        .args(["serve", "--listen", "nowhere"])
        .env("LATTICE_AUTHZ_LOG_ALLOWS", "perhaps")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        text(&out.stderr),
        "lattice-authz: invalid settings:\n  LATTICE_AUTHZ_LOG_ALLOWS: `perhaps` is not true or false\n  listen: `nowhere` is not an address (expected e.g. 127.0.0.1:9191)\n"
    );
}

/// `serve` or `sts` with `args`, the settings file and world variables cleared, and `env` set.
fn start_up(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lattice-authz"));
    cmd.args(args)
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .env_remove("LATTICE_AUTHZ_SETTINGS")
        .env_remove("LATTICE_AUTHZ_CONFIG")
        .env_remove("LATTICE_AUTHZ_REQUIRE_WORLD")
        .envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn require_world_refuses_the_example_world_with_64() {
    let refused = "lattice-authz: invalid settings:\n  require_world: no world is configured \
                   (--config, world or LATTICE_AUTHZ_CONFIG), and the built-in example world is \
                   not served\n";
    for (args, env) in [
        (&["serve", "--require-world"][..], &[][..]),
        (&["sts", "--require-world"][..], &[][..]),
        (
            &["serve"][..],
            &[("LATTICE_AUTHZ_REQUIRE_WORLD", "true")][..],
        ),
    ] {
        let out = start_up(args, env);
        assert_eq!(out.status.code(), Some(64), "{args:?} {env:?}");
        assert_eq!(text(&out.stderr), refused, "{args:?} {env:?}");
    }
}

#[test]
fn require_world_exits_69_when_the_world_does_not_load() {
    let missing = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/worlds/no-such-world.yaml"
    );
    for (args, env) in [
        (
            &["serve", "--require-world", "--config", missing][..],
            &[][..],
        ),
        (
            &["sts", "--require-world", "--config", missing][..],
            &[][..],
        ),
        (
            &["serve"][..],
            &[
                ("LATTICE_AUTHZ_REQUIRE_WORLD", "1"),
                ("LATTICE_AUTHZ_CONFIG", missing),
            ][..],
        ),
    ] {
        let out = start_up(args, env);
        assert_eq!(out.status.code(), Some(69), "{args:?} {env:?}");
        assert_eq!(
            text(&out.stderr),
            "lattice-authz: the world did not load at start-up and require_world is set\n",
            "{args:?} {env:?}"
        );
        // Why it did not load is in the log, on standard output.
        assert!(
            text(&out.stdout).contains("no-such-world.yaml"),
            "{}",
            text(&out.stdout)
        );
    }
}
