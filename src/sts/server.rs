//! The STS listener: HTTP/1.1 on its own port, every path, `POST` forms and `GET` queries, one
//! [`Handler`] call per request, the answer in XML with a fresh request id, one metrics
//! increment and one log line per request.
//!
//! Bounded like the metrics port (`app::http`): a header timeout (also the idle timeout of a
//! kept-alive connection), a connection timeout, a connection cap (connections over it are
//! closed as soon as they are accepted), and here also a body bound enforced while the body is
//! read, and a request timeout for reading it. Accept failures pause with `AcceptBackoff`.
//!
//! It must not: authenticate, authorize or mint anything (the handler does), or log a secret,
//! a session token, a web identity token or a signature: the log line holds the handler's
//! [`LogDetail`], the error code and message (which never quote a sensitive member), and the
//! request's source and id.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::error::{ErrorCode, StsError};
use super::wire::{Action, Answer, Params, render_answer, render_error};
use crate::accept::AcceptBackoff;
use crate::authz::Clock;
use crate::metrics::Metrics;
use crate::sigv4::{Header, HttpRequest};

/// The `action` label of a request whose action is not known.
pub const UNKNOWN_ACTION: &str = "unknown";
/// The `result` label of an answered request.
pub const OK_RESULT: &str = "ok";
/// The log line of every request.
const ANSWERED: &str = "STS request.";
/// Longest error message quoted in a log line, in bytes.
const MAX_LOGGED_MESSAGE: usize = 256;

/// What answers the actions: trust, minting, signatures. Called inline on the connection's
/// task, so it must be quick and must not block (it is CPU-only).
pub trait Handler: Send + Sync + 'static {
    /// Answers one call, read at `now`.
    fn handle(&self, call: &Call<'_>, now: SystemTime) -> Handled;
}

/// One request, read and checked as far as the protocol goes.
#[derive(Debug)]
pub struct Call<'a> {
    /// The action named by `Action=`.
    pub action: Action,
    /// Every parameter of the request.
    pub params: &'a Params,
    /// The request as SigV4 verifies it: method, target, authority, headers (lower-case
    /// names), and the body (always `Some`, possibly empty).
    pub http: HttpRequest<'a>,
    /// The peer's address.
    pub source: IpAddr,
    /// This request's id, as the answer echoes it.
    pub request_id: &'a str,
}

/// The handler's answer and what the log line should say about it.
#[derive(Debug)]
pub struct Handled {
    /// The answer, or the refusal.
    pub result: Result<Answer, StsError>,
    /// Fields for the log line.
    pub log: LogDetail,
}

/// What the handler knows about a request, for its log line. Never a secret, a session token or
/// a JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogDetail {
    /// The authenticated caller's ARN (signed calls) or the token's subject (web identity).
    pub caller: Option<String>,
    /// The role asked for.
    pub role_arn: Option<String>,
    /// The session name asked for.
    pub session_name: Option<String>,
    /// The access key id issued, or the one that signed.
    pub access_key_id: Option<String>,
    /// Expiry of the issued credentials, in Unix seconds.
    pub expiration: Option<i64>,
    /// Which check or policy statement decided, in words.
    pub detail: Option<String>,
}

/// The listener's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes; a larger one is refused with `RequestEntityTooLarge`
    /// (413) as soon as its size is known, before it is read in full.
    pub max_body_bytes: usize,
    /// Time to send a request's head, from when the server starts waiting for one (so also
    /// how long a kept-alive connection may stay idle).
    pub header_timeout: Duration,
    /// Time to send a request's body once its head has arrived; later is `RequestTimeout`.
    pub request_timeout: Duration,
    /// Time a connection may stay open, whatever it does.
    pub connection_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 64 KiB bodies (a web identity token is at most 20,000 characters), 10 s for a head,
    /// 30 s for a body, 5 minutes per connection, 1024 connections.
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            connection_timeout: Duration::from_secs(300),
            max_connections: 1024,
        }
    }
}

/// What every connection shares.
struct Shared {
    handler: Arc<dyn Handler>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

/// Serves STS on `listener` until `shutdown` turns true (or its sender is dropped): then stops
/// accepting, lets open connections finish the request they are on, and returns once every
/// connection has closed (at most the connection timeout later).
///
/// Registers the STS metrics first, so every series exists before the first request.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    metrics.register_sts(&action_labels(), &result_labels());
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let shared = Arc::new(Shared {
        handler,
        metrics,
        clock,
        limits,
    });
    let mut backoff = AcceptBackoff::new("sts");
    loop {
        let stopping = async { shutdown.wait_for(|stop| *stop).await.is_ok() };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.accepted();
                accepted
            }
            Err(e) => {
                tokio::time::sleep(backoff.failed(&e)).await;
                continue;
            }
        };
        // Over the cap, the connection is closed here, before it costs a buffer or a task.
        let Ok(slot) = open.clone().try_acquire_owned() else {
            continue;
        };
        let (shared, http, mut shutdown) = (shared.clone(), http.clone(), shutdown.clone());
        let source = peer.ip();
        tokio::spawn(async move {
            let limits = shared.limits;
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(req, source, &shared).await) }
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let run = async {
                tokio::pin!(connection);
                let stopping = async { shutdown.wait_for(|stop| *stop).await.is_ok() };
                tokio::select! {
                    _ = connection.as_mut() => return,
                    _ = stopping => {}
                }
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            };
            // Past the connection timeout the connection is dropped, closing its socket.
            let _ = tokio::time::timeout(limits.connection_timeout, run).await;
            drop(slot);
        });
    }
    // Every slot free again: every connection has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = open.acquire_many(all).await;
}

/// The `action` label values: every action, then [`UNKNOWN_ACTION`].
fn action_labels() -> Vec<&'static str> {
    Action::ALL
        .iter()
        .map(|a| a.as_str())
        .chain(std::iter::once(UNKNOWN_ACTION))
        .collect()
}

/// The `result` label values: [`OK_RESULT`], then every error code.
fn result_labels() -> Vec<&'static str> {
    std::iter::once(OK_RESULT)
        .chain(ErrorCode::ALL.iter().map(|c| c.as_str()))
        .collect()
}

/// What one request came to, before it is rendered.
struct Outcome {
    action: Option<Action>,
    result: Result<Answer, StsError>,
    log: LogDetail,
    /// Whether the body was left unread (the connection cannot be reused).
    close: bool,
}

impl Outcome {
    fn refused(action: Option<Action>, error: StsError) -> Self {
        Self {
            action,
            result: Err(error),
            log: LogDetail::default(),
            close: false,
        }
    }
}

/// Reads, dispatches, answers, counts and logs one request.
async fn answer(
    req: hyper::Request<Incoming>,
    source: IpAddr,
    shared: &Shared,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let mut id_text = uuid::Uuid::encode_buffer();
    let request_id: &str = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id_text);
    let outcome = run(req, source, request_id, shared).await;
    let Outcome {
        action,
        result,
        log,
        close,
    } = outcome;
    let (status, body, error) = match result.and_then(|a| {
        action.map_or_else(
            || Err(StsError::internal_failure()),
            |action| render_answer(action, &a, request_id),
        )
    }) {
        Ok(xml) => (200u16, xml, None),
        Err(e) => (e.status(), render_error(&e, request_id), Some(e)),
    };
    let elapsed = started.elapsed();
    let action_label = action.map_or(UNKNOWN_ACTION, Action::as_str);
    let result_label = error.as_ref().map_or(OK_RESULT, |e| e.code().as_str());
    shared
        .metrics
        .sts_request(action_label, result_label, elapsed);
    let message = error
        .as_ref()
        .map(|e| clip(e.message(), MAX_LOGGED_MESSAGE));
    let LogDetail {
        caller,
        role_arn,
        session_name,
        access_key_id,
        expiration,
        detail,
    } = &log;
    tracing::info!(
        message = ANSWERED,
        action = action_label,
        result = result_label,
        status,
        error = message,
        caller = caller.as_deref(),
        role_arn = role_arn.as_deref(),
        session_name = session_name.as_deref(),
        access_key_id = access_key_id.as_deref(),
        expiration = *expiration,
        detail = detail.as_deref(),
        source = %source,
        request_id,
        duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if error.as_ref().map(StsError::code) == Some(ErrorCode::MethodNotAllowed) {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Everything between the request's head and the handler's answer.
async fn run(
    req: hyper::Request<Incoming>,
    source: IpAddr,
    request_id: &str,
    shared: &Shared,
) -> Outcome {
    let (parts, body) = req.into_parts();
    if parts.method != hyper::Method::GET && parts.method != hyper::Method::POST {
        return Outcome {
            close: true,
            ..Outcome::refused(None, StsError::method_not_allowed())
        };
    }
    let max = shared.limits.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(max).unwrap_or(u64::MAX)) {
        return Outcome {
            close: true,
            ..Outcome::refused(None, StsError::body_too_large(max))
        };
    }
    let read = Limited::new(body, max).collect();
    let body = match tokio::time::timeout(shared.limits.request_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            let error = if e.downcast_ref::<LengthLimitError>().is_some() {
                StsError::body_too_large(max)
            } else {
                StsError::new(
                    ErrorCode::ValidationError,
                    "The request body could not be read",
                )
            };
            return Outcome {
                close: true,
                ..Outcome::refused(None, error)
            };
        }
        Err(_) => {
            return Outcome {
                close: true,
                ..Outcome::refused(None, StsError::request_timeout())
            };
        }
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(HeaderValue::as_bytes);
    let (action, params) = match Params::parse(parts.method.as_str(), target, content_type, &body) {
        Ok(parsed) => parsed,
        Err(e) => return Outcome::refused(None, e),
    };
    let headers: Vec<Header<'_>> = parts
        .headers
        .iter()
        .map(|(name, value)| Header {
            name: name.as_str(),
            value: value.as_bytes(),
        })
        .collect();
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or_default();
    let call = Call {
        action,
        params: &params,
        http: HttpRequest {
            method: parts.method.as_str(),
            target,
            authority,
            headers: &headers,
            body: Some(&body),
        },
        source,
        request_id,
    };
    let Handled { result, log } = shared.handler.handle(&call, shared.clock.now());
    Outcome {
        action: Some(action),
        result,
        log,
        close: false,
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests;
