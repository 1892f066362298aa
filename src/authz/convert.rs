//! `CheckRequest` → [`RequestView`]: borrowed, validated at the edge.

use std::collections::HashMap;
use std::net::IpAddr;

use envoy_types::ext_authz::v3::pb::CheckRequest;
use envoy_types::pb::envoy::config::core::v3::{Address, address};
use envoy_types::pb::envoy::service::auth::v3::attribute_context;
use smallvec::SmallVec;

use crate::sigv4::Header;

/// Most header lines a request may carry (Envoy's own default limit is 100).
pub const MAX_HEADERS: usize = 256;

/// Most bytes of header names and values a request may carry, all lines together. Envoy's own
/// default limit (`max_request_headers_kb`) is 60 KiB, so no request Envoy accepts by default
/// is refused here; a larger one cannot be a real Lattice caller's.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Largest request target (path and query) accepted.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;

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

/// The parts of a `CheckRequest` a decision reads, borrowed.
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
    raw: Option<&'a [envoy_types::pb::envoy::config::core::v3::HeaderValue]>,
    joined: &'a HashMap<String, String>,
    body: Option<&'a [u8]>,
}

fn ip(address: Option<&Address>) -> Option<Result<IpAddr, InvalidCheckRequest>> {
    let Address { address } = address?;
    match address.as_ref()? {
        address::Address::SocketAddress(s) => Some(
            s.address
                .parse()
                .map_err(|_| InvalidCheckRequest::InvalidSource),
        ),
        _ => None,
    }
}

impl<'a> TryFrom<&'a CheckRequest> for RequestView<'a> {
    type Error = InvalidCheckRequest;

    fn try_from(request: &'a CheckRequest) -> Result<Self, Self::Error> {
        let attributes = request
            .attributes
            .as_ref()
            .ok_or(InvalidCheckRequest::MissingHttp)?;
        let http = attributes
            .request
            .as_ref()
            .and_then(|r: &attribute_context::Request| r.http.as_ref())
            .ok_or(InvalidCheckRequest::MissingHttp)?;
        let raw = http
            .header_map
            .as_ref()
            .map(|m| &m.headers[..])
            .filter(|h| !h.is_empty());
        let count = raw.map_or(http.headers.len(), <[_]>::len);
        if count > MAX_HEADERS {
            return Err(InvalidCheckRequest::TooManyHeaders);
        }
        let header_bytes: usize = match raw {
            Some(raw) => raw
                .iter()
                .map(|h| h.key.len() + h.value.len().max(h.raw_value.len()))
                .sum(),
            None => http.headers.iter().map(|(k, v)| k.len() + v.len()).sum(),
        };
        if header_bytes > MAX_HEADER_BYTES {
            return Err(InvalidCheckRequest::HeadersTooLarge);
        }
        let find = |name: &str| -> Option<&'a str> {
            match raw {
                Some(raw) => raw.iter().find(|h| h.key == name).and_then(|h| {
                    if h.raw_value.is_empty() {
                        Some(h.value.as_str())
                    } else {
                        std::str::from_utf8(&h.raw_value).ok()
                    }
                }),
                None => http.headers.get(name).map(String::as_str),
            }
        };
        // An empty `:authority` is no authority at all.
        let non_empty = |h: &&str| !h.is_empty();
        let authority = Some(http.host.as_str())
            .filter(non_empty)
            .or_else(|| find(":authority").filter(non_empty))
            .or_else(|| find("host").filter(non_empty))
            .ok_or(InvalidCheckRequest::MissingAuthority)?;
        if http.method.is_empty() || http.path.is_empty() {
            return Err(InvalidCheckRequest::MissingMethodOrPath);
        }
        if http.path.len() > MAX_TARGET_BYTES {
            return Err(InvalidCheckRequest::TargetTooLong);
        }
        let source = ip(attributes.source.as_ref().and_then(|p| p.address.as_ref()))
            .ok_or(InvalidCheckRequest::MissingSource)??;
        let destination = ip(attributes
            .destination
            .as_ref()
            .and_then(|p| p.address.as_ref()))
        .and_then(Result::ok);
        let body = if !http.raw_body.is_empty() {
            Some(&http.raw_body[..])
        } else if !http.body.is_empty() {
            Some(http.body.as_bytes())
        } else {
            None
        };
        Ok(RequestView {
            method: &http.method,
            target: &http.path,
            authority,
            scheme: if http.scheme.is_empty() {
                "http"
            } else {
                &http.scheme
            },
            source,
            destination,
            request_id: find("x-request-id"),
            vpc_endpoint: attributes
                .context_extensions
                .get("vpc_endpoint")
                .map(String::as_str),
            raw,
            joined: &http.headers,
            body,
        })
    }
}

impl<'a> RequestView<'a> {
    /// Every header line: Envoy's raw `header_map` (exact lines, in order) when present, else the
    /// joined `headers` map.
    pub fn headers(&self) -> SmallVec<[Header<'a>; 24]> {
        match self.raw {
            Some(raw) => raw
                .iter()
                .map(|h| Header {
                    name: &h.key,
                    value: if h.raw_value.is_empty() {
                        h.value.as_bytes()
                    } else {
                        &h.raw_value
                    },
                })
                .collect(),
            None => self
                .joined
                .iter()
                .map(|(k, v)| Header {
                    name: k,
                    value: v.as_bytes(),
                })
                .collect(),
        }
    }

    /// The request as `lattice` decides it.
    pub fn lattice_request<'h>(&self, headers: &'h [Header<'a>]) -> crate::lattice::Request<'h>
    where
        'a: 'h,
    {
        crate::lattice::Request {
            method: self.method,
            target: self.target,
            authority: self.authority,
            scheme: self.scheme,
            headers,
            body: self.body,
            source: self.source,
            destination: self.destination,
            vpc_endpoint: self.vpc_endpoint,
        }
    }
}
