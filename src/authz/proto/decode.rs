//! The `CheckRequest` read where it lies: the fields a decision uses, as slices of the gRPC
//! message's bytes.
//!
//! prost builds a `CheckRequest` of owned strings and a hashed header map: an allocation for
//! every string and header line before the decision begins. Reading it here allocates nothing
//! (`cargo bench --bench check` and `--bench check_allocs` measure both).
//!
//! It reads what prost reads (the tests hold the two against each other on generated and on
//! mutated messages): fields come in any order and the last value of a field wins; repeated
//! occurrences of a message merge; a oneof member replaces the member set before it; a map entry
//! replaces an earlier entry with the same key; unknown fields are skipped, groups too, to
//! prost's nesting limit (`limits::RECURSION_LIMIT`). Refused, as prost refuses them: a truncated
//! varint or one longer than ten bytes, a length past the end of its message, a key above 32
//! bits, with field number 0 or wire type 6 or 7, a known field with the wrong wire type, a string
//! that is not UTF-8, and a group end that closes nothing.
//!
//! Two differences, both deliberate. The contents of fields no decision reads (metadata, TLS
//! session, request time, pipe and internal addresses) are skipped as bytes, where prost decodes
//! and can refuse them. And a header list is counted as sent: more than [`MAX_HEADERS`] entries
//! in the joined map are too many even when some repeat a key (prost would keep the last of each
//! and count fewer), which bounds the work of de-duplicating them.
//!
//! This file knows which fields of which message a decision reads; the field numbers, and the
//! guard that names every field of those messages as envoy-types generates them, are `schema`'s,
//! the wire format is `reader`'s, the errors `error`'s. It must not judge what it reads: whether
//! a request can be decided (a missing field, too many header lines, too long a path) is the
//! request view's (`view`); the decoder only stops keeping header lines one past the limit, and
//! counts the rest.

use smallvec::SmallVec;

use super::limits::MAX_HEADERS;
use crate::sigv4::Header;
use error::Message;
use reader::Reader;
use schema::{
    Address, AttributeContext, CheckRequest, HeaderMap, HeaderValue, HttpRequest, Peer, Request,
    SocketAddress,
};

mod error;
mod reader;
mod schema;
#[cfg(test)]
mod tests;

pub use error::{DecodeError, Fault};

/// One header list of the request, as far as it was kept, and how much was sent.
#[derive(Debug, Default)]
pub(super) struct Lines<'a> {
    /// The lines kept: no more than one over [`MAX_HEADERS`].
    pub(super) lines: SmallVec<[Header<'a>; 24]>,
    /// Entries in the message, kept or not.
    pub(super) sent: usize,
    /// Bytes of names and values in the message (header lines only: the joined map's are counted
    /// over the kept lines, after repeated keys are replaced).
    pub(super) bytes: usize,
}

impl<'a> Lines<'a> {
    fn keep(&self) -> bool {
        self.sent <= MAX_HEADERS
    }

    /// A header line of `header_map`: every line is kept, in order.
    fn push_line(&mut self, name: &'a str, value: &'a str, raw_value: &'a [u8]) {
        if self.keep() {
            self.lines.push(Header {
                name,
                value: if raw_value.is_empty() {
                    value.as_bytes()
                } else {
                    raw_value
                },
            });
        }
        self.sent += 1;
        self.bytes = self
            .bytes
            .saturating_add(name.len() + value.len().max(raw_value.len()));
    }

    /// An entry of the joined `headers` map: a repeated key replaces the earlier value.
    fn insert(&mut self, name: &'a str, value: &'a str) {
        if self.keep() {
            match self.lines.iter_mut().find(|h| h.name == name) {
                Some(line) => line.value = value.as_bytes(),
                None => self.lines.push(Header {
                    name,
                    value: value.as_bytes(),
                }),
            }
        }
        self.sent += 1;
    }
}

/// The socket address text of a `Peer`, when its `Address` holds one.
#[derive(Debug, Default, Clone, Copy)]
struct PeerAddress<'a> {
    /// Whether the `address` oneof holds `socket_address` (not `pipe` or an internal address).
    socket: bool,
    address: &'a str,
}

impl<'a> PeerAddress<'a> {
    fn get(self) -> Option<&'a str> {
        self.socket.then_some(self.address)
    }
}

/// What a decision reads of a `CheckRequest`.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    /// Whether `attributes.request.http` is present.
    pub(super) http: bool,
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    pub(super) host: &'a str,
    pub(super) scheme: &'a str,
    pub(super) body: &'a str,
    pub(super) raw_body: &'a [u8],
    /// `headers`, the joined map.
    pub(super) joined: Lines<'a>,
    /// `header_map`'s lines, exact and in order.
    pub(super) raw: Lines<'a>,
    source: PeerAddress<'a>,
    destination: PeerAddress<'a>,
    /// `context_extensions["vpc_endpoint"]`.
    pub(super) vpc_endpoint: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// The source's socket address text, if its address is a socket address.
    pub(super) fn source(&self) -> Option<&'a str> {
        self.source.get()
    }

    /// The destination's socket address text, if its address is a socket address.
    pub(super) fn destination(&self) -> Option<&'a str> {
        self.destination.get()
    }
}

/// Reads `bytes`, an encoded `envoy.service.auth.v3.CheckRequest`, into `fields` (fresh from
/// `Fields::default()`: they are filled where they lie, not moved).
pub(crate) fn check_request<'a>(
    bytes: &'a [u8],
    fields: &mut Fields<'a>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes, Message::CheckRequest);
    while let Some((field, wire)) = r.key()? {
        match field {
            CheckRequest::ATTRIBUTES => {
                attributes(fields, r.message(field, wire, Message::AttributeContext)?)?;
            }
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext`.
fn attributes<'a>(fields: &mut Fields<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            AttributeContext::SOURCE => {
                peer(&mut fields.source, r.message(field, wire, Message::Peer)?)?;
            }
            AttributeContext::DESTINATION => {
                peer(
                    &mut fields.destination,
                    r.message(field, wire, Message::Peer)?,
                )?;
            }
            AttributeContext::REQUEST => {
                request(fields, r.message(field, wire, Message::Request)?)?;
            }
            AttributeContext::CONTEXT_EXTENSIONS => {
                let (key, value) = r.map_entry(field, wire)?;
                if key == "vpc_endpoint" {
                    fields.vpc_endpoint = Some(value);
                }
            }
            AttributeContext::METADATA_CONTEXT
            | AttributeContext::TLS_SESSION
            | AttributeContext::ROUTE_METADATA_CONTEXT => r.unread_message(field, wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext.Peer`: only its address is kept.
fn peer<'a>(out: &mut PeerAddress<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            Peer::ADDRESS => address(out, r.message(field, wire, Message::Address)?)?,
            Peer::SERVICE | Peer::PRINCIPAL | Peer::CERTIFICATE => r.unread_string(field, wire)?,
            Peer::LABELS => r.map_entry(field, wire).map(drop)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `envoy.config.core.v3.Address`, a oneof: a member replaces another, the same member merges.
fn address<'a>(out: &mut PeerAddress<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            Address::SOCKET_ADDRESS => {
                let body = r.message(field, wire, Message::SocketAddress)?;
                if !out.socket {
                    *out = PeerAddress {
                        socket: true,
                        address: "",
                    };
                }
                socket_address(out, body)?;
            }
            Address::PIPE | Address::ENVOY_INTERNAL_ADDRESS => {
                r.unread_message(field, wire)?;
                *out = PeerAddress::default();
            }
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `envoy.config.core.v3.SocketAddress`: only its address text is kept.
fn socket_address<'a>(out: &mut PeerAddress<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            SocketAddress::ADDRESS => out.address = r.string(field, wire)?,
            SocketAddress::PROTOCOL | SocketAddress::PORT_VALUE | SocketAddress::IPV4_COMPAT => {
                r.unread_varint(field, wire)?;
            }
            SocketAddress::NAMED_PORT
            | SocketAddress::RESOLVER_NAME
            | SocketAddress::NETWORK_NAMESPACE_FILEPATH => r.unread_string(field, wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext.Request`.
fn request<'a>(fields: &mut Fields<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            Request::TIME => r.unread_message(field, wire)?,
            Request::HTTP => {
                let body = r.message(field, wire, Message::HttpRequest)?;
                fields.http = true;
                http(fields, body)?;
            }
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext.HttpRequest`.
fn http<'a>(fields: &mut Fields<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            HttpRequest::METHOD => fields.method = r.string(field, wire)?,
            HttpRequest::HEADERS => {
                let (name, value) = r.map_entry(field, wire)?;
                fields.joined.insert(name, value);
            }
            HttpRequest::PATH => fields.path = r.string(field, wire)?,
            HttpRequest::HOST => fields.host = r.string(field, wire)?,
            HttpRequest::SCHEME => fields.scheme = r.string(field, wire)?,
            HttpRequest::BODY => fields.body = r.string(field, wire)?,
            HttpRequest::RAW_BODY => fields.raw_body = r.bytes(field, wire)?,
            HttpRequest::HEADER_MAP => {
                header_map(&mut fields.raw, r.message(field, wire, Message::HeaderMap)?)?;
            }
            HttpRequest::ID
            | HttpRequest::QUERY
            | HttpRequest::FRAGMENT
            | HttpRequest::PROTOCOL => r.unread_string(field, wire)?,
            HttpRequest::SIZE => r.unread_varint(field, wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `envoy.config.core.v3.HeaderMap`: each `headers` entry is a line of its own.
fn header_map<'a>(out: &mut Lines<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            HeaderMap::HEADERS => {
                let mut line = r.message(field, wire, Message::HeaderValue)?;
                let (mut key, mut value, mut raw_value) = ("", "", &[][..]);
                while let Some((field, wire)) = line.key()? {
                    match field {
                        HeaderValue::KEY => key = line.string(field, wire)?,
                        HeaderValue::VALUE => value = line.string(field, wire)?,
                        HeaderValue::RAW_VALUE => raw_value = line.bytes(field, wire)?,
                        _ => line.skip(field, wire)?,
                    }
                }
                out.push_line(key, value, raw_value);
            }
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}
