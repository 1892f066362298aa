//! Any bytes as an Envoy `CheckRequest` (protobuf), handed to the Check as the gRPC server hands
//! them over (read in place, `authz::proto`), against the built-in example world: every Check
//! answers (allow, deny or a gRPC error) without panicking, bytes prost can decode are always
//! read (never refused), every answer's bytes decode as a `CheckResponse`, and an allow always
//! overwrites or removes every identity header, so a client's own copies never pass through.
#![no_main]

use envoy_types::ext_authz::v3::pb::{CheckRequest, HttpResponse};
use lattice_authz::lattice::IDENTITY_HEADERS;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let answer = lattice_authz_fuzz::service().answer(data);
    if CheckRequest::decode(data).is_ok() {
        if let Err(status) = &answer {
            assert!(
                !status.message().contains("cannot decode the CheckRequest"),
                "bytes prost reads were refused: {status:?}"
            );
        }
    }
    let Ok(answer) = answer else {
        return;
    };
    let response = answer
        .to_message()
        .unwrap_or_else(|e| panic!("an answer does not decode: {e}"));
    if let Some(HttpResponse::OkResponse(ok)) = &response.http_response {
        for name in IDENTITY_HEADERS {
            let set = ok
                .headers
                .iter()
                .any(|h| h.header.as_ref().is_some_and(|h| h.key == name));
            let removed = ok.headers_to_remove.iter().any(|h| h == name);
            assert!(
                set || removed,
                "an allow passes the client's `{name}` through"
            );
        }
    }
});
