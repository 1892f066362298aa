//! The `envoy.service.auth.v3.Authorization` gRPC service, sending [`Answer`]s as they are.
//!
//! The service envoy-types generates takes a prost `CheckResponse` and encodes it; this one is
//! the same route and the same `Grpc` machinery (framing, size limits, status handling), with a
//! codec that passes the request's bytes through undecoded (the service reads them in place) and
//! copies the answer's bytes.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};

use super::{Answer, AuthzService};

/// The path Envoy calls.
const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";

/// Serves `Check` from an [`AuthzService`]; any other method of the service is `UNIMPLEMENTED`.
#[derive(Debug, Clone)]
pub struct AuthorizationServer {
    inner: Arc<AuthzService>,
}

impl AuthorizationServer {
    /// A server answering from `service`.
    pub fn new(service: AuthzService) -> Self {
        Self {
            inner: Arc::new(service),
        }
    }
}

impl tonic::server::NamedService for AuthorizationServer {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

impl<B> Service<http::Request<B>> for AuthorizationServer
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
        if request.uri().path() != CHECK {
            return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) });
        }
        let method = CheckMethod(self.inner.clone());
        Box::pin(async move {
            Ok(tonic::server::Grpc::new(CheckCodec)
                .unary(method, request)
                .await)
        })
    }
}

/// One Check, answered synchronously: the decision needs no I/O.
struct CheckMethod(Arc<AuthzService>);

impl tonic::server::UnaryService<Bytes> for CheckMethod {
    type Response = Answer;
    type Future = std::future::Ready<Result<tonic::Response<Answer>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        std::future::ready(self.0.answer(request.get_ref()).map(tonic::Response::new))
    }
}

/// Hands a `CheckRequest`'s bytes over as they came (the service reads them in place,
/// `decode`), encodes [`Answer`]s by copying their bytes.
#[derive(Debug, Clone, Copy, Default)]
struct CheckCodec;

impl Codec for CheckCodec {
    type Encode = Answer;
    type Decode = Bytes;
    type Encoder = AnswerEncoder;
    type Decoder = RequestBytes;

    fn encoder(&mut self) -> Self::Encoder {
        AnswerEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestBytes
    }
}

/// The message's bytes, without a copy: the gRPC frame's buffer is split off and frozen.
#[derive(Debug, Clone, Copy, Default)]
struct RequestBytes;

impl Decoder for RequestBytes {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct AnswerEncoder;

impl Encoder for AnswerEncoder {
    type Item = Answer;
    type Error = tonic::Status;

    fn encode(&mut self, item: Answer, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}
