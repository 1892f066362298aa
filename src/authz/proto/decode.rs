//! The `CheckRequest` read where it lies: the fields a decision uses, as slices of the gRPC
//! message's bytes.
//!
//! prost builds a `CheckRequest` of owned strings and a hashed header map: an allocation for
//! every string and header line. For the whole-Check bench's signed request (660 bytes) that took
//! 0.95 µs and 36 allocations before the decision began; reading it here takes 0.33 µs and
//! allocates nothing (`cargo bench --bench check`, `--bench check_allocs`).
//!
//! It reads what prost reads (the tests hold the two against each other on generated and on
//! mutated messages): fields come in any order and the last value of a field wins; repeated
//! occurrences of a message merge; a oneof member replaces the member set before it; a map entry
//! replaces an earlier entry with the same key; unknown fields are skipped, groups too, to
//! prost's nesting limit of 100. Refused, as prost refuses them: a truncated varint or one longer
//! than ten bytes, a length past the end of its message, a key above 32 bits, with field number 0
//! or wire type 6 or 7, a known field with the wrong wire type, a string that is not UTF-8, and a
//! group end that closes nothing.
//!
//! Two differences, both deliberate. The contents of fields no decision reads (metadata, TLS
//! session, request time, pipe and internal addresses) are skipped as bytes, where prost decodes
//! and can refuse them. And a header list is counted as sent: more than [`MAX_HEADERS`] entries
//! in the joined map are too many even when some repeat a key (prost would keep the last of each
//! and count fewer), which bounds the work of de-duplicating them.
//!
//! Field numbers are those of `envoy/service/auth/v3/external_auth.proto`,
//! `envoy/service/auth/v3/attribute_context.proto` and `envoy/config/core/v3/{address,base}.proto`.

use smallvec::SmallVec;

use super::limits::{MAX_HEADERS, RECURSION_LIMIT};
use crate::sigv4::Header;

/// Wire types (protobuf encoding, "Message Structure").
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const GROUP_START: u8 = 3;
const GROUP_END: u8 = 4;
const I32: u8 = 5;

/// Why a `CheckRequest`'s bytes cannot be read, and where. Small, so that every read's `Result`
/// comes back in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    fault: Fault,
    message: Message,
    /// The field being read; 0 while reading a key.
    field: u32,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field {
            0 => write!(f, "{} (in {})", self.fault, self.message),
            field => write!(f, "{} (field {field} of {})", self.fault, self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// What is wrong.
    pub fn fault(&self) -> Fault {
        self.fault
    }
}

/// What is wrong with a `CheckRequest`'s bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// A varint runs past its message or over ten bytes.
    #[error("a varint is truncated or longer than ten bytes")]
    Varint,
    /// A field key above 32 bits, with field number 0, or with wire type 6 or 7.
    #[error("a field key is invalid")]
    Key,
    /// A length-delimited or fixed-size field runs past the end of its message.
    #[error("a field runs past the end of its message")]
    Truncated,
    /// A known field with another wire type than its own.
    #[error("a field has the wrong wire type")]
    WireType,
    /// A string field that is not UTF-8.
    #[error("a string is not UTF-8")]
    NotUtf8,
    /// A group end without its start, or with another field number.
    #[error("a group end tag matches no group start")]
    GroupEnd,
    /// Messages and groups nested deeper than prost allows.
    #[error("fields are nested more than {RECURSION_LIMIT} levels deep")]
    TooDeep,
}

/// The message a reader is in, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    CheckRequest,
    AttributeContext,
    Peer,
    Address,
    SocketAddress,
    Request,
    HttpRequest,
    HeaderMap,
    HeaderValue,
    /// An entry of a `map<string, string>`.
    MapEntry,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::CheckRequest => "CheckRequest",
            Message::AttributeContext => "AttributeContext",
            Message::Peer => "AttributeContext.Peer",
            Message::Address => "Address",
            Message::SocketAddress => "SocketAddress",
            Message::Request => "AttributeContext.Request",
            Message::HttpRequest => "AttributeContext.HttpRequest",
            Message::HeaderMap => "HeaderMap",
            Message::HeaderValue => "HeaderValue",
            Message::MapEntry => "a map entry",
        })
    }
}

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
    let mut r = Reader {
        bytes,
        depth: RECURSION_LIMIT,
        message: Message::CheckRequest,
    };
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => attributes(fields, r.message(field, wire, Message::AttributeContext)?)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext`.
fn attributes<'a>(fields: &mut Fields<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => peer(&mut fields.source, r.message(field, wire, Message::Peer)?)?,
            2 => peer(
                &mut fields.destination,
                r.message(field, wire, Message::Peer)?,
            )?,
            4 => request(fields, r.message(field, wire, Message::Request)?)?,
            10 => {
                let (key, value) = r.map_entry(field, wire)?;
                if key == "vpc_endpoint" {
                    fields.vpc_endpoint = Some(value);
                }
            }
            // metadata_context, tls_session, route_metadata_context
            11..=13 => r.unread_message(field, wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext.Peer`: only its address is kept.
fn peer<'a>(out: &mut PeerAddress<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => address(out, r.message(field, wire, Message::Address)?)?,
            // service, principal, certificate
            2 | 4 | 5 => r.unread_string(field, wire)?,
            // labels
            3 => r.map_entry(field, wire).map(drop)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `envoy.config.core.v3.Address`, a oneof: a member replaces another, the same member merges.
fn address<'a>(out: &mut PeerAddress<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                let body = r.message(field, wire, Message::SocketAddress)?;
                if !out.socket {
                    *out = PeerAddress {
                        socket: true,
                        address: "",
                    };
                }
                socket_address(out, body)?;
            }
            // pipe, envoy_internal_address
            2 | 3 => {
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
            2 => out.address = r.string(field, wire)?,
            // protocol, port_value, ipv4_compat
            1 | 3 | 6 => r.unread_varint(field, wire)?,
            // named_port, resolver_name, network_namespace_filepath
            4 | 5 | 7 => r.unread_string(field, wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `AttributeContext.Request`.
fn request<'a>(fields: &mut Fields<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            // time
            1 => r.unread_message(field, wire)?,
            2 => {
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
            2 => fields.method = r.string(field, wire)?,
            3 => {
                let (name, value) = r.map_entry(field, wire)?;
                fields.joined.insert(name, value);
            }
            4 => fields.path = r.string(field, wire)?,
            5 => fields.host = r.string(field, wire)?,
            6 => fields.scheme = r.string(field, wire)?,
            11 => fields.body = r.string(field, wire)?,
            12 => fields.raw_body = r.bytes(field, wire)?,
            13 => header_map(&mut fields.raw, r.message(field, wire, Message::HeaderMap)?)?,
            // id, query, fragment, protocol
            1 | 7 | 8 | 10 => r.unread_string(field, wire)?,
            // size
            9 => r.unread_varint(field, wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

/// `envoy.config.core.v3.HeaderMap`: each `headers` entry is a line of its own.
fn header_map<'a>(out: &mut Lines<'a>, mut r: Reader<'a>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                let mut line = r.message(field, wire, Message::HeaderValue)?;
                let (mut key, mut value, mut raw_value) = ("", "", &[][..]);
                while let Some((field, wire)) = line.key()? {
                    match field {
                        1 => key = line.string(field, wire)?,
                        2 => value = line.string(field, wire)?,
                        3 => raw_value = line.bytes(field, wire)?,
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

/// The bytes of one message, read front to back.
#[derive(Debug, Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    /// How much deeper its fields may nest (prost's `DecodeContext` budget).
    depth: u32,
    message: Message,
}

impl<'a> Reader<'a> {
    #[cold]
    fn fail(&self, fault: Fault, field: u32) -> DecodeError {
        DecodeError {
            fault,
            message: self.message,
            field,
        }
    }

    #[inline(always)]
    fn varint(&mut self, field: u32) -> Result<u64, DecodeError> {
        // Keys and most lengths are one byte.
        if let Some((&byte, rest)) = self.bytes.split_first()
            && byte < 0x80
        {
            self.bytes = rest;
            return Ok(u64::from(byte));
        }
        self.long_varint(field)
    }

    /// A varint of more than one byte (or none): out of line, so that every inlined
    /// [`Reader::varint`] is a comparison and a branch, and the code of a Check stays small.
    #[inline(never)]
    fn long_varint(&mut self, field: u32) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for (i, &byte) in self.bytes.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                // The tenth byte holds the 64th bit, nothing more.
                if i == 9 && byte > 1 {
                    break;
                }
                self.bytes = self.bytes.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        Err(self.fail(Fault::Varint, field))
    }

    /// The next field's number and wire type; `None` at the end of the message.
    #[inline(always)]
    fn key(&mut self) -> Result<Option<(u32, u8)>, DecodeError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint(0)?;
        let field = u32::try_from(key >> 3)
            .ok()
            .filter(|&f| f != 0 && key >> 32 == 0);
        let wire = (key & 7) as u8;
        match field {
            Some(field) if wire <= I32 => Ok(Some((field, wire))),
            _ => Err(self.fail(Fault::Key, 0)),
        }
    }

    #[inline(always)]
    fn take(&mut self, len: u64, field: u32) -> Result<&'a [u8], DecodeError> {
        match usize::try_from(len)
            .ok()
            .and_then(|len| Some((self.bytes.get(..len)?, self.bytes.get(len..)?)))
        {
            Some((taken, rest)) => {
                self.bytes = rest;
                Ok(taken)
            }
            None => Err(self.fail(Fault::Truncated, field)),
        }
    }

    /// A length-delimited field's bytes.
    #[inline(always)]
    fn bytes(&mut self, field: u32, wire: u8) -> Result<&'a [u8], DecodeError> {
        if wire != LEN {
            return Err(self.fail(Fault::WireType, field));
        }
        let len = self.varint(field)?;
        self.take(len, field)
    }

    #[inline(always)]
    fn string(&mut self, field: u32, wire: u8) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(field, wire)?;
        std::str::from_utf8(bytes).map_err(|_| self.fail(Fault::NotUtf8, field))
    }

    /// A string field no decision reads: checked, as prost checks it.
    fn unread_string(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        self.string(field, wire).map(drop)
    }

    /// A varint field (integer, enum or bool) whose value no decision reads.
    fn unread_varint(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        if wire != VARINT {
            return Err(self.fail(Fault::WireType, field));
        }
        self.varint(field).map(drop)
    }

    /// An embedded message's bytes, read by a reader of their own, one level deeper.
    fn message(
        &mut self,
        field: u32,
        wire: u8,
        message: Message,
    ) -> Result<Reader<'a>, DecodeError> {
        let bytes = self.bytes(field, wire)?;
        let depth = self
            .depth
            .checked_sub(1)
            .ok_or_else(|| self.fail(Fault::TooDeep, field))?;
        Ok(Reader {
            bytes,
            depth,
            message,
        })
    }

    /// A message field no decision reads: its bytes are skipped, not looked into.
    fn unread_message(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        self.message(field, wire, self.message).map(drop)
    }

    /// A `map<string, string>` entry: key and value default to empty, the last of each wins.
    fn map_entry(&mut self, field: u32, wire: u8) -> Result<(&'a str, &'a str), DecodeError> {
        let mut entry = self.message(field, wire, Message::MapEntry)?;
        let (mut key, mut value) = ("", "");
        while let Some((field, wire)) = entry.key()? {
            match field {
                1 => key = entry.string(field, wire)?,
                2 => value = entry.string(field, wire)?,
                _ => entry.skip(field, wire)?,
            }
        }
        Ok((key, value))
    }

    /// Skips a field no decision reads, as prost's `skip_field` does: a group's fields one by
    /// one, each nesting level counted against the depth budget.
    fn skip(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        self.skip_at(field, wire, self.depth)
    }

    fn skip_at(&mut self, field: u32, wire: u8, depth: u32) -> Result<(), DecodeError> {
        let Some(inner_depth) = depth.checked_sub(1) else {
            return Err(self.fail(Fault::TooDeep, field));
        };
        match wire {
            VARINT => self.varint(field).map(drop),
            I64 => self.take(8, field).map(drop),
            LEN => {
                let len = self.varint(field)?;
                self.take(len, field).map(drop)
            }
            I32 => self.take(4, field).map(drop),
            GROUP_START => loop {
                let Some((inner, inner_wire)) = self.key()? else {
                    return Err(self.fail(Fault::Varint, field));
                };
                if inner_wire == GROUP_END {
                    return if inner == field {
                        Ok(())
                    } else {
                        Err(self.fail(Fault::GroupEnd, inner))
                    };
                }
                self.skip_at(inner, inner_wire, inner_depth)?;
            },
            _ => Err(self.fail(Fault::GroupEnd, field)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use envoy_types::ext_authz::v3::pb::CheckRequest;
    use envoy_types::pb::envoy::config::core::v3::{
        Address, HeaderMap, HeaderValue, Pipe, SocketAddress, address, socket_address,
    };
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
        HttpRequest, Peer, Request, TlsSession,
    };
    use envoy_types::pb::google::protobuf::Timestamp;
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;

    /// What a decision reads, owned: from prost's message or from [`Fields`].
    #[derive(Debug, PartialEq, Eq)]
    struct Seen {
        http: bool,
        method: String,
        path: String,
        host: String,
        scheme: String,
        body: String,
        raw_body: Vec<u8>,
        joined: BTreeMap<String, Vec<u8>>,
        raw: Vec<(String, Vec<u8>)>,
        raw_bytes: usize,
        source: Option<String>,
        destination: Option<String>,
        vpc_endpoint: Option<String>,
    }

    fn socket_text(peer: Option<&Peer>) -> Option<String> {
        match peer?.address.as_ref()?.address.as_ref()? {
            address::Address::SocketAddress(s) => Some(s.address.clone()),
            _ => None,
        }
    }

    fn seen_by_prost(request: &CheckRequest) -> Seen {
        let attributes = request.attributes.as_ref();
        let http = attributes
            .and_then(|a| a.request.as_ref())
            .and_then(|r| r.http.as_ref());
        let default = HttpRequest::default();
        let h = http.unwrap_or(&default);
        let lines = h.header_map.as_ref().map_or(&[][..], |m| &m.headers[..]);
        Seen {
            http: http.is_some(),
            method: h.method.clone(),
            path: h.path.clone(),
            host: h.host.clone(),
            scheme: h.scheme.clone(),
            body: h.body.clone(),
            raw_body: h.raw_body.clone(),
            joined: h
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                .collect(),
            raw: lines
                .iter()
                .map(|l| {
                    let value = if l.raw_value.is_empty() {
                        l.value.clone().into_bytes()
                    } else {
                        l.raw_value.clone()
                    };
                    (l.key.clone(), value)
                })
                .collect(),
            raw_bytes: lines
                .iter()
                .map(|l| l.key.len() + l.value.len().max(l.raw_value.len()))
                .sum(),
            source: socket_text(attributes.and_then(|a| a.source.as_ref())),
            destination: socket_text(attributes.and_then(|a| a.destination.as_ref())),
            vpc_endpoint: attributes
                .and_then(|a| a.context_extensions.get("vpc_endpoint"))
                .cloned(),
        }
    }

    fn seen_by_us(bytes: &[u8]) -> Result<Seen, DecodeError> {
        let mut f = Fields::default();
        check_request(bytes, &mut f)?;
        let joined: BTreeMap<String, Vec<u8>> = f
            .joined
            .lines
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect();
        assert_eq!(
            joined.len(),
            f.joined.lines.len(),
            "joined names are unique"
        );
        assert_eq!(f.raw.sent, f.raw.lines.len());
        Ok(Seen {
            http: f.http,
            method: f.method.to_owned(),
            path: f.path.to_owned(),
            host: f.host.to_owned(),
            scheme: f.scheme.to_owned(),
            body: f.body.to_owned(),
            raw_body: f.raw_body.to_vec(),
            joined,
            raw: f
                .raw
                .lines
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            raw_bytes: f.raw.bytes,
            source: f.source().map(str::to_owned),
            destination: f.destination().map(str::to_owned),
            vpc_endpoint: f.vpc_endpoint.map(str::to_owned),
        })
    }

    fn fault(bytes: &[u8]) -> Option<Fault> {
        seen_by_us(bytes).err().map(|e| e.fault())
    }

    /// `field` (wire type LEN) holding `body`.
    fn len_field(field: u64, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(field << 3 | 2, &mut out);
        prost::encoding::encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    /// `CheckRequest { attributes { request { http { <http> } } } }`.
    fn in_http(http: &[u8]) -> Vec<u8> {
        len_field(1, &len_field(4, &len_field(2, http)))
    }

    #[test]
    fn an_envoy_request_reads_as_prost_reads_it() {
        let request = crate::test_util::check_request(
            "GET",
            "/a?b=c",
            &[
                ("host".to_owned(), "svc.example".to_owned()),
                ("x-amz-date".to_owned(), "20240204T010203Z".to_owned()),
            ],
            "10.0.0.5",
            "127.0.0.1",
            crate::test_util::HeaderMode::Raw,
        );
        let seen = seen_by_us(&request.encode_to_vec()).unwrap();
        assert_eq!(seen, seen_by_prost(&request));
        assert_eq!(seen.source.as_deref(), Some("10.0.0.5"));
        assert_eq!(
            seen.raw.first(),
            Some(&(":authority".to_owned(), b"svc.example".to_vec()))
        );
    }

    #[test]
    fn refuses_what_prost_refuses() {
        let cases: [(&str, Vec<u8>, Fault); 12] = [
            ("a key without its value", vec![0x0a], Fault::Varint),
            (
                "an eleven-byte varint",
                [&[0x10][..], &[0xff; 10], &[0x01]].concat(),
                Fault::Varint,
            ),
            (
                "a tenth varint byte above 1",
                [&[0x10][..], &[0xff; 9], &[0x02]].concat(),
                Fault::Varint,
            ),
            ("field number 0", vec![0x02, 0x00], Fault::Key),
            ("wire type 6", vec![0x0e], Fault::Key),
            (
                "a key above 32 bits",
                vec![0x80, 0x80, 0x80, 0x80, 0x10],
                Fault::Key,
            ),
            (
                "a length past the end",
                vec![0x0a, 0x05, 0x00],
                Fault::Truncated,
            ),
            ("attributes as a varint", vec![0x08, 0x01], Fault::WireType),
            (
                "a method that is not UTF-8",
                in_http(&len_field(2, b"G\xffT")),
                Fault::NotUtf8,
            ),
            (
                "a header key that is not UTF-8",
                in_http(&len_field(13, &len_field(1, &len_field(1, b"\xc3")))),
                Fault::NotUtf8,
            ),
            (
                "a group end that closes nothing",
                vec![0x14],
                Fault::GroupEnd,
            ),
            (
                "a group closed by another field",
                vec![0x13, 0x1c],
                Fault::GroupEnd,
            ),
        ];
        for (name, bytes, expected) in cases {
            assert!(
                CheckRequest::decode(&bytes[..]).is_err(),
                "prost refuses {name}"
            );
            assert_eq!(fault(&bytes), Some(expected), "{name}");
        }
        // Raw header values are bytes: not UTF-8 is fine there.
        let raw = in_http(&len_field(13, &len_field(1, &len_field(3, b"\xff"))));
        assert!(CheckRequest::decode(&raw[..]).is_ok());
        assert_eq!(seen_by_us(&raw).unwrap().raw, [(String::new(), vec![0xff])]);
    }

    #[test]
    fn groups_nest_as_deep_as_prost_lets_them() {
        // Unknown field 2 of `CheckRequest`, as groups nested `n` deep.
        let nested = |n: usize| [vec![0x13; n], vec![0x14; n]].concat();
        for n in [1, 99, 100, 101, 102] {
            let prost_ok = CheckRequest::decode(&nested(n)[..]).is_ok();
            let ours = fault(&nested(n));
            assert_eq!(ours.is_none(), prost_ok, "{n} groups deep");
            assert_eq!(ours, (n > 100).then_some(Fault::TooDeep), "{n} groups deep");
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        let bytes = in_http(&len_field(2, b"G\xffT"));
        let mut f = Fields::default();
        let error = check_request(&bytes, &mut f).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a string is not UTF-8 (field 2 of AttributeContext.HttpRequest)"
        );
        let mut f = Fields::default();
        let error = check_request(&[0x0a, 0x05, 0x00], &mut f).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a field runs past the end of its message (field 1 of CheckRequest)"
        );
        let bad_key = len_field(1, &[0x0e]);
        let mut f = Fields::default();
        let error = check_request(&bad_key, &mut f).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a field key is invalid (in AttributeContext)"
        );
    }

    #[test]
    fn header_lists_are_counted_as_sent() {
        // 300 entries of one key in the joined map: prost keeps one, the count here is 300.
        let entry = len_field(3, &[len_field(1, b"k"), len_field(2, b"v")].concat());
        let bytes = in_http(&entry.repeat(300));
        let mut f = Fields::default();
        check_request(&bytes, &mut f).unwrap();
        assert_eq!((f.joined.sent, f.joined.lines.len()), (300, 1));
        // Lines past the limit are counted, not kept.
        let line = len_field(13, &len_field(1, &len_field(1, b"k")));
        let bytes = in_http(&line.repeat(300));
        let mut f = Fields::default();
        check_request(&bytes, &mut f).unwrap();
        assert_eq!((f.raw.sent, f.raw.lines.len()), (300, MAX_HEADERS + 1));
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z:-]{1,8}",
            ".{0,12}",
            proptest::collection::vec(any::<char>(), 100..300)
                .prop_map(|c| c.into_iter().collect()),
        ]
    }

    /// Header names and map keys: few, so that messages merged together share some.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("host".to_owned()),
            Just("x-amz-date".to_owned()),
            Just(String::new()),
            text()
        ]
    }

    fn peer() -> impl Strategy<Value = Option<Peer>> {
        let socket = (
            text(),
            any::<u32>(),
            text(),
            proptest::collection::vec((text(), text()), 0..3),
        )
            .prop_map(|(ip, port, service, labels)| Peer {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: ip,
                        port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
                        ..SocketAddress::default()
                    })),
                }),
                service,
                labels: labels.into_iter().collect(),
                ..Peer::default()
            });
        let pipe = text().prop_map(|path| Peer {
            address: Some(Address {
                address: Some(address::Address::Pipe(Pipe { path, mode: 0 })),
            }),
            ..Peer::default()
        });
        prop_oneof![
            Just(None),
            Just(Some(Peer::default())),
            socket.prop_map(Some),
            pipe.prop_map(Some)
        ]
    }

    fn http() -> impl Strategy<Value = HttpRequest> {
        let line = (name(), text(), proptest::collection::vec(any::<u8>(), 0..6)).prop_map(
            |(key, value, raw_value)| HeaderValue {
                key,
                value,
                raw_value,
            },
        );
        (
            proptest::collection::vec(text(), 6),
            proptest::collection::vec((name(), text()), 0..6),
            proptest::option::of(proptest::collection::vec(line, 0..6)),
            proptest::collection::vec(any::<u8>(), 0..8),
            any::<i64>(),
        )
            .prop_map(|(t, headers, lines, raw_body, size)| {
                let [method, path, host, scheme, body, id] =
                    [0, 1, 2, 3, 4, 5].map(|i| t.get(i).cloned().unwrap_or_default());
                HttpRequest {
                    id,
                    method,
                    path,
                    host,
                    scheme,
                    body,
                    raw_body,
                    size,
                    headers: headers.into_iter().collect(),
                    header_map: lines.map(|headers| HeaderMap { headers }),
                    ..HttpRequest::default()
                }
            })
    }

    fn check() -> impl Strategy<Value = CheckRequest> {
        let extension = (prop_oneof![Just("vpc_endpoint".to_owned()), name()], text());
        let attributes = (
            peer(),
            peer(),
            proptest::option::of(proptest::option::of(http())),
            proptest::collection::vec(extension, 0..3),
            proptest::option::of(text()),
            any::<bool>(),
        )
            .prop_map(|(source, destination, http, extensions, sni, time)| {
                AttributeContext {
                    source,
                    destination,
                    request: http.map(|http| Request {
                        time: time.then_some(Timestamp {
                            seconds: 1_700_000_000,
                            nanos: 5,
                        }),
                        http,
                    }),
                    context_extensions: extensions.into_iter().collect(),
                    tls_session: sni.map(|sni| TlsSession { sni }),
                    ..AttributeContext::default()
                }
            });
        proptest::option::of(attributes).prop_map(|attributes| CheckRequest { attributes })
    }

    /// A change to encoded bytes.
    #[derive(Debug, Clone)]
    enum Mutation {
        Set(usize, u8),
        Insert(usize, u8),
        Remove(usize),
        Truncate(usize),
        /// Appends a copy of a stretch: a repeated field or message, when it is one.
        Repeat(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<usize>().prop_map(Mutation::Remove),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Repeat(a, b)),
        ]
    }

    fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *mutation {
            Mutation::Set(i, b) => {
                let i = at(i, bytes.len());
                if let Some(byte) = bytes.get_mut(i) {
                    *byte = b;
                }
            }
            Mutation::Insert(i, b) => bytes.insert(at(i, bytes.len() + 1), b),
            Mutation::Remove(i) => {
                if !bytes.is_empty() {
                    bytes.remove(at(i, bytes.len()));
                }
            }
            Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len() + 1)),
            Mutation::Repeat(a, b) => {
                let (a, b) = (at(a, bytes.len() + 1), at(b, bytes.len() + 1));
                let stretch = bytes[a.min(b)..a.max(b)].to_vec();
                bytes.extend_from_slice(&stretch);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_request_reads_as_prost_reads_it(request in check()) {
            let seen = seen_by_us(&request.encode_to_vec());
            prop_assert_eq!(seen, Ok(seen_by_prost(&request)));
        }

        /// Two messages one after the other are one message, merged: last values win, repeated
        /// fields append, maps replace by key, a oneof member replaces another.
        #[test]
        fn concatenated_requests_merge_as_prost_merges_them(a in check(), b in check()) {
            let bytes = [a.encode_to_vec(), b.encode_to_vec()].concat();
            let merged = CheckRequest::decode(&bytes[..]).unwrap();
            prop_assert_eq!(seen_by_us(&bytes), Ok(seen_by_prost(&merged)));
        }

        /// Whatever prost reads out of damaged bytes is read the same here.
        #[test]
        fn damaged_requests_read_as_prost_reads_them(
            request in check(),
            mutations in proptest::collection::vec(mutation(), 1..4),
        ) {
            let mut bytes = request.encode_to_vec();
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            if let Ok(read) = CheckRequest::decode(&bytes[..]) {
                prop_assert_eq!(seen_by_us(&bytes), Ok(seen_by_prost(&read)));
            }
        }
    }
}
