//! The guard in front of every gRPC route: it refuses a call when the concurrency limit behind it
//! has no room, answers a call that runs out of time, and counts every answer of a metered method
//! (`Check`, `Explain`) that the service never gives itself.
//!
//! A Check is counted where it is answered. [`AuthzService::answer`] counts what it answers (its
//! one increment on the hot path); this guard counts the rest, each once: a call refused for lack
//! of capacity (`RESOURCE_EXHAUSTED`, reason `overloaded`), one past its deadline
//! (`DEADLINE_EXCEEDED`, `deadline_exceeded`), one given up before it was answered, by its caller
//! or by tonic when the caller's own `grpc-timeout` ran out first (`CANCELLED`, `cancelled`), and
//! one the gRPC framing refused before it reached `answer` ([`Unanswered`], `undecodable`).
//!
//! It must not decide anything, read a request's body or count an answer a service counted.
//!
//! [`AuthzService::answer`]: super::AuthzService::answer

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use quanta::Instant;
use tonic::codegen::{Service, http};
use tower::Layer;

use crate::metrics::{DecisionLabel, GrpcMethod, Metrics};

use super::DEADLINE_EXCEEDED;

/// The message of a call refused for lack of capacity.
pub(crate) const OVERLOADED: &str = "lattice-authz is overloaded: too many calls in flight";

/// What every route answers with.
type Response = http::Response<tonic::body::Body>;

/// Marks the answer of a Check that never reached [`AuthzService::answer`]: the gRPC framing
/// refused its bytes (too large, compressed, no message, a broken stream). Set by the Check
/// service, counted by the guard.
///
/// [`AuthzService::answer`]: super::AuthzService::answer
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unanswered;

/// Puts a [`Guard`] in front of a service.
#[derive(Debug, Clone)]
pub(crate) struct GuardLayer {
    metrics: Arc<Metrics>,
    deadline: Duration,
}

impl GuardLayer {
    /// A guard answering `DEADLINE_EXCEEDED` to a call not answered within `deadline`, and
    /// counting in `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>, deadline: Duration) -> Self {
        Self { metrics, deadline }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            metrics: self.metrics.clone(),
            deadline: self.deadline,
            overloaded: false,
        }
    }
}

/// See the module: sheds what `inner` has no room for, answers what runs out of time, and counts
/// both.
#[derive(Debug, Clone)]
pub(crate) struct Guard<S> {
    inner: S,
    metrics: Arc<Metrics>,
    deadline: Duration,
    /// Whether `inner` had no room when last asked: the next call is refused.
    overloaded: bool,
}

impl<S, B> Service<http::Request<B>> for Guard<S>
where
    S: Service<http::Request<B>, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Never wait for room: a call that cannot start now is refused at once, so that a burst
        // costs the callers a quick error instead of a queue.
        self.overloaded = match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => false,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => true,
        };
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Guarded<S::Future> {
        let meter = GrpcMethod::from_path(request.uri().path()).map(|method| Meter {
            metrics: self.metrics.clone(),
            method,
        });
        if std::mem::take(&mut self.overloaded) {
            if let Some(meter) = meter {
                meter.refused(tonic::Code::ResourceExhausted, "overloaded", Duration::ZERO);
            }
            return Guarded {
                call: Call::Refused(Some(
                    tonic::Status::resource_exhausted(OVERLOADED).into_http(),
                )),
                meter: None,
            };
        }
        Guarded {
            call: Call::Running {
                inner: self.inner.call(request),
                started: Instant::now(),
                deadline: self.deadline,
                timer: None,
            },
            meter,
        }
    }
}

/// Where a metered call's refusal is counted.
#[derive(Debug)]
struct Meter {
    metrics: Arc<Metrics>,
    method: GrpcMethod,
}

impl Meter {
    /// Counts one answer the service did not give: in the gRPC metric with its code, and for a
    /// Check in the checks counter as an error with `reason`.
    fn refused(self, code: tonic::Code, reason: &str, elapsed: Duration) {
        self.metrics.grpc(self.method, code, elapsed);
        if self.method == GrpcMethod::Check {
            self.metrics.check(DecisionLabel::Error, reason, elapsed);
        }
    }
}

/// A guarded call: the service's answer, or the guard's.
#[derive(Debug)]
pub(crate) struct Guarded<F> {
    call: Call<F>,
    /// Where the call is counted if the guard answers it or it ends unanswered: `None` for an
    /// unmetered method, and once the answer is counted (or the service counted it).
    meter: Option<Meter>,
}

#[derive(Debug)]
enum Call<F> {
    /// Refused at once; the answer until it is taken.
    Refused(Option<Response>),
    /// Passed on to the service.
    Running {
        inner: F,
        started: Instant,
        deadline: Duration,
        /// Set the first time the service is not done at once: most calls never need it.
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Self { call, meter } = self.get_mut();
        let (inner, started, deadline, timer) = match call {
            Call::Refused(answer) => {
                return Poll::Ready(Ok(answer.take().unwrap_or_else(|| {
                    tonic::Status::internal("lattice-authz polled an answered call").into_http()
                })));
            }
            Call::Running {
                inner,
                started,
                deadline,
                timer,
            } => (inner, *started, *deadline, timer),
        };
        if let Poll::Ready(Ok(response)) = Pin::new(inner).poll(cx) {
            if let Some(meter) = meter.take()
                && response.extensions().get::<Unanswered>().is_some()
            {
                let code = response
                    .extensions()
                    .get::<tonic::Status>()
                    .map_or(tonic::Code::Unknown, tonic::Status::code);
                meter.refused(code, "undecodable", started.elapsed());
            }
            return Poll::Ready(Ok(response));
        }
        let timer = timer.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep(
                deadline.saturating_sub(started.elapsed()),
            ))
        });
        ready!(timer.as_mut().poll(cx));
        if let Some(meter) = meter.take() {
            meter.refused(
                tonic::Code::DeadlineExceeded,
                "deadline_exceeded",
                started.elapsed(),
            );
        }
        Poll::Ready(Ok(
            tonic::Status::deadline_exceeded(DEADLINE_EXCEEDED).into_http()
        ))
    }
}

impl<F> Drop for Guarded<F> {
    fn drop(&mut self) {
        // Not answered and not counted: the caller reset the stream or closed the connection,
        // the server closed it at the end of its shutdown grace, or tonic answered `CANCELLED`
        // because the caller's own `grpc-timeout` ran out before the guard's deadline.
        if let Some(meter) = self.meter.take() {
            let elapsed = match &self.call {
                Call::Running { started, .. } => started.elapsed(),
                Call::Refused(_) => Duration::ZERO,
            };
            meter.refused(tonic::Code::Cancelled, "cancelled", elapsed);
        }
    }
}
