//! AWS's published SigV4 / SigV4A signing test suite (the CRT suite as shipped in `aws-sigv4`
//! 1.6.4, copied under `tests/data/sigv4/v4*`), run through the verifier in standard mode with
//! each case's service and region, header and query forms, asserting the exact outcome.
//!
//! How sigv4 §5.1's caveats are handled, case by case:
//! - The signed requests are the suite's *logical* requests. `get-space-*` and `get-utf8` put a
//!   raw space / raw UTF-8 in the target; the verifier encodes any byte, so they verify as they
//!   are. Their *wire* forms (`/example%20space/`, `/%E1%88%B4`) are checked too: the
//!   double-encoded candidate then differs from what the client signed and the single-encoded
//!   (verbatim) fallback verifies — see `wire_forms_verify_through_the_single_fallback`.
//! - `*-normalized` / `*-unnormalized` pairs: normalised signatures verify with the double-encoded
//!   normalised URI; unnormalised ones with the verbatim fallback (their paths contain only
//!   unreserved characters, so "double-encoded, not normalised" equals the wire path).
//! - `get-header-value-multiline`: the obs-fold is unfolded by the request reader (as an HTTP
//!   parser may), then canonicalised to `value1 value2 value3`.
//! - `post-sts-header-after` (`omit_session_token`): a session token sent but not signed is
//!   rejected by design (everything the verifier reads must be signed): header form
//!   `'x-amz-security-token' must be a 'SignedHeader'…`; query form mismatches because the
//!   verifier's canonical query includes `X-Amz-Security-Token`.
//! - Legacy `double-url-encode`: verified (no context file; Lambda, us-east-2, the suite secret).
//!   Legacy `double-encode-path`: its signed request and canonical request disagree on the date
//!   and key, so only the canonical URI line is asserted.
//! - SigV4A: both valid signatures of each case are verified (the one in `*-signature.txt` and
//!   the different one inside `*-signed-request.txt`).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::string_slice,
    reason = "test helpers fail loudly"
)]

use std::path::Path;

use lattice_authz::sigv4::{
    Algorithm, PathEncoding, Settings, SigV4Error, SignatureLocation, Verified, Verifier,
};

use super::sigv4_common::{Creds, RawRequest, at, data};

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

#[derive(serde::Deserialize)]
struct Context {
    credentials: ContextCredentials,
    normalize: bool,
    region: String,
    service: String,
    timestamp: String,
    #[serde(default)]
    omit_session_token: bool,
}

#[derive(serde::Deserialize)]
struct ContextCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

fn cases(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(data(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("context.json").exists())
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn replace_signature(text: &str, marker: &str, signature: &str) -> String {
    let start = text.find(marker).unwrap() + marker.len();
    let end = start
        + text[start..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap();
    format!("{}{}{}", &text[..start], signature.trim(), &text[end..])
}

/// The path of a case differs between its normalised and verbatim forms.
fn path_normalises(request: &RawRequest) -> bool {
    let path = request.target.split('?').next().unwrap();
    path.contains("/.") || path.contains("//")
}

struct Run {
    verified: usize,
}

fn run_case(dir: &Path, run: &mut Run) {
    let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
    let ctx: Context = serde_json::from_str(&read(&dir.join("context.json"))).unwrap();
    let now = at(&ctx.timestamp);
    let mut settings = Settings::standard(&ctx.service, &ctx.region);
    settings.query_auth = true;
    let verifier = Verifier::new(settings);
    let principal = format!("suite:{}", ctx.credentials.access_key_id);
    let creds = Creds::default().with(
        &ctx.credentials.access_key_id,
        &ctx.credentials.secret_access_key,
        ctx.credentials.token.as_deref(),
        &principal,
    );
    let v4a = dir.parent().unwrap().ends_with("v4a");
    for (form, marker) in [("header", "Signature="), ("query", "X-Amz-Signature=")] {
        let signed = read(&dir.join(format!("{form}-signed-request.txt")));
        let mut texts = vec![signed.clone()];
        if v4a {
            let other = read(&dir.join(format!("{form}-signature.txt")));
            texts.push(replace_signature(&signed, marker, &other));
        }
        for text in texts {
            let raw = RawRequest::parse(text.as_bytes());
            let headers = raw.header_list();
            let request = raw.view(&headers);
            let outcome = verifier.verify(&request, now, &creds);
            let label = format!("{name} {form}");
            if ctx.omit_session_token {
                let expected = if form == "header" {
                    SigV4Error::HeaderNotSigned("x-amz-security-token")
                } else {
                    SigV4Error::SignatureDoesNotMatch
                };
                assert_eq!(outcome.unwrap_err(), expected, "{label}");
                continue;
            }
            let Ok(Verified::Signed(signed)) = outcome else {
                panic!("{label}: {outcome:?}");
            };
            assert_eq!(signed.credential.principal, &principal, "{label}");
            assert_eq!(
                signed.credential.access_key_id, ctx.credentials.access_key_id,
                "{label}"
            );
            assert_eq!(
                signed.algorithm,
                if v4a {
                    Algorithm::SigV4A
                } else {
                    Algorithm::SigV4
                },
                "{label}"
            );
            let location = if form == "header" {
                SignatureLocation::Header
            } else {
                SignatureLocation::Query
            };
            assert_eq!(signed.location, location, "{label}");
            let expected_encoding = if !ctx.normalize && path_normalises(&raw) {
                PathEncoding::Single
            } else {
                PathEncoding::Double
            };
            assert_eq!(signed.path_encoding, expected_encoding, "{label}");
            // The canonical request and string to sign match the suite's, byte for byte.
            let explained = verifier.explain(&request, now).unwrap().unwrap();
            let (creq, sts) = match expected_encoding {
                PathEncoding::Double => (&explained.canonical_request, &explained.string_to_sign),
                PathEncoding::Single => (
                    &explained.single_canonical_request,
                    &explained.single_string_to_sign,
                ),
                PathEncoding::DoubleSdkDots => unreachable!("the suite expects only these two"),
            };
            assert_eq!(
                creq.trim_end(),
                read(&dir.join(format!("{form}-canonical-request.txt"))).trim_end(),
                "{label}"
            );
            assert_eq!(
                sts.trim_end(),
                read(&dir.join(format!("{form}-string-to-sign.txt"))).trim_end(),
                "{label}"
            );
            run.verified += 1;
        }
    }
}

#[test]
fn every_v4_case_verifies_with_its_exact_outcome() {
    let mut run = Run { verified: 0 };
    let dirs = cases("v4");
    assert_eq!(dirs.len(), 38);
    for dir in &dirs {
        run_case(dir, &mut run);
    }
    // 38 cases x 2 forms, minus post-sts-header-after's two rejections.
    assert_eq!(run.verified, 74);
}

#[test]
fn every_v4a_case_verifies_both_signatures() {
    let mut run = Run { verified: 0 };
    let dirs = cases("v4a");
    assert_eq!(dirs.len(), 38);
    for dir in &dirs {
        run_case(dir, &mut run);
    }
    assert_eq!(run.verified, 37 * 2 * 2);
}

#[test]
fn wire_forms_verify_through_the_single_fallback() {
    for (case, wire_path, logical_path) in [
        (
            "get-space-normalized",
            "/example%20space/",
            "/example space/",
        ),
        (
            "get-space-unnormalized",
            "/example%20space/",
            "/example space/",
        ),
        ("get-utf8", "/%E1%88%B4", "/\u{1234}"),
    ] {
        let dir = data("v4").join(case);
        let ctx: Context = serde_json::from_str(&read(&dir.join("context.json"))).unwrap();
        let verifier = Verifier::new(Settings::standard(&ctx.service, &ctx.region));
        let creds = Creds::default().with("AKIDEXAMPLE", SUITE_SECRET, None, "suite");
        let text =
            read(&dir.join("header-signed-request.txt")).replacen(logical_path, wire_path, 1);
        let raw = RawRequest::parse(text.as_bytes());
        assert_eq!(raw.target, wire_path);
        let headers = raw.header_list();
        let Ok(Verified::Signed(s)) =
            verifier.verify(&raw.view(&headers), at(&ctx.timestamp), &creds)
        else {
            panic!("{case}");
        };
        assert_eq!(s.path_encoding, PathEncoding::Single, "{case}");
        // With the fallback off, the same request is rejected.
        let mut strict = Settings::standard(&ctx.service, &ctx.region);
        strict.single_encoding_fallback = false;
        let outcome = Verifier::new(strict).verify(&raw.view(&headers), at(&ctx.timestamp), &creds);
        assert_eq!(
            outcome.unwrap_err(),
            SigV4Error::SignatureDoesNotMatch,
            "{case}"
        );
    }
}

#[test]
fn legacy_double_url_encode_verifies() {
    let dir = data("v4/double-url-encode");
    let raw = RawRequest::read(&dir.join("header-signed-request.txt"));
    let headers = raw.header_list();
    let verifier = Verifier::new(Settings::standard("lambda", "us-east-2"));
    let creds = Creds::default().with("AKIDEXAMPLE", SUITE_SECRET, None, "suite");
    let explained = verifier
        .explain(&raw.view(&headers), at("20210511T154045Z"))
        .unwrap()
        .unwrap();
    assert_eq!(
        explained.canonical_request,
        read(&dir.join("header-canonical-request.txt")).trim_end()
    );
    assert_eq!(
        explained.string_to_sign,
        read(&dir.join("header-string-to-sign.txt")).trim_end()
    );
    let outcome = verifier.verify(&raw.view(&headers), at("20210511T154045Z"), &creds);
    let Ok(Verified::Signed(s)) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(s.path_encoding, PathEncoding::Double);
}

#[test]
fn legacy_double_encode_path_canonical_uri() {
    let dir = data("v4/double-encode-path");
    let raw = RawRequest::read(&dir.join("header-signed-request.txt"));
    let headers = raw.header_list();
    let verifier = Verifier::new(Settings::standard("service", "us-east-1"));
    let explained = verifier
        .explain(&raw.view(&headers), at("20150830T123600Z"))
        .unwrap()
        .unwrap();
    let expected = read(&dir.join("header-canonical-request.txt"));
    assert_eq!(
        explained.canonical_request.lines().nth(1),
        expected.lines().nth(1)
    );
}
