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
//! By default it answers an empty allow through envoy-types' generated service. With
//! `--answer FILE` it answers every call with the `CheckResponse` whose protobuf bytes the file
//! holds (`load_request --answer` writes lattice-authz's own allow of the benchmark request),
//! copying those bytes into the gRPC frame as lattice-authz does with its own answers (the
//! request is still decoded with prost): Envoy then does the same work with both authorizers'
//! answers, and the null authorizer spends nothing on building or encoding its answer.
//!
//! `cargo run --release -p lattice-authz-bench --bin null_authz -- 127.0.0.1:50061 [--single-loop] [--answer FILE]`

#![allow(
    missing_docs,
    clippy::print_stderr,
    reason = "benchmark peer, not part of the product"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::task::{Context, Poll};

use bytes::{BufMut as _, Bytes};
use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, HttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use prost::Message as _;
use tokio_stream::StreamExt;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};

/// Allows every call with an empty allow.
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

/// Allows every call with the same encoded `CheckResponse` (`--answer`).
#[derive(Debug, Clone)]
struct Fixed(Bytes);

impl tonic::server::NamedService for Fixed {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

impl<B> Service<http::Request<B>> for Fixed
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = self.clone();
        Box::pin(async move {
            if request.uri().path() != "/envoy.service.auth.v3.Authorization/Check" {
                return Ok(tonic::Status::unimplemented("").into_http());
            }
            Ok(tonic::server::Grpc::new(FixedCodec)
                .unary(method, request)
                .await)
        })
    }
}

impl tonic::server::UnaryService<CheckRequest> for Fixed {
    type Response = Bytes;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, tonic::Status>>;

    fn call(&mut self, _request: tonic::Request<CheckRequest>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(self.0.clone())))
    }
}

/// Decodes the request with prost, as the generated service does; copies the answer's bytes.
#[derive(Debug, Clone, Copy, Default)]
struct FixedCodec;

impl Codec for FixedCodec {
    type Encode = Bytes;
    type Decode = CheckRequest;
    type Encoder = FixedCodec;
    type Decoder = FixedCodec;

    fn encoder(&mut self) -> Self::Encoder {
        Self
    }

    fn decoder(&mut self) -> Self::Decoder {
        Self
    }
}

impl Encoder for FixedCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for FixedCodec {
    type Item = CheckRequest;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<CheckRequest>, Self::Error> {
        CheckRequest::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: null_authz ADDRESS:PORT [--single-loop] [--answer FILE]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(64);
    };
    let (mut single_loop, mut answer) = (false, None);
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
                    Ok(fixed) => answer = Some(Fixed(fixed)),
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
        let router = match answer {
            Some(fixed) => tonic::transport::Server::builder().add_service(fixed),
            None => {
                tonic::transport::Server::builder().add_service(AuthorizationServer::new(AllowAll))
            }
        };
        router
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

/// The `CheckResponse` in `path` (its protobuf bytes, as `load_request --answer` writes them),
/// checked to be an allow.
fn read_answer(path: &str) -> Result<Bytes, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let answer = CheckResponse::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
    match &answer.http_response {
        Some(HttpResponse::OkResponse(_)) => Ok(Bytes::from(bytes)),
        _ => Err("not an allow (no ok_response)".to_owned()),
    }
}
