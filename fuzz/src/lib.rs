//! What the `CheckRequest` targets and `write_seeds` share: the service over the built-in
//! example world, the instant it answers at, and real requests signed for it.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
use envoy_types::pb::google::protobuf::value::Kind;
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::store::{Reload, Store};
use lattice_authz::test_util::{self, HeaderMode};

/// The example world's `nginx` service (`AWS_IAM`, latticeuser may invoke it).
pub const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

/// The example world's `hello` service (auth type `NONE`).
pub const HELLO: &str = "hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

/// latticeuser's access key id, secret and (no) session token.
pub const LATTICEUSER: (&str, &str, Option<&str>) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    None,
);

/// A role session of account B, with its session token.
pub const SESSION_B: (&str, &str, Option<&str>) = (
    "ASIAEXAMPLEBSESSION1",
    "bSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    Some("IQoJb3JpZ2luX2VjEXAMPLEACCOUNTBSESSIONTOKEN"),
);

/// The instant every request is signed and checked at: 2026-11-22T12:00:00Z.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_348_800)
}

/// The ext_authz service over the built-in example world, built once per process. Its deadline
/// is an hour: an instrumented build is slow, and a deadline error is not what is fuzzed.
///
/// # Panics
///
/// If the built-in world does not load.
pub fn service() -> &'static AuthzService {
    static SERVICE: OnceLock<AuthzService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let store = Arc::new(Store::new(Settings::default()));
        assert!(
            matches!(store.poll(now()), Reload::Loaded(..)),
            "the built-in example world loads"
        );
        let metrics = Arc::new(lattice_authz::app::new_metrics("fuzz"));
        AuthzService::new(
            store,
            metrics,
            Arc::new(FixedClock(now())),
            true,
            Duration::from_secs(3600),
        )
    })
}

/// The headers of a request signed at [`now`] for the example world's region.
pub fn sign(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    creds: (&str, &str, Option<&str>),
) -> Vec<(String, String)> {
    test_util::sign_lattice(
        method,
        host,
        target,
        headers,
        creds,
        "ap-northeast-1",
        now(),
    )
}

/// A `CheckRequest` from a client in account A's VPC, as Envoy sends it.
pub fn envoy_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    mode: HeaderMode,
) -> CheckRequest {
    test_util::check_request(method, target, headers, "127.0.0.1", "127.0.0.1", mode)
}

/// Named `CheckRequest`s covering what Envoy sends: signed (long-term key and role session,
/// raw and joined headers, with a query and a body), anonymous, and to a service without auth.
pub fn seed_requests() -> Vec<(String, CheckRequest)> {
    let mut out = Vec::new();
    for (mode, suffix) in [(HeaderMode::Raw, "raw"), (HeaderMode::Joined, "joined")] {
        let user = sign(
            "GET",
            NGINX,
            "/",
            &[("user-agent", "curl/7.88.1"), ("accept", "*/*")],
            LATTICEUSER,
        );
        let session = sign(
            "POST",
            NGINX,
            "/items?b=2&a=1",
            &[("content-type", "application/json")],
            SESSION_B,
        );
        let anonymous = vec![
            ("host".to_owned(), NGINX.to_owned()),
            ("user-agent".to_owned(), "curl/7.88.1".to_owned()),
            (
                "x-amzn-lattice-identity".to_owned(),
                "Principal=forged".to_owned(),
            ),
        ];
        let hello = sign("GET", HELLO, "/", &[], LATTICEUSER);
        out.push((
            format!("signed_{suffix}"),
            envoy_request("GET", "/", &user, mode),
        ));
        let mut post = envoy_request("POST", "/items?b=2&a=1", &session, mode);
        if let Some(http) = post
            .attributes
            .as_mut()
            .and_then(|a| a.request.as_mut())
            .and_then(|r| r.http.as_mut())
        {
            http.body = "{\"id\": 1}".to_owned();
        }
        out.push((format!("session_{suffix}"), post));
        out.push((
            format!("anonymous_{suffix}"),
            envoy_request("GET", "/", &anonymous, mode),
        ));
        out.push((
            format!("hello_{suffix}"),
            envoy_request("GET", "/", &hello, mode),
        ));
    }
    out
}

/// The `principal` a response's dynamic metadata names (`anonymous` or an ARN).
pub fn principal(response: &CheckResponse) -> Option<&str> {
    let field = response
        .dynamic_metadata
        .as_ref()?
        .fields
        .get("principal")?;
    match field.kind.as_ref()? {
        Kind::StringValue(s) => Some(s),
        _ => None,
    }
}
