//! A real signed request (latticeuser → nginx, which the example world allows) whose signature
//! is changed, then edited further at will: no such request may authenticate anyone. Every
//! response must name `anonymous` as its principal, whatever it decides.
#![no_main]

use std::sync::OnceLock;

use lattice_authz::test_util::HeaderMode;
use lattice_authz_fuzz::{LATTICEUSER, NGINX, envoy_request, principal, service, sign};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

/// One edit after the signature change.
#[derive(Debug, Arbitrary)]
enum Edit {
    /// Replace a header's value.
    Value(u8, String),
    /// Rename a header.
    Name(u8, String),
    /// Drop a header.
    Remove(u8),
    /// Add a header line (a repeat when the name exists).
    Add(String, String),
    /// Replace the method.
    Method(String),
    /// Replace the request target.
    Target(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Envoy's joined header map instead of raw header lines.
    joined: bool,
    /// (position, byte) replacements in the `Signature=` value.
    signature: Vec<(u8, u8)>,
    /// Cut the signature to this length.
    truncate: Option<u8>,
    edits: Vec<Edit>,
}

const SIGNATURE: &str = "Signature=";

/// The headers of GET / from latticeuser to nginx, and the principal an unmodified copy gets.
fn base() -> &'static (Vec<(String, String)>, String) {
    static BASE: OnceLock<(Vec<(String, String)>, String)> = OnceLock::new();
    BASE.get_or_init(|| {
        let headers = sign(
            "GET",
            NGINX,
            "/",
            &[("user-agent", "curl/7.88.1")],
            LATTICEUSER,
        );
        let response = service()
            .check_request(&envoy_request("GET", "/", &headers, HeaderMode::Raw))
            .unwrap_or_default();
        let signer = principal(&response).unwrap_or_default().to_owned();
        assert!(
            signer.starts_with("arn:aws:iam::"),
            "the unmodified request authenticates latticeuser, not `{signer}`"
        );
        (headers, signer)
    })
}

fuzz_target!(|input: Input| {
    let (headers, signer) = base();
    let mut headers = headers.clone();
    let Some((_, authorization)) = headers.iter_mut().find(|(n, _)| n == "authorization") else {
        return;
    };
    let Some(at) = authorization.find(SIGNATURE) else {
        return;
    };
    let original = authorization.split_off(at + SIGNATURE.len());
    let mut signature = original.clone().into_bytes();
    for (position, byte) in &input.signature {
        let i = usize::from(*position) % signature.len().max(1);
        if let Some(b) = signature.get_mut(i) {
            *b = *byte;
        }
    }
    if let Some(len) = input.truncate {
        signature.truncate(usize::from(len));
    }
    let signature = String::from_utf8_lossy(&signature);
    // Hex digits in another case spell the same bytes: that is not a changed signature.
    if signature.eq_ignore_ascii_case(&original) {
        return;
    }
    authorization.push_str(&signature);
    let (mut method, mut target) = ("GET".to_owned(), "/".to_owned());
    for edit in input.edits {
        let len = headers.len().max(1);
        match edit {
            Edit::Value(i, value) => {
                if let Some(h) = headers.get_mut(usize::from(i) % len) {
                    h.1 = value;
                }
            }
            Edit::Name(i, name) => {
                if let Some(h) = headers.get_mut(usize::from(i) % len) {
                    h.0 = name;
                }
            }
            Edit::Remove(i) => {
                if usize::from(i) % len < headers.len() {
                    headers.remove(usize::from(i) % len);
                }
            }
            Edit::Add(name, value) => headers.push((name, value)),
            Edit::Method(m) => method = m,
            Edit::Target(t) => target = t,
        }
    }
    let mode = if input.joined {
        HeaderMode::Joined
    } else {
        HeaderMode::Raw
    };
    let request = envoy_request(&method, &target, &headers, mode);
    let Ok(answer) = service().answer(&request.encode_to_vec()) else {
        return;
    };
    let response = answer
        .to_message()
        .unwrap_or_else(|e| panic!("an answer does not decode: {e}"));
    let who = principal(&response).unwrap_or_default();
    assert!(
        who == "anonymous",
        "a request with a changed signature was taken as `{who}` (the signer is `{signer}`): {request:?}"
    );
});
