//! A `CheckRequest`'s fields, as the decoder left them (`decode`) → [`RequestView`]: borrowed,
//! validated at the edge, and handed to `lattice` as its `Request`.
//!
//! It must not read bytes (that is the decoder's) nor decide anything: a request it refuses is an
//! [`InvalidCheckRequest`], which the service answers with a deny.

use std::net::IpAddr;

use super::decode::Fields;
use super::limits::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_TARGET_BYTES};
use crate::sigv4::Header;

/// A `CheckRequest` that cannot be decided: the request is denied with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCheckRequest {
    /// No `attributes.request.http`.
    #[error("the check request has no HTTP request attributes")]
    MissingHttp,
    /// No `:authority`.
    #[error("the request has no :authority (Host) header")]
    MissingAuthority,
    /// No usable `source.address`.
    #[error("the request has no source address")]
    MissingSource,
    /// The source address is not an IP address.
    #[error("the source address is not an IP address")]
    InvalidSource,
    /// Too many header lines.
    #[error("the request has more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// Too many header bytes.
    #[error("the request headers are larger than {MAX_HEADER_BYTES} bytes")]
    HeadersTooLarge,
    /// Target too long.
    #[error("the request path is longer than {MAX_TARGET_BYTES} bytes")]
    TargetTooLong,
    /// Missing method or path.
    #[error("the request has no method or path")]
    MissingMethodOrPath,
}

impl InvalidCheckRequest {
    /// The body of the 403 a refused request is answered with.
    pub fn deny_body(&self) -> String {
        format!("AccessDeniedException: The request cannot be authorized: {self}")
    }
}

/// The bounds every request is held to, however it arrives: a `CheckRequest` (checked as its view
/// is made), the raw request `check` reads, an `Explain` call; `headers` are its header lines.
pub fn check_bounds(headers: &[Header<'_>], target: &str) -> Result<(), InvalidCheckRequest> {
    header_bounds(headers.len(), header_bytes(headers))?;
    target_bound(target)
}

/// The bytes of header names and values that [`MAX_HEADER_BYTES`] bounds.
fn header_bytes(lines: &[Header<'_>]) -> usize {
    lines.iter().map(|h| h.name.len() + h.value.len()).sum()
}

#[inline]
fn header_bounds(header_lines: usize, header_bytes: usize) -> Result<(), InvalidCheckRequest> {
    if header_lines > MAX_HEADERS {
        return Err(InvalidCheckRequest::TooManyHeaders);
    }
    if header_bytes > MAX_HEADER_BYTES {
        return Err(InvalidCheckRequest::HeadersTooLarge);
    }
    Ok(())
}

#[inline]
fn target_bound(target: &str) -> Result<(), InvalidCheckRequest> {
    if target.len() > MAX_TARGET_BYTES {
        return Err(InvalidCheckRequest::TargetTooLong);
    }
    Ok(())
}

/// The parts of a `CheckRequest` a decision reads, borrowed from the message's bytes.
#[derive(Debug)]
pub struct RequestView<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw path and query.
    pub target: &'a str,
    /// `:authority`.
    pub authority: &'a str,
    /// `:scheme`.
    pub scheme: &'a str,
    /// Client address.
    pub source: IpAddr,
    /// Listener address.
    pub destination: Option<IpAddr>,
    /// `x-request-id`, if present.
    pub request_id: Option<&'a str>,
    /// Explicit VPC endpoint from `context_extensions["vpc_endpoint"]`.
    pub vpc_endpoint: Option<&'a str>,
    /// Every header line: Envoy's raw `header_map` (exact lines, in order) when present, else
    /// the joined `headers` map (in the order its keys first came).
    headers: &'a [Header<'a>],
    body: Option<&'a [u8]>,
}

/// A socket address's text as an IP address.
fn ip(address: Option<&str>) -> Option<Result<IpAddr, InvalidCheckRequest>> {
    Some(
        address?
            .parse()
            .map_err(|_| InvalidCheckRequest::InvalidSource),
    )
}

impl<'f, 'a: 'f> TryFrom<&'f Fields<'a>> for RequestView<'f> {
    type Error = InvalidCheckRequest;

    fn try_from(fields: &'f Fields<'a>) -> Result<Self, Self::Error> {
        if !fields.http {
            return Err(InvalidCheckRequest::MissingHttp);
        }
        let raw = fields.raw.sent > 0;
        let (lines, count, bytes) = if raw {
            (&fields.raw.lines[..], fields.raw.sent, fields.raw.bytes)
        } else {
            let lines = &fields.joined.lines[..];
            (lines, fields.joined.sent, header_bytes(lines))
        };
        header_bounds(count, bytes)?;
        // The first line of a name (the only one, in the joined map), as text.
        let find = |name: &str| -> Option<&'f str> {
            lines
                .iter()
                .find(|h| h.name == name)
                .and_then(|h| std::str::from_utf8(h.value).ok())
        };
        // An empty `:authority` is no authority at all.
        let non_empty = |h: &&str| !h.is_empty();
        let authority = Some(fields.host)
            .filter(non_empty)
            .or_else(|| find(":authority").filter(non_empty))
            .or_else(|| find("host").filter(non_empty))
            .ok_or(InvalidCheckRequest::MissingAuthority)?;
        if fields.method.is_empty() || fields.path.is_empty() {
            return Err(InvalidCheckRequest::MissingMethodOrPath);
        }
        target_bound(fields.path)?;
        let source = ip(fields.source()).ok_or(InvalidCheckRequest::MissingSource)??;
        let destination = ip(fields.destination()).and_then(Result::ok);
        let body = if !fields.raw_body.is_empty() {
            Some(fields.raw_body)
        } else if !fields.body.is_empty() {
            Some(fields.body.as_bytes())
        } else {
            None
        };
        let request_id = find("x-request-id");
        Ok(RequestView {
            method: fields.method,
            target: fields.path,
            authority,
            scheme: if fields.scheme.is_empty() {
                "http"
            } else {
                fields.scheme
            },
            source,
            destination,
            request_id,
            vpc_endpoint: fields.vpc_endpoint,
            headers: lines,
            body,
        })
    }
}

impl<'a> RequestView<'a> {
    /// Every header line, as [`RequestView`] keeps them.
    pub fn headers(&self) -> &'a [Header<'a>] {
        self.headers
    }

    /// The request as `lattice` decides it.
    pub fn lattice_request(&self) -> crate::lattice::Request<'_> {
        crate::lattice::Request {
            method: self.method,
            target: self.target,
            authority: self.authority,
            scheme: self.scheme,
            headers: self.headers,
            body: self.body,
            source: self.source,
            destination: self.destination,
            vpc_endpoint: self.vpc_endpoint,
        }
    }
}
