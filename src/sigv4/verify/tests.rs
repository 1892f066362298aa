//! Unit tests of the verification: the signing key kept with its secret, the header scan as
//! verification sees it, hex signatures.

use std::time::SystemTime;

use super::*;
use crate::sigv4::{Credential, Header};

/// One access key.
struct OneKey(Secret);

impl CredentialSource for OneKey {
    type Credential<'s> = Credential<'s, &'static str>;
    fn credential<'s>(
        &'s self,
        access_key_id: &str,
        _session_token: Option<&[u8]>,
    ) -> Option<Credential<'s, &'static str>> {
        (access_key_id == "AKIDEXAMPLE").then_some(Credential {
            access_key_id: "AKIDEXAMPLE",
            secret: &self.0,
            session_token: None,
            expires_at: None,
            principal: &"alice",
        })
    }
}

/// The headers `sign_lattice` gives a `GET /` to `host` signed with `OneKey`'s key at `at`.
fn signed_get(host: &str, at: SystemTime) -> Vec<(String, String)> {
    crate::test_util::sign_lattice(
        "GET",
        host,
        "/",
        &[],
        ("AKIDEXAMPLE", "secret", None),
        "ap-northeast-1",
        at,
    )
}

/// Verifies a `GET /` to `host` with `headers` at `at`: the principal and key cache outcome
/// of a signed request, `None` for an anonymous one, or the error's text.
fn verify_get(
    verifier: &Verifier,
    keys: &OneKey,
    host: &str,
    headers: &[(&str, &str)],
    at: SystemTime,
) -> Result<Option<(&'static str, CacheOutcome)>, String> {
    let headers: Vec<Header<'_>> = headers
        .iter()
        .map(|&(name, value)| Header {
            name,
            value: value.as_bytes(),
        })
        .collect();
    let request = HttpRequest {
        method: "GET",
        target: "/",
        authority: host,
        headers: &headers,
        body: None,
    };
    match verifier.verify(&request, at, keys) {
        Ok(Verified::Signed(s)) => Ok(Some((*s.credential.principal, s.cache))),
        Ok(Verified::Anonymous) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_secret_keeps_the_signing_key_of_its_last_scope() {
    use std::time::{Duration, UNIX_EPOCH};
    let verifier = Verifier::new(Settings::lattice("ap-northeast-1"));
    let day = |n: u64| UNIX_EPOCH + Duration::from_secs(1_795_305_600 + n * 86_400);
    let host = "svc.example";
    let outcome = |keys: &OneKey, at: SystemTime| {
        let signed = signed_get(host, at);
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        match verify_get(&verifier, keys, host, &headers, at) {
            Ok(Some((_, cache))) => cache,
            other => panic!("{other:?}"),
        }
    };
    let keys = OneKey(Secret::new("secret"));
    assert_eq!(outcome(&keys, day(0)), CacheOutcome::Miss);
    assert_eq!(outcome(&keys, day(0)), CacheOutcome::Hit);
    // A new date is a new scope, hence a new key; the slot then holds that one.
    assert_eq!(outcome(&keys, day(1)), CacheOutcome::Miss);
    assert_eq!(outcome(&keys, day(1)), CacheOutcome::Hit);
    assert_eq!(outcome(&keys, day(0)), CacheOutcome::Miss);
    // A clone (a reloaded world) derives afresh.
    let reloaded = OneKey(keys.0.clone());
    assert_eq!(outcome(&reloaded, day(0)), CacheOutcome::Miss);
    assert_eq!(outcome(&keys, day(0)), CacheOutcome::Hit);
}

/// The one pass over the headers matches names in any case, as a pass per name did: a
/// signed request verifies with mixed-case names, repeated lines are told apart, and an
/// unsigned `x-amz-*` line is named as it arrived.
#[test]
fn headers_are_found_by_name_in_any_case() {
    use std::time::{Duration, UNIX_EPOCH};
    let verifier = Verifier::new(Settings::lattice("ap-northeast-1"));
    let at = UNIX_EPOCH + Duration::from_secs(1_795_305_600);
    let host = "svc.example";
    let signed = signed_get(host, at);
    let mixed: Vec<(String, String)> = signed
        .iter()
        .map(|(name, value)| {
            let name = match name.as_str() {
                "authorization" => "Authorization".to_owned(),
                "x-amz-date" => "X-Amz-Date".to_owned(),
                "x-amz-content-sha256" => "X-AMZ-CONTENT-SHA256".to_owned(),
                other => other.to_owned(),
            };
            (name, value.clone())
        })
        .collect();
    let keys = OneKey(Secret::new("secret"));
    let verify = |extra: &[(&str, &str)]| {
        let headers: Vec<(&str, &str)> = mixed
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain(extra.iter().copied())
            .collect();
        verify_get(&verifier, &keys, host, &headers, at).map(|ok| ok.map(|(who, _)| who))
    };
    assert_eq!(verify(&[]), Ok(Some("alice")));
    // The same value again (after trimming) is not ambiguous, but both lines of a signed
    // header enter the canonical request (`v,v`), so the signature no longer matches; a
    // different value is ambiguous.
    let date = signed
        .iter()
        .find(|(name, _)| name == "x-amz-date")
        .map(|(_, value)| format!(" {value} "))
        .unwrap();
    assert_eq!(
        verify(&[("x-amz-date", &date)]),
        Err(SigV4Error::SignatureDoesNotMatch.to_string())
    );
    assert_eq!(
        verify(&[("X-AMZ-DATE", "20261122T000001Z")]),
        Err(
            "The request contains more than one 'x-amz-date' header with different values."
                .to_owned()
        )
    );
    assert_eq!(
        verify(&[("AUTHORIZATION", "AWS4-HMAC-SHA256 Credential=x")]),
        Err(SigV4Error::MultipleAuthorizationHeaders.to_string())
    );
    assert_eq!(
        verify(&[("Host", "other.example")]),
        Err("The request contains more than one 'host' header with different values.".to_owned())
    );
    assert_eq!(
        verify(&[("X-Amz-Meta-Role", "admin")]),
        Err("'X-Amz-Meta-Role' must be a 'SignedHeader' in the AWS Authorization.".to_owned())
    );
}

#[test]
fn signatures_are_lowercase_hex() {
    let mut out = [0u8; 4];
    assert_eq!(
        decode_lower_hex(b"00ff7a", &mut out),
        Some(&[0x00, 0xff, 0x7a][..])
    );
    assert_eq!(decode_lower_hex(b"", &mut out), Some(&[][..]));
    for bad in [&b"00FF"[..], b"0g", b"0", b"0 ", b"0123456789"] {
        assert_eq!(decode_lower_hex(bad, &mut out), None, "{bad:?}");
    }
}
