//! Real clients: requests recorded from botocore (as the seed articles sign) and curl, and round
//! trips through the `aws-sigv4` crate (SigV4 and SigV4A, header and query forms, double and
//! single path encoding); tampering with each signed part fails with the right message; and the
//! property tests (header order independence, verify(sign(r)) for random requests).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly"
)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation as AwsLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::{v4, v4a};
use aws_smithy_runtime_api::client::identity::Identity;
use lattice_authz::sigv4::{
    Algorithm, CacheOutcome, PathEncoding, Settings, SigV4Error, SignatureLocation, Verified,
    Verifier,
};
use proptest::prelude::*;

use super::sigv4_common::{Creds, RawRequest, at, body, data};

const REGION: &str = "ap-northeast-1";
const HOST: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
const ALICE: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);
const ALICE_ARN: &str = "arn:aws:iam::917561075114:user/latticeuser";
const SESSION: (&str, &str, &str) = (
    "ASIAEXAMPLEBSESSION1",
    "bSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    "IQoJb3JpZ2luX2VjEXAMPLEACCOUNTBSESSIONTOKEN",
);
const SESSION_ARN: &str = "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example";
const MISMATCH: &str = "InvalidSignatureException: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

fn signed_at() -> SystemTime {
    at("20240204T010203Z")
}

#[test]
fn every_recorded_client_request_verifies() {
    let creds = Creds::example_world();
    let mut seen = 0;
    for entry in std::fs::read_dir(data("clients")).unwrap() {
        let http = entry.unwrap().path();
        if http.extension().is_none_or(|e| e != "http") {
            continue;
        }
        let expect = std::fs::read_to_string(http.with_extension("expect")).unwrap();
        let fields: BTreeMap<&str, &str> =
            expect.lines().filter_map(|l| l.split_once(": ")).collect();
        let raw = RawRequest::read(&http);
        let headers = raw.header_list();
        let verifier = Verifier::new(Settings::lattice(REGION));
        let outcome = verifier.verify(&raw.view(&headers), at(fields["now"]), &creds);
        let got = match outcome {
            Ok(Verified::Signed(s)) => format!("principal {}", s.credential.principal),
            Ok(Verified::Anonymous) => "anonymous".to_owned(),
            Err(e) => body(&e),
        };
        assert_eq!(got, fields["outcome"], "{}", http.display());
        seen += 1;
    }
    // botocore x2 (seed articles), curl x4 (one documents old curl's unsorted query).
    assert_eq!(seen, 6);
}

/// How to sign with `aws-sigv4`.
#[derive(Clone, Copy)]
struct Signing<'a> {
    algorithm: Algorithm,
    query: bool,
    single: bool,
    token: bool,
    region_set: &'a str,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::SigV4,
            query: false,
            single: false,
            token: false,
            region_set: "*",
        }
    }
}

/// Signs `method target` with `aws-sigv4` the way a Lattice client must (an `x-amz-content-sha256:
/// UNSIGNED-PAYLOAD` header, unsigned payload), and returns the request as it goes on the wire.
fn aws_sign(method: &str, target: &str, extra: &[(&str, &str)], how: Signing<'_>) -> RawRequest {
    let (akid, secret, token) = if how.token {
        (SESSION.0, SESSION.1, Some(SESSION.2.to_owned()))
    } else {
        (ALICE.0, ALICE.1, None)
    };
    let identity: Identity = Credentials::new(akid, secret, token, None, "test").into();
    let mut settings = SigningSettings::default();
    if how.single {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    if how.query {
        settings.signature_location = AwsLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(300));
    }
    let params = match how.algorithm {
        Algorithm::SigV4 => v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("vpc-lattice-svcs")
            .time(signed_at())
            .settings(settings)
            .build()
            .unwrap()
            .into(),
        Algorithm::SigV4A => v4a::SigningParams::builder()
            .identity(&identity)
            .region_set(how.region_set)
            .name("vpc-lattice-svcs")
            .time(signed_at())
            .settings(settings)
            .build()
            .unwrap()
            .into(),
    };
    let mut headers: Vec<(&str, &str)> =
        vec![("host", HOST), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")];
    headers.extend_from_slice(extra);
    let uri = format!("https://{HOST}{target}");
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut text = String::new();
    let mut target = target.to_owned();
    for (name, value) in instructions.params() {
        target.push(if target.contains('?') { '&' } else { '?' });
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        target.push_str(&format!("{}={}", enc(name), enc(value)));
    }
    text.push_str(&format!("{method} {target} HTTP/1.1\r\n"));
    for (name, value) in headers.iter().copied().chain(instructions.headers()) {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    RawRequest::parse(text.as_bytes())
}

fn creds() -> Creds {
    Creds::example_world()
}

fn settings(query: bool) -> Settings {
    let mut s = Settings::lattice(REGION);
    s.query_auth = query;
    s
}

fn verify(
    raw: &RawRequest,
    settings: Settings,
) -> Result<(String, Algorithm, SignatureLocation, PathEncoding), String> {
    let headers = raw.header_list();
    let creds = creds();
    match Verifier::new(settings).verify(&raw.view(&headers), signed_at(), &creds) {
        Ok(Verified::Signed(s)) => Ok((
            s.credential.principal.clone(),
            s.algorithm,
            s.location,
            s.path_encoding,
        )),
        Ok(Verified::Anonymous) => Err("anonymous".to_owned()),
        Err(e) => Err(body(&e)),
    }
}

#[test]
fn aws_sigv4_round_trips() {
    let target = "/api/v1/items?b=2&a=1&a=0";
    for algorithm in [Algorithm::SigV4, Algorithm::SigV4A] {
        for query in [false, true] {
            for token in [false, true] {
                let how = Signing {
                    algorithm,
                    query,
                    token,
                    ..Signing::default()
                };
                let raw = aws_sign("POST", target, &[("content-type", "application/json")], how);
                let location = if query {
                    SignatureLocation::Query
                } else {
                    SignatureLocation::Header
                };
                let principal = if token { SESSION_ARN } else { ALICE_ARN };
                assert_eq!(
                    verify(&raw, settings(query)),
                    Ok((
                        principal.to_owned(),
                        algorithm,
                        location,
                        PathEncoding::Double
                    )),
                    "{algorithm:?} query={query} token={token}"
                );
            }
        }
    }
}

#[test]
fn aws_sigv4_single_and_double_encoded_paths() {
    for (single, expected) in [(false, PathEncoding::Double), (true, PathEncoding::Single)] {
        for algorithm in [Algorithm::SigV4, Algorithm::SigV4A] {
            let how = Signing {
                algorithm,
                single,
                ..Signing::default()
            };
            let raw = aws_sign("GET", "/a%20b/c%3Ad/./e", &[], how);
            let got = verify(&raw, settings(false)).map(|v| v.3);
            assert_eq!(got, Ok(expected), "{algorithm:?} single={single}");
        }
    }
}

#[test]
fn sigv4a_region_sets() {
    for (set, ok) in [
        ("*", true),
        ("ap-northeast-*", true),
        ("us-west-2,ap-northeast-1", true),
        ("us-west-*", false),
    ] {
        let how = Signing {
            algorithm: Algorithm::SigV4A,
            region_set: set,
            ..Signing::default()
        };
        let got = verify(&aws_sign("GET", "/", &[], how), settings(false));
        if ok {
            assert!(got.is_ok(), "{set}: {got:?}");
        } else {
            assert_eq!(
                got,
                Err("InvalidSignatureException: The region set 'X-Amz-Region-Set' does not include a valid region.".to_owned())
            );
        }
    }
}

#[test]
fn cache_hits_after_the_first_request() {
    let verifier = Verifier::new(settings(false));
    let creds = creds();
    for algorithm in [Algorithm::SigV4, Algorithm::SigV4A] {
        let raw = aws_sign(
            "GET",
            "/",
            &[],
            Signing {
                algorithm,
                ..Signing::default()
            },
        );
        let headers = raw.header_list();
        let outcome =
            |v: Result<Verified<lattice_authz::sigv4::Credential<'_, String>>, SigV4Error>| match v
            {
                Ok(Verified::Signed(s)) => s.cache,
                other => panic!("{other:?}"),
            };
        assert_eq!(
            outcome(verifier.verify(&raw.view(&headers), signed_at(), &creds)),
            CacheOutcome::Miss
        );
        assert_eq!(
            outcome(verifier.verify(&raw.view(&headers), signed_at(), &creds)),
            CacheOutcome::Hit
        );
    }
    // A rotated secret never reuses the cached key.
    let raw = aws_sign("GET", "/", &[], Signing::default());
    let headers = raw.header_list();
    let rotated = Creds::default().with(ALICE.0, "rotated-secret", None, ALICE_ARN);
    assert_eq!(
        verifier
            .verify(&raw.view(&headers), signed_at(), &rotated)
            .unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
}

/// Tampering with each signed part of a valid request, and the exact deny body it gets.
#[test]
fn tampering_with_any_signed_part_fails_with_the_right_message() {
    let original = aws_sign(
        "GET",
        "/orders/42?view=full",
        &[("x-custom", "v1")],
        Signing {
            token: true,
            ..Signing::default()
        },
    );
    assert!(verify(&original, settings(false)).is_ok());
    let auth = String::from_utf8(original.header("authorization").unwrap().to_vec()).unwrap();
    let with_auth = |f: &dyn Fn(&str) -> String| {
        let mut r = original.clone();
        r.set_header("authorization", f(&auth).as_bytes());
        r
    };
    let mut cases: Vec<(&str, RawRequest, String)> = Vec::new();
    let mut r = original.clone();
    r.method = "DELETE".to_owned();
    cases.push(("method", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.target = "/orders/43?view=full".to_owned();
    cases.push(("path", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.target = "/orders/42?view=summary".to_owned();
    cases.push(("query", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.target = "/orders/42?view=full&admin=1".to_owned();
    cases.push(("query added", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.authority = "evil.example".to_owned();
    cases.push(("host", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.set_header("x-custom", b"v2");
    cases.push(("x-custom", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.set_header("x-amz-date", b"20240204T010204Z");
    cases.push(("x-amz-date", r, MISMATCH.to_owned()));
    let mut r = original.clone();
    r.set_header(
        "x-amz-content-sha256",
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    cases.push((
        "x-amz-content-sha256",
        r,
        "InvalidSignatureException: Signed payloads are not supported".to_owned(),
    ));
    let mut r = original.clone();
    r.set_header(
        "x-amz-security-token",
        b"IQoJb3JpZ2luX2VjEXAMPLEACCOUNTCSESSIONTOKEN",
    );
    cases.push((
        "x-amz-security-token",
        r,
        "UnrecognizedClientException: The security token included in the request is invalid."
            .to_owned(),
    ));
    cases.push((
        "scope region",
        with_auth(&|a| a.replace("/ap-northeast-1/", "/us-east-1/")),
        "InvalidSignatureException: Credential should be scoped to a valid region.".to_owned(),
    ));
    cases.push((
        "scope service",
        with_auth(&|a| a.replace("/vpc-lattice-svcs/", "/execute-api/")),
        "InvalidSignatureException: Credential should be scoped to correct service: 'vpc-lattice-svcs'.".to_owned(),
    ));
    cases.push((
        "scope date",
        with_auth(&|a| a.replace("/20240204/", "/20240205/")),
        "InvalidSignatureException: Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240205' != '20240204', from '20240204T010203Z'.".to_owned(),
    ));
    cases.push((
        "signed headers",
        with_auth(&|a| a.replace(";x-custom", "")),
        MISMATCH.to_owned(),
    ));
    cases.push((
        "signature",
        with_auth(&|a| {
            let (head, sig) = a.rsplit_once('=').unwrap();
            format!("{head}={}", sig.chars().rev().collect::<String>())
        }),
        MISMATCH.to_owned(),
    ));
    for (what, request, expected) in &cases {
        assert_eq!(
            verify(request, settings(false)),
            Err(expected.clone()),
            "{what}"
        );
    }
    // The secret.
    let headers = original.header_list();
    let wrong = Creds::default().with(SESSION.0, "wrong", Some(SESSION.2), SESSION_ARN);
    let e = Verifier::new(settings(false))
        .verify(&original.view(&headers), signed_at(), &wrong)
        .unwrap_err();
    assert_eq!(body(&e), MISMATCH);
}

fn header_value() -> impl Strategy<Value = String> {
    "[ -~]{0,20}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The canonical request does not depend on the order of distinct header names in the
    /// request (lines of one name keep their relative order: it is significant).
    #[test]
    fn canonicalisation_ignores_header_order(
        values in proptest::collection::vec((0usize..5, header_value()), 1..10),
        seed in any::<u64>(),
    ) {
        let names = ["x-a", "x-b", "content-type", "x-amz-meta", "accept"];
        let mut raw = aws_sign("GET", "/", &[], Signing::default());
        let mut signed: Vec<&str> = values.iter().map(|(n, _)| names[*n]).collect();
        signed.sort_unstable();
        signed.dedup();
        for (n, v) in &values {
            raw.headers.push((names[*n].to_owned(), v.clone().into_bytes()));
        }
        let auth = String::from_utf8(raw.header("authorization").unwrap().to_vec()).unwrap();
        let mut list: Vec<&str> = vec!["host", "x-amz-content-sha256", "x-amz-date"];
        list.extend(&signed);
        list.sort_unstable();
        let (before, after) = auth.split_once("SignedHeaders=").unwrap();
        let rest = after.split_once(',').unwrap().1;
        raw.set_header("authorization", format!("{before}SignedHeaders={},{rest}", list.join(";")).as_bytes());

        let verifier = Verifier::new(settings(false));
        let headers = raw.header_list();
        let reference = verifier.explain(&raw.view(&headers), signed_at()).unwrap().unwrap();
        // A stable shuffle keyed by name: distinct names move, same-name lines keep their order.
        let mut shuffled = raw.clone();
        shuffled.headers.sort_by_key(|(n, _)| {
            let h = n.bytes().fold(seed, |h, b| h.rotate_left(5) ^ u64::from(b));
            h.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        });
        let headers = shuffled.header_list();
        let other = verifier.explain(&shuffled.view(&headers), signed_at()).unwrap().unwrap();
        prop_assert_eq!(reference, other);
    }

    /// verify(sign(r)) for random requests signed by `aws-sigv4`.
    #[test]
    fn verify_accepts_whatever_aws_sigv4_signs(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
        segments in proptest::collection::vec("[A-Za-z0-9._~:@!$'()*,;=-]{0,8}", 0..4),
        query in proptest::collection::vec(("[A-Za-z0-9_-]{1,6}", "[ -~]{0,8}"), 0..4),
        extra in proptest::collection::vec(("x-[a-z]{1,6}", "[!-~]([ !-~]{0,10}[!-~])?"), 0..3),
        token in any::<bool>(),
        query_auth in any::<bool>(),
    ) {
        let path = format!("/{}", segments.join("/"));
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        let target = if q.is_empty() { path } else { format!("{path}?{}", q.join("&")) };
        let mut names = std::collections::BTreeSet::new();
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .filter(|(n, _)| names.insert(n.clone()))
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let how = Signing { token, query: query_auth, ..Signing::default() };
        let raw = aws_sign(method, &target, &extra, how);
        let got = verify(&raw, settings(query_auth));
        prop_assert!(got.is_ok(), "{} {}: {:?}", method, target, got);
    }

    /// Whatever arrives, verification returns a value: no panic on odd targets, dates,
    /// Authorization headers or non-UTF-8 header values.
    #[test]
    fn verify_never_panics(
        target in "[ -~]{0,40}",
        auth in "AWS4-(HMAC-SHA256|ECDSA-P256-SHA256) Credential=[ -~]{0,60}, SignedHeaders=[a-z;:-]{0,40}, Signature=[0-9a-f]{0,150}",
        date in "[0-9TZ]{0,18}",
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..4),
        query_auth in any::<bool>(),
    ) {
        let mut headers = vec![
            ("authorization".to_owned(), auth.into_bytes()),
            ("x-amz-date".to_owned(), date.into_bytes()),
        ];
        for (i, v) in values.into_iter().enumerate() {
            let name = ["host", "x-amz-content-sha256", "x-amz-security-token", "x-amz-region-set"][i % 4];
            headers.push((name.to_owned(), v));
        }
        let raw = RawRequest {
            method: "GET".into(),
            target,
            authority: HOST.into(),
            headers,
            body: Vec::new(),
        };
        let list = raw.header_list();
        let _ = Verifier::new(settings(query_auth)).verify(&raw.view(&list), signed_at(), &creds());
    }
}
