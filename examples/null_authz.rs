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
//! `cargo run --release --example null_authz -- 127.0.0.1:50061 [--single-loop]`

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
use tokio_stream::StreamExt;

#[derive(Debug, Default)]
struct AllowAll;

#[tonic::async_trait]
impl Authorization for AllowAll {
    async fn check(
        &self,
        _request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(CheckResponse {
            status: Some(rpc::Status::default()),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
            dynamic_metadata: None,
        }))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, single_loop) = match args.as_slice() {
        [addr] => (addr.parse::<SocketAddr>().ok(), false),
        [addr, flag] if flag == "--single-loop" => (addr.parse::<SocketAddr>().ok(), true),
        _ => (None, false),
    };
    let Some(addr) = addr else {
        eprintln!("usage: null_authz ADDRESS:PORT [--single-loop]");
        return ExitCode::from(64);
    };
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
            .add_service(AuthorizationServer::new(AllowAll))
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
