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
mod tests;
