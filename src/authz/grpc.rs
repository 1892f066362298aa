//! The `envoy.service.auth.v3.Authorization` gRPC service, sending [`Answer`]s as they are.
//!
//! The service envoy-types generates takes a prost `CheckResponse` and encodes it; this one is
//! the same route and the same `Grpc` machinery (framing, size limits, status handling), with
//! the protobuf layer's codec (`proto::CheckCodec`), which passes the request's bytes through
//! undecoded (the service reads them in place) and copies the answer's bytes.
//!
//! It must not read or write protobuf itself: that is `proto`'s.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};

use super::guard::Unanswered;
use super::proto::CheckCodec;
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
        let service = self.inner.clone();
        Box::pin(async move {
            let mut answered = false;
            let method = CheckMethod {
                service: &service,
                answered: &mut answered,
            };
            let mut response = tonic::server::Grpc::new(CheckCodec)
                .unary(method, request)
                .await;
            if !answered {
                // tonic refused the call before `answer` saw it, so nothing counted it: the
                // guard in front of every route does.
                response.extensions_mut().insert(Unanswered);
            }
            Ok(response)
        })
    }
}

/// One Check, answered synchronously: the decision needs no I/O.
struct CheckMethod<'a> {
    service: &'a AuthzService,
    /// Set when the request reached [`AuthzService::answer`], which counts its answer.
    answered: &'a mut bool,
}

impl tonic::server::UnaryService<Bytes> for CheckMethod<'_> {
    type Response = Answer;
    type Future = std::future::Ready<Result<tonic::Response<Answer>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        *self.answered = true;
        std::future::ready(
            self.service
                .answer(request.get_ref())
                .map(tonic::Response::new),
        )
    }
}
