//! Writes the request of the load benchmarks: for `scripts/bench-load.py`, one gRPC-framed
//! `CheckRequest`; for `scripts/bench-envoy.py` (`--headers`), the same request's header lines for
//! h2load's `-H`. The request is the headline request of `benches/check.rs` (latticeuser →
//! nginx in the built-in example world, SigV4-signed now, through two auth-policy layers and
//! identity policies, raw header lines as Envoy sends them with `encode_raw_headers`), or an
//! anonymous one. The frame is what h2load posts: a zero byte, the big-endian length, the
//! protobuf.
//!
//! With `--answer`, it writes lattice-authz's answer to the signed request instead: the
//! `CheckResponse`'s protobuf bytes (an allow with the identity headers and the dynamic
//! metadata; `signed:headers` or `signed:metadata` keeps one of the two), which
//! `null_authz --answer` sends back to every call.
//!
//! `cargo run --release -p lattice-authz-bench --bin load_request -- signed check.bin`
//! `cargo run --release -p lattice-authz-bench --bin load_request -- --headers signed headers.txt`
//! `cargo run --release -p lattice-authz-bench --bin load_request -- --answer signed answer.bin`

#![allow(
    missing_docs,
    clippy::print_stderr,
    reason = "benchmark tool, not part of the product"
)]

use std::process::ExitCode;
use std::time::SystemTime;

use envoy_types::ext_authz::v3::pb::HttpResponse;
use lattice_authz::test_util::{HeaderMode, check_request, sign_lattice};
use prost::Message;

#[path = "../../../benches/support/check.rs"]
mod support;

const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let header_lines = args.first().is_some_and(|a| a == "--headers");
    let answer = args.first().is_some_and(|a| a == "--answer");
    if header_lines || answer {
        args.remove(0);
    }
    let [case, out] = args.as_slice() else {
        eprintln!("usage: load_request [--headers|--answer] signed|anonymous OUTPUT");
        return ExitCode::from(64);
    };
    if answer {
        return write_answer(case, out);
    }
    // h2load sends its own `accept`; a second, signed one would make a different canonical line.
    let base = [("user-agent", "h2load")];
    let headers = match case.as_str() {
        #[expect(
            clippy::disallowed_methods,
            reason = "the request is signed for a sidecar that reads the wall clock"
        )]
        "signed" => sign_lattice(
            "GET",
            NGINX,
            "/",
            &base,
            (
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                None,
            ),
            "ap-northeast-1",
            SystemTime::now(),
        ),
        "anonymous" => std::iter::once(("host", NGINX))
            .chain(base)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        other => {
            eprintln!("load_request: unknown case {other:?} (signed or anonymous)");
            return ExitCode::from(64);
        }
    };
    if header_lines {
        // `host` is h2load's :authority; the rest as sent.
        let text: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect();
        return write(out, text);
    }
    let request = check_request(
        "GET",
        "/",
        &headers,
        "127.0.0.1",
        "127.0.0.1",
        HeaderMode::Raw,
    );
    let body = request.encode_to_vec();
    let Ok(len) = u32::try_from(body.len()) else {
        eprintln!("load_request: request too large");
        return ExitCode::from(70);
    };
    let mut framed = Vec::with_capacity(body.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&body);
    write(out, framed)
}

/// Writes lattice-authz's answer to the signed benchmark request, as the built-in example world
/// answers it (an allow; its headers depend neither on the signing time nor on `user-agent`).
/// `signed:headers` keeps only its identity headers, `signed:metadata` only its dynamic metadata,
/// to tell what each costs Envoy.
fn write_answer(case: &str, out: &str) -> ExitCode {
    let (keep_headers, keep_metadata) = match case {
        "signed" => (true, true),
        "signed:headers" => (true, false),
        "signed:metadata" => (false, true),
        other => {
            eprintln!(
                "load_request: --answer writes the allow of the signed request (signed, \
                 signed:headers or signed:metadata), not {other:?}"
            );
            return ExitCode::from(64);
        }
    };
    let [(_, request, _), ..] = support::cases();
    let mut answer = match support::service().answer(&request.encode_to_vec()) {
        Ok(answer) => match answer.to_message() {
            Ok(message) if support::status(&message) == 200 => message,
            other => {
                eprintln!("load_request: lattice-authz did not allow the request: {other:?}");
                return ExitCode::from(70);
            }
        },
        Err(status) => {
            eprintln!("load_request: lattice-authz did not answer: {status}");
            return ExitCode::from(70);
        }
    };
    if !keep_metadata {
        answer.dynamic_metadata = None;
    }
    if let (false, Some(HttpResponse::OkResponse(ok))) = (keep_headers, &mut answer.http_response) {
        ok.headers.clear();
    }
    write(out, answer.encode_to_vec())
}

fn write(out: &str, contents: impl AsRef<[u8]>) -> ExitCode {
    match std::fs::write(out, contents) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load_request: cannot write {out}: {e}");
            ExitCode::from(73)
        }
    }
}
