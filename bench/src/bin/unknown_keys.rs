//! The unknown-key flood of `scripts/soak.py`: sends COUNT checks to a running lattice-authz, each
//! SigV4-signed with a different access key that the world does not know, and prints how they
//! were answered, one line per distinct (gRPC status, HTTP status, body), with its count. An
//! attacker who sprays keys must not grow the sidecar's memory: the soak reads its resident
//! size before and after.
//!
//! `cargo run --release -p lattice-authz-bench --bin unknown_keys -- http://127.0.0.1:9191 1000000`

#![allow(
    missing_docs,
    clippy::print_stderr,
    clippy::print_stdout,
    reason = "load tool, not part of the product"
)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use envoy_types::ext_authz::v3::pb::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use lattice_authz::test_util::{HeaderMode, check_request, sign_lattice};

const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
const CONCURRENCY: u64 = 64;

type Tally = BTreeMap<(i32, u32, String), u64>;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, count] = args.as_slice() else {
        eprintln!("usage: unknown_keys ENDPOINT COUNT");
        return ExitCode::from(64);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("unknown_keys: COUNT must be a number, not {count:?}");
        return ExitCode::from(64);
    };
    let channel = match tonic::transport::Endpoint::from_shared(endpoint.clone()) {
        Ok(e) => match e.connect().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("unknown_keys: cannot connect to {endpoint}: {e}");
                return ExitCode::from(69);
            }
        },
        Err(e) => {
            eprintln!("unknown_keys: bad endpoint {endpoint:?}: {e}");
            return ExitCode::from(64);
        }
    };
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let client = AuthorizationClient::new(channel.clone());
            let next = next.clone();
            tokio::spawn(worker(client, next, count))
        })
        .collect();
    let mut tally = Tally::new();
    for worker in workers {
        match worker.await {
            Ok(part) => {
                for (answer, n) in part {
                    *tally.entry(answer).or_default() += n;
                }
            }
            Err(e) => {
                eprintln!("unknown_keys: a worker failed: {e}");
                return ExitCode::from(70);
            }
        }
    }
    for ((grpc, http, body), n) in &tally {
        println!("{n}\t{grpc}\t{http}\t{body}");
    }
    ExitCode::SUCCESS
}

async fn worker(
    mut client: AuthorizationClient<tonic::transport::Channel>,
    next: Arc<AtomicU64>,
    count: u64,
) -> Tally {
    let mut tally = Tally::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            return tally;
        }
        // Twenty characters, like a real key id, and never one of the world's.
        let key = format!("AKIAUNKNOWN{i:09}");
        #[expect(
            clippy::disallowed_methods,
            reason = "the request is signed for a sidecar that reads the wall clock"
        )]
        let headers = sign_lattice(
            "GET",
            NGINX,
            "/",
            &[],
            (&key, "UnknownSecretEXAMPLEEXAMPLEEXAMPLEEXAMP", None),
            "ap-northeast-1",
            SystemTime::now(),
        );
        let request = check_request(
            "GET",
            "/",
            &headers,
            "127.0.0.1",
            "127.0.0.1",
            HeaderMode::Raw,
        );
        let answer = match client.check(request).await {
            Ok(reply) => {
                let reply = reply.into_inner();
                let grpc = reply.status.map_or(0, |s| s.code);
                match reply.http_response {
                    Some(HttpResponse::DeniedResponse(denied)) => (
                        grpc,
                        denied
                            .status
                            .map_or(0, |s| u32::try_from(s.code).unwrap_or(0)),
                        denied.body,
                    ),
                    Some(HttpResponse::OkResponse(_)) => (grpc, 200, "ALLOWED".to_owned()),
                    _ => (grpc, 0, String::new()),
                }
            }
            Err(status) => (status.code() as i32, 0, status.message().to_owned()),
        };
        *tally.entry(answer).or_default() += 1;
    }
}
