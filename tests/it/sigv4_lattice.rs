//! Lattice cases as data (`tests/data/sigv4/lattice/`, format in its README): each row of the
//! error catalogue and the seed-article requests, verified in Lattice mode against the
//! example-world credentials, asserting the exact principal or deny body.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test loader fails loudly"
)]

use std::collections::BTreeMap;
use std::path::Path;

use lattice_authz::sigv4::{Settings, Verified, Verifier};

use super::sigv4_common::{Creds, RawRequest, at, body, data};

/// Runs one case: `.http` request, `.expect` lines `now:`, `settings:`, `outcome:`.
fn run_case(http: &Path, creds: &Creds) -> Result<(), String> {
    let expect = std::fs::read_to_string(http.with_extension("expect")).unwrap();
    let fields: BTreeMap<&str, &str> = expect.lines().filter_map(|l| l.split_once(": ")).collect();
    let mut settings = Settings::lattice("ap-northeast-1");
    settings.query_auth = fields.get("settings") == Some(&"query_auth");
    let raw = RawRequest::read(http);
    let headers = raw.header_list();
    let outcome =
        match Verifier::new(settings).verify(&raw.view(&headers), at(fields["now"]), creds) {
            Ok(Verified::Anonymous) => "anonymous".to_owned(),
            Ok(Verified::Signed(s)) => format!("principal {}", s.credential.principal),
            Err(e) => body(&e),
        };
    (outcome == fields["outcome"]).then_some(()).ok_or_else(|| {
        format!(
            "{}:\n  expected {}\n  got      {outcome}",
            http.display(),
            fields["outcome"]
        )
    })
}

#[test]
fn every_lattice_case_has_its_exact_outcome() {
    let creds = Creds::example_world();
    let mut cases: Vec<_> = std::fs::read_dir(data("lattice"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 39, "{} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c, &creds).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
