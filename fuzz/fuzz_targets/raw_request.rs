//! Any bytes as the raw HTTP request of `lattice-authz check`: parsed, then decided against the
//! built-in example world the way `check` does, at the request's own `X-Amz-Date` when it has
//! one (so the signed conformance requests verify), else at 2024-02-04T01:02:03Z.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lattice_authz::authz::RawRequest;
use lattice_authz::config::Settings;
use lattice_authz::lattice::Request;
use lattice_authz::sigv4::Header;
use lattice_authz::store::{Snapshot, Store};
use libfuzzer_sys::fuzz_target;

fn default_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_707_008_523) // 2024-02-04T01:02:03Z
}

fn snapshot() -> &'static Arc<Snapshot> {
    static SNAPSHOT: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAPSHOT.get_or_init(
        || match Store::new(Settings::default()).build_once(default_now()) {
            Ok((snapshot, _)) => snapshot,
            Err(e) => panic!("the built-in example world does not load: {e}"),
        },
    )
}

/// `YYYYMMDDTHHMMSSZ` (SigV4's basic format) as a time.
fn amz_date(value: &[u8]) -> Option<SystemTime> {
    let v = std::str::from_utf8(value).ok()?;
    if v.len() != 16 || !v.is_ascii() {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        v.get(0..4)?,
        v.get(4..6)?,
        v.get(6..8)?,
        v.get(9..11)?,
        v.get(11..13)?,
        v.get(13..15)?
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(raw) = RawRequest::parse(bytes) else {
        return;
    };
    let Some(authority) = raw.host().filter(|h| !h.is_empty()) else {
        return;
    };
    let now = raw
        .headers
        .iter()
        .find(|(n, _)| n == "x-amz-date")
        .and_then(|(_, v)| amz_date(v))
        .unwrap_or_else(default_now);
    let headers: Vec<Header<'_>> = raw
        .headers
        .iter()
        .map(|(name, value)| Header { name, value })
        .collect();
    let request = Request {
        method: &raw.method,
        target: &raw.target,
        authority,
        scheme: "http",
        headers: &headers,
        body: (!raw.body.is_empty()).then_some(&raw.body[..]),
        source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        destination: None,
        vpc_endpoint: None,
    };
    let snapshot = snapshot();
    let decision = snapshot.world.authorize(
        &snapshot.verifier,
        &request,
        lattice_authz::lattice::Authentication::Verify,
        now,
        &mut lattice_authz::lattice::Untimed,
    );
    drop(lattice_authz::authz::explain(&decision));
});
