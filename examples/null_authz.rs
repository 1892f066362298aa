//! The null authorizer of the load benchmarks: an ext_authz gRPC server that allows everything
//! and does nothing else, in two builds:
//!
//! - by default the minimal tonic server (TCP_NODELAY on accepted connections, tokio's
//!   multi-thread runtime sized by the CPUs it may use): what an ext_authz server looks like
//!   when nothing is done about its transport;
//! - with `--single-loop`, served on one single-threaded event loop: lattice-authz's own
//!   transport when it may use one CPU (one gRPC worker, see `src/app/workers.rs`), so that the
//!   difference between the two is lattice-authz's own work.
//!
//! By default it answers an empty allow. With `--answer FILE` it answers every call with the
//! `CheckResponse` whose protobuf bytes the file holds (`load_request --answer` writes
//! lattice-authz's own allow of the benchmark request), so that Envoy does the same work with
//! both answers and a comparison sees only the authorizers' own work.
//!
//! `cargo run --release --example null_authz -- 127.0.0.1:50061 [--single-loop] [--answer FILE]`

#![allow(
    missing_docs,
    clippy::print_stderr,
    reason = "benchmark peer, not part of the product"
)]

use std::net::SocketAddr;
use std::process::ExitCode;

use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, HttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use prost::Message as _;
use tokio_stream::StreamExt;

/// Allows every call with a fixed answer.
#[derive(Debug)]
struct AllowAll(CheckResponse);

impl Default for AllowAll {
    fn default() -> Self {
        Self(CheckResponse {
            status: Some(rpc::Status::default()),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
            dynamic_metadata: None,
        })
    }
}

#[tonic::async_trait]
impl Authorization for AllowAll {
    async fn check(
        &self,
        _request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.0.clone()))
    }
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: null_authz ADDRESS:PORT [--single-loop] [--answer FILE]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(64);
    };
    let (mut single_loop, mut answer) = (false, AllowAll::default());
    let mut flags = args.iter().skip(1);
    while let Some(flag) = flags.next() {
        match flag.as_str() {
            "--single-loop" => single_loop = true,
            "--answer" => {
                let Some(path) = flags.next() else {
                    eprintln!("{USAGE}");
                    return ExitCode::from(64);
                };
                match read_answer(path) {
                    Ok(fixed) => answer = AllowAll(fixed),
                    Err(e) => {
                        eprintln!("null_authz: {path}: {e}");
                        return ExitCode::from(66);
                    }
                }
            }
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(64);
            }
        }
    }
    let mut builder = if single_loop {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("null_authz: cannot start the runtime: {e}");
            return ExitCode::from(69);
        }
    };
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
            let s = s?;
            s.set_nodelay(true)?;
            Ok::<_, std::io::Error>(s)
        });
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tonic::transport::Server::builder()
            .add_service(AuthorizationServer::new(answer))
            .serve_with_incoming_shutdown(incoming, stop)
            .await
            .map_err(std::io::Error::other)
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("null_authz: {e}");
            ExitCode::from(69)
        }
    }
}

/// The `CheckResponse` in `path`: its protobuf bytes, as `load_request --answer` writes them.
fn read_answer(path: &str) -> Result<CheckResponse, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let answer = CheckResponse::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
    match &answer.http_response {
        Some(HttpResponse::OkResponse(_)) => Ok(answer),
        _ => Err("not an allow (no ok_response)".to_owned()),
    }
}
