//! The service and requests of the whole-Check benches (`check.rs` times them,
//! `check_allocs.rs` counts their allocations).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envoy_types::ext_authz::v3::pb::CheckRequest;
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::store::{Reload, Store};
use lattice_authz::test_util::{HeaderMode, check_request, sign_lattice};

const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_348_800)
}

pub(crate) fn service() -> AuthzService {
    let store = Arc::new(Store::new(Settings::default()));
    assert!(matches!(store.poll(now()), Reload::Loaded(..)));
    let metrics = Arc::new(lattice_authz::app::new_metrics("bench"));
    // Allowed decisions are logged in production; with no subscriber installed here the log
    // call is the cheap disabled path, as with a filter that excludes it.
    AuthzService::new(
        store,
        metrics,
        Arc::new(FixedClock(now())),
        true,
        Duration::from_secs(1),
    )
}

fn signed(mode: HeaderMode) -> CheckRequest {
    let headers = sign_lattice(
        "GET",
        NGINX,
        "/",
        &[("user-agent", "curl/7.88.1"), ("accept", "*/*")],
        (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        ),
        "ap-northeast-1",
        now(),
    );
    check_request("GET", "/", &headers, "127.0.0.1", "127.0.0.1", mode)
}

fn anonymous() -> CheckRequest {
    let headers = vec![
        ("host".to_owned(), NGINX.to_owned()),
        ("user-agent".to_owned(), "curl/7.88.1".to_owned()),
    ];
    check_request(
        "GET",
        "/",
        &headers,
        "127.0.0.1",
        "127.0.0.1",
        HeaderMode::Raw,
    )
}

/// The benchmarked cases: name, request, expected status.
pub(crate) fn cases() -> [(&'static str, CheckRequest, u16); 3] {
    [
        (
            "signed_allow_two_layers_raw_headers",
            signed(HeaderMode::Raw),
            200,
        ),
        (
            "signed_allow_two_layers_joined_headers",
            signed(HeaderMode::Joined),
            200,
        ),
        ("anonymous_deny", anonymous(), 403),
    ]
}

/// The status a response answers with.
pub(crate) fn status(response: &envoy_types::ext_authz::v3::pb::CheckResponse) -> u16 {
    match response.http_response {
        Some(envoy_types::ext_authz::v3::pb::HttpResponse::OkResponse(_)) => 200,
        _ => 403,
    }
}
