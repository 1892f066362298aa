//! The guard in front of every gRPC route: for a metered method (`Check`, `Explain`) it waits for
//! the request message to arrive, then takes one of the places of the concurrency limit or
//! refuses the call when there is none; it answers a call that runs out of time, and counts
//! every answer of a metered method that the service never gives itself.
//!
//! Why a place is taken only once the request has arrived: a place stands for a Check being
//! decided. A stream that sends its HEADERS and never its DATA costs nothing but its stream (and
//! [`Settings::max_streams_per_connection`] bounds those per connection); when such streams held
//! places, a few connections of them refused every other connection's Checks. On a worker's
//! event loop a Check whose request is in is decided in one step, so the places in use stay near
//! the number of workers unless deciding becomes slow.
//!
//! A Check is counted where it is answered. [`AuthzService::answer`] counts what it answers (its
//! one increment on the hot path); this guard counts the rest, each once: a call refused for lack
//! of capacity (`RESOURCE_EXHAUSTED`, reason `overloaded`), one past its deadline
//! (`DEADLINE_EXCEEDED`, `deadline_exceeded`), one given up before it was answered, by its caller
//! or by tonic when the caller's own `grpc-timeout` ran out first (`CANCELLED`, `cancelled`), and
//! one the gRPC framing refused before it reached `answer` ([`Unanswered`], `undecodable`).
//!
//! It must not decide anything, interpret a request's bytes (it only gathers them, up to
//! [`MAX_REQUEST_BYTES`]) or count an answer a service counted.
//!
//! [`AuthzService::answer`]: super::AuthzService::answer
//! [`Settings::max_streams_per_connection`]: crate::config::Settings::max_streams_per_connection

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quanta::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic::codegen::{Body as _, Service, http};
use tower::Layer;

use crate::metrics::{DecisionLabel, GrpcMethod, Metrics};

use super::DEADLINE_EXCEEDED;

/// The message of a call refused for lack of capacity.
pub(crate) const OVERLOADED: &str = "lattice-authz is overloaded: too many calls in flight";

/// The most bytes of a metered call's request gathered before it is passed on: tonic's limit on
/// a decoded message (4 MiB) and the 5 bytes of the gRPC message header. A request that goes on
/// is passed on cut there, and the gRPC framing refuses it as it refuses any message over its
/// limit.
pub(crate) const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024 + 5;

/// What every route answers with.
type Response = http::Response<Body>;

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
    /// The places of the concurrency limit, shared by every worker.
    places: Arc<Semaphore>,
}

impl GuardLayer {
    /// A guard answering `DEADLINE_EXCEEDED` to a call not answered within `deadline`, refusing
    /// a metered call whose request has arrived while `max_concurrent` others are being decided,
    /// and counting in `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>, deadline: Duration, max_concurrent: usize) -> Self {
        Self {
            metrics,
            deadline,
            places: Arc::new(Semaphore::new(max_concurrent.min(Semaphore::MAX_PERMITS))),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            metrics: self.metrics.clone(),
            deadline: self.deadline,
            places: self.places.clone(),
        }
    }
}

/// See the module: gathers a metered call's request, sheds what has no place, answers what runs
/// out of time, and counts both.
#[derive(Debug, Clone)]
pub(crate) struct Guard<S> {
    inner: S,
    metrics: Arc<Metrics>,
    deadline: Duration,
    places: Arc<Semaphore>,
}

impl<S> Service<http::Request<Body>> for Guard<S>
where
    S: Service<http::Request<Body>, Response = Response, Error = Infallible> + Clone + Unpin,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Never wait for room here: whether there is room is known only once the request is in.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Guarded<S> {
        let started = Instant::now();
        let method = GrpcMethod::from_path(request.uri().path());
        // The clone is the service that stays ready for the next call; this one (polled ready
        // by whoever called this guard) takes the request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let Some(method) = method else {
            // Health and reflection: not Checks, no place, nothing to count.
            return Guarded {
                call: Call::Running {
                    inner: inner.call(request),
                    _place: None,
                },
                started,
                deadline: self.deadline,
                timer: None,
                meter: None,
            };
        };
        let (parts, body) = request.into_parts();
        Guarded {
            call: Call::Receiving {
                inner,
                parts: Some(parts),
                body,
                received: Received::default(),
                places: self.places.clone(),
            },
            started,
            deadline: self.deadline,
            timer: None,
            meter: Some(Meter {
                metrics: self.metrics.clone(),
                method,
            }),
        }
    }
}

/// The bytes of a request received so far: most requests arrive in one DATA frame, kept as it
/// came; more frames are joined.
#[derive(Debug, Default)]
struct Received {
    first: Option<Bytes>,
    more: Option<BytesMut>,
    len: usize,
}

impl Received {
    /// Adds `chunk`; whether the request is now over [`MAX_REQUEST_BYTES`].
    fn push(&mut self, chunk: Bytes) -> bool {
        self.len = self.len.saturating_add(chunk.len());
        match (&self.first, &mut self.more) {
            (None, _) => self.first = Some(chunk),
            (Some(first), None) => {
                let mut joined = BytesMut::with_capacity(self.len);
                joined.extend_from_slice(first);
                joined.extend_from_slice(&chunk);
                self.more = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&chunk),
        }
        self.len > MAX_REQUEST_BYTES
    }

    /// The request as one body, cut at [`MAX_REQUEST_BYTES`].
    fn into_body(self) -> Body {
        let mut bytes = match (self.first, self.more) {
            (_, Some(joined)) => joined.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        };
        bytes.truncate(MAX_REQUEST_BYTES);
        Body::new(http_body_util::Full::new(bytes))
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
pub(crate) struct Guarded<S: Service<http::Request<Body>>> {
    call: Call<S>,
    started: Instant,
    deadline: Duration,
    /// Set the first time the call is not done at once: most calls never need it.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Where the call is counted if the guard answers it or it ends unanswered: `None` for an
    /// unmetered method, and once the answer is counted (or the service counted it).
    meter: Option<Meter>,
}

#[expect(
    clippy::large_enum_variant,
    reason = "the call lives in its stream's task either way; boxing would allocate per Check"
)]
enum Call<S: Service<http::Request<Body>>> {
    /// A metered call whose request is still arriving.
    Receiving {
        inner: S,
        /// Taken when the request is passed on.
        parts: Option<http::request::Parts>,
        body: Body,
        received: Received,
        places: Arc<Semaphore>,
    },
    /// Passed on to the service, holding its place (a metered call) until it is answered.
    Running {
        inner: S::Future,
        _place: Option<OwnedSemaphorePermit>,
    },
    /// Answered by the guard.
    Done,
}

impl<S> Guarded<S>
where
    S: Service<http::Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    /// Gathers the request; once it is in, takes a place and passes it on, or refuses it.
    /// `Ready` with an answer when the guard answers.
    fn receive(&mut self, cx: &mut Context<'_>) -> Poll<Option<Response>> {
        let Call::Receiving {
            inner,
            parts,
            body,
            received,
            places,
        } = &mut self.call
        else {
            return Poll::Ready(None);
        };
        // Until the end of the request, or a broken stream: the gRPC framing reads what came
        // and answers it as it answers any request cut short.
        while let Some(Ok(frame)) = ready!(Pin::new(&mut *body).poll_frame(cx)) {
            if let Ok(data) = frame.into_data()
                && received.push(data)
            {
                break;
            }
        }
        let Ok(place) = places.clone().try_acquire_owned() else {
            if let Some(meter) = self.meter.take() {
                meter.refused(
                    tonic::Code::ResourceExhausted,
                    "overloaded",
                    self.started.elapsed(),
                );
            }
            self.call = Call::Done;
            return Poll::Ready(Some(
                tonic::Status::resource_exhausted(OVERLOADED).into_http(),
            ));
        };
        // The routes are always ready; should a service not be, the call waits for it.
        match inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => return Poll::Pending,
        }
        let Some(parts) = parts.take() else {
            return Poll::Ready(Some(
                tonic::Status::internal("lattice-authz passed a request on twice").into_http(),
            ));
        };
        let request = http::Request::from_parts(parts, std::mem::take(received).into_body());
        let future = inner.call(request);
        self.call = Call::Running {
            inner: future,
            _place: Some(place),
        };
        Poll::Ready(None)
    }
}

impl<S> Future for Guarded<S>
where
    S: Service<http::Request<Body>, Response = Response, Error = Infallible> + Unpin,
    S::Future: Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(Some(answer)) = this.receive(cx) {
            return Poll::Ready(Ok(answer));
        }
        if let Call::Running { inner, .. } = &mut this.call
            && let Poll::Ready(Ok(response)) = Pin::new(inner).poll(cx)
        {
            if let Some(meter) = this.meter.take()
                && response.extensions().get::<Unanswered>().is_some()
            {
                let code = response
                    .extensions()
                    .get::<tonic::Status>()
                    .map_or(tonic::Code::Unknown, tonic::Status::code);
                meter.refused(code, "undecodable", this.started.elapsed());
            }
            this.call = Call::Done;
            return Poll::Ready(Ok(response));
        }
        if matches!(this.call, Call::Done) {
            return Poll::Ready(Ok(tonic::Status::internal(
                "lattice-authz polled an answered call",
            )
            .into_http()));
        }
        let (started, deadline) = (this.started, this.deadline);
        let timer = this.timer.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep(
                deadline.saturating_sub(started.elapsed()),
            ))
        });
        ready!(timer.as_mut().poll(cx));
        if let Some(meter) = this.meter.take() {
            meter.refused(
                tonic::Code::DeadlineExceeded,
                "deadline_exceeded",
                started.elapsed(),
            );
        }
        this.call = Call::Done;
        Poll::Ready(Ok(
            tonic::Status::deadline_exceeded(DEADLINE_EXCEEDED).into_http()
        ))
    }
}

impl<S: Service<http::Request<Body>>> Drop for Guarded<S> {
    fn drop(&mut self) {
        // Not answered and not counted: the caller reset the stream or closed the connection,
        // the server closed it at the end of its shutdown grace, or tonic answered `CANCELLED`
        // because the caller's own `grpc-timeout` ran out before the guard's deadline.
        if let Some(meter) = self.meter.take() {
            meter.refused(tonic::Code::Cancelled, "cancelled", self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Pending, pending};

    use super::*;

    const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";

    /// A service that never answers: each call it takes keeps its place.
    #[derive(Clone)]
    struct NeverAnswers;

    impl Service<http::Request<Body>> for NeverAnswers {
        type Response = Response;
        type Error = Infallible;
        type Future = Pending<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: http::Request<Body>) -> Self::Future {
            pending()
        }
    }

    fn request(body: Body) -> http::Request<Body> {
        http::Request::post(CHECK).body(body).unwrap()
    }

    fn complete() -> Body {
        Body::new(http_body_util::Full::new(Bytes::from_static(b"\0\0\0\0\0")))
    }

    /// A request body whose end never comes.
    fn open() -> Body {
        Body::new(http_body_util::StreamBody::new(tokio_stream::pending::<
            Result<hyper::body::Frame<Bytes>, Infallible>,
        >()))
    }

    /// Polls `call` once: its answer, if it has one.
    async fn poll_once(call: &mut Guarded<NeverAnswers>) -> Option<Response> {
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *call).poll(cx))).await;
        match polled {
            Poll::Ready(Ok(response)) => Some(response),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => None,
        }
    }

    fn counted(metrics: &Metrics, reason: &str) -> String {
        let series =
            format!("lattice_authz_checks_total{{decision=\"error\",reason=\"{reason}\"}} ");
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(&series).map(str::to_owned))
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_place_is_taken_once_the_request_is_in_and_a_check_without_one_is_refused() {
        let metrics = Arc::new(crate::app::new_metrics("test"));
        let layer = GuardLayer::new(metrics.clone(), Duration::from_secs(60), 2);
        let mut guard = layer.layer(NeverAnswers);

        // Three streams whose request never comes: no place taken, none refused.
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let mut call = guard.call(request(open()));
            assert!(poll_once(&mut call).await.is_none());
            waiting.push(call);
        }
        assert_eq!(layer.places.available_permits(), 2);

        // Two requests that are in take both places; the third is refused at once.
        let mut first = guard.call(request(complete()));
        assert!(poll_once(&mut first).await.is_none());
        let mut second = guard.call(request(complete()));
        assert!(poll_once(&mut second).await.is_none());
        assert_eq!(layer.places.available_permits(), 0);
        let mut third = guard.call(request(complete()));
        let refused = poll_once(&mut third).await.unwrap();
        let status = tonic::Status::from_header_map(refused.headers()).unwrap();
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::ResourceExhausted, OVERLOADED)
        );
        drop(third);
        assert_eq!(counted(&metrics, "overloaded"), "1");
        assert_eq!(counted(&metrics, "cancelled"), "0");

        // A call given up frees its place, and is counted once, as cancelled.
        drop(first);
        assert_eq!(counted(&metrics, "cancelled"), "1");
        let mut fourth = guard.call(request(complete()));
        assert!(poll_once(&mut fourth).await.is_none());
        assert_eq!(layer.places.available_permits(), 0);
        drop((second, fourth, waiting));
        assert_eq!(layer.places.available_permits(), 2);
        assert_eq!(counted(&metrics, "cancelled"), "6");
        assert_eq!(counted(&metrics, "overloaded"), "1");
    }

    #[test]
    fn a_request_over_the_limit_is_passed_on_cut_at_the_limit() {
        let mut received = Received::default();
        assert!(!received.push(Bytes::from(vec![1; MAX_REQUEST_BYTES - 1])));
        assert!(!received.push(Bytes::from_static(&[2])));
        assert!(received.push(Bytes::from_static(&[3, 3])));
        assert_eq!(received.len, MAX_REQUEST_BYTES + 2);
        let (Some(_), Some(joined)) = (&received.first, &received.more) else {
            panic!("{received:?}");
        };
        assert_eq!(joined.len(), MAX_REQUEST_BYTES + 2);
        let body = received.into_body();
        assert_eq!(body.size_hint().exact(), Some(MAX_REQUEST_BYTES as u64));
    }
}
