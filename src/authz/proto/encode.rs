//! The `CheckResponse` in protobuf wire form, written straight from a decision.
//!
//! Envoy's answer comes in two shapes: allow (identity headers to set, the other identity
//! headers to remove) and deny (status, two headers, Lattice's text), each with five
//! dynamic-metadata strings. Built as prost messages they took nineteen allocations and a hashed
//! map per Check, and were then encoded field by field; here each shape is a handful of borrowed
//! views written into one buffer of exactly the answer's length. Lengths come first (an embedded
//! message's length prefix is the sum of its fields' sizes, counted from the string lengths), so
//! the bytes are then written front to back, once, with nothing patched or moved.
//! [`Answer::to_message`] decodes the bytes back with prost: that is how tests read answers,
//! and how every test checks this encoder against prost's decoder.
//!
//! Field numbers are those of `envoy/service/auth/v3/external_auth.proto`,
//! `envoy/config/core/v3/base.proto`, `envoy/type/v3/http_status.proto`,
//! `google/rpc/status.proto` and `google/protobuf/struct.proto`. Like prost, the writer leaves
//! out fields that hold their default value (empty strings, zero numbers), writes fields in
//! ascending field order and uses the shortest varints, so an answer is exactly as long as
//! prost's encoding of the same message.
//!
//! It must not decide what an answer says: the service hands it a [`Response`] of borrowed
//! parts.

use envoy_types::ext_authz::v3::pb::{CheckResponse, HeaderAppendAction};
use prost::Message as _;

/// Wire types (protobuf encoding, "Message Structure").
const VARINT: u8 = 0;
const LEN: u8 = 2;

/// A `CheckResponse`, encoded: what the gRPC codec sends for one Check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer(Vec<u8>);

impl Answer {
    /// The protobuf bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The answer as a prost message.
    ///
    /// # Errors
    ///
    /// If the bytes are not a `CheckResponse` (the encoder's tests make sure they always are).
    pub fn to_message(&self) -> Result<CheckResponse, prost::DecodeError> {
        CheckResponse::decode(self.0.as_slice())
    }
}

/// The `gRPC` status inside the `CheckResponse` (`google.rpc.Status`).
#[derive(Debug)]
pub(in crate::authz) struct Status<'a> {
    pub(in crate::authz) code: tonic::Code,
    pub(in crate::authz) message: &'a str,
}

/// The five dynamic-metadata strings (`google.protobuf.Struct`).
#[derive(Debug)]
pub(in crate::authz) struct Metadata<'a> {
    pub(in crate::authz) decision_id: &'a str,
    pub(in crate::authz) decision: &'a str,
    pub(in crate::authz) reason: &'a str,
    pub(in crate::authz) layer: &'a str,
    pub(in crate::authz) principal: &'a str,
}

/// What Envoy does with the request.
#[derive(Debug)]
pub(in crate::authz) enum Http<'a> {
    /// `OkHttpResponse`: headers to set upstream (overwriting), header names to remove.
    Ok {
        set: &'a [(&'a str, &'a str)],
        remove: &'a [&'a str],
    },
    /// `DeniedHttpResponse`: status code, headers, body.
    Denied {
        status: u16,
        headers: [(&'a str, &'a str); 2],
        body: &'a str,
    },
}

/// A whole `CheckResponse`.
#[derive(Debug)]
pub(in crate::authz) struct Response<'a> {
    pub(in crate::authz) status: Status<'a>,
    pub(in crate::authz) http: Http<'a>,
    /// Left out when the operator turned the dynamic metadata off (`dynamic_metadata: false`).
    pub(in crate::authz) metadata: Option<Metadata<'a>>,
}

impl Response<'_> {
    /// `CheckResponse { status = 1, denied_response = 2 | ok_response = 3, dynamic_metadata = 4 }`.
    pub(in crate::authz) fn encode(&self) -> Answer {
        let (status, http) = (self.status_len(), self.http_len());
        let metadata = self.metadata.as_ref().map(|m| (m, m.struct_len()));
        let mut out = Vec::with_capacity(
            framed(status) + framed(http) + metadata.map_or(0, |(_, l)| framed(l)),
        );
        put_len(&mut out, 1, status);
        put_int32(&mut out, 1, self.status.code as i32);
        put_string(&mut out, 2, self.status.message);
        match &self.http {
            Http::Denied {
                status,
                headers,
                body,
            } => {
                put_len(&mut out, 2, http);
                // `envoy.type.v3.HttpStatus { code = 1 }`, present even when the code is zero.
                put_len(&mut out, 1, int32_len(i32::from(*status)));
                put_int32(&mut out, 1, i32::from(*status));
                for (name, value) in headers {
                    put_header(&mut out, 2, name, value);
                }
                put_string(&mut out, 3, body);
            }
            Http::Ok { set, remove } => {
                put_len(&mut out, 3, http);
                for (name, value) in *set {
                    put_header(&mut out, 2, name, value);
                }
                for name in *remove {
                    // Elements of a repeated string are present even when empty.
                    put_bytes(&mut out, 5, name.as_bytes());
                }
            }
        }
        let Some((metadata, len)) = metadata else {
            return Answer(out);
        };
        put_len(&mut out, 4, len);
        for (key, value) in metadata.entries() {
            // A `map<string, Value>` entry `{ key = 1, value = 2 }`; the value is a
            // `google.protobuf.Value` whose `string_value = 3` is a oneof member, present even
            // when empty.
            put_len(&mut out, 1, entry_len(key, value));
            put_string(&mut out, 1, key);
            put_len(&mut out, 2, framed(value.len()));
            put_bytes(&mut out, 3, value.as_bytes());
        }
        Answer(out)
    }

    /// The answer's exact length: the buffer is allocated once and never grows.
    #[cfg(test)]
    fn encoded_len(&self) -> usize {
        let metadata = self.metadata.as_ref().map_or(0, |m| framed(m.struct_len()));
        framed(self.status_len()) + framed(self.http_len()) + metadata
    }

    /// The body of `google.rpc.Status { code = 1, message = 2 }`.
    fn status_len(&self) -> usize {
        int32_len(self.status.code as i32) + string_len(self.status.message)
    }

    /// The body of `DeniedHttpResponse { status = 1, headers = 2, body = 3 }` or
    /// `OkHttpResponse { headers = 2, headers_to_remove = 5 }`.
    fn http_len(&self) -> usize {
        match &self.http {
            Http::Denied {
                status,
                headers,
                body,
            } => {
                let headers: usize = headers.iter().map(|(k, v)| header_field_len(k, v)).sum();
                framed(int32_len(i32::from(*status))) + headers + string_len(body)
            }
            Http::Ok { set, remove } => {
                let set: usize = set.iter().map(|(k, v)| header_field_len(k, v)).sum();
                set + remove.iter().map(|k| framed(k.len())).sum::<usize>()
            }
        }
    }
}

impl<'a> Metadata<'a> {
    /// The body of `google.protobuf.Struct { fields = 1 }`.
    fn struct_len(&self) -> usize {
        self.entries()
            .iter()
            .map(|(key, value)| framed(entry_len(key, value)))
            .sum()
    }

    /// The five fields in the order they are written.
    fn entries(&self) -> [(&'static str, &'a str); 5] {
        [
            ("decision_id", self.decision_id),
            ("decision", self.decision),
            ("reason", self.reason),
            ("layer", self.layer),
            ("principal", self.principal),
        ]
    }
}

// === lengths ===
//
// Every field number of the answer is below 16, so every key is one byte.

/// The bytes of the shortest varint holding `value`: one per started group of seven bits.
/// Lengths in an answer are almost all below 128; those are told by one comparison.
fn varint_len(value: u64) -> usize {
    if value < 0x80 {
        1
    } else {
        (70 - value.leading_zeros() as usize) / 7
    }
}

/// A length-delimited field with a body of `len` bytes: key, length, body.
fn framed(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// A string field, left out when empty.
fn string_len(value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        framed(value.len())
    }
}

/// An `int32` field, left out when zero; a negative value takes ten bytes, as in protobuf.
fn int32_len(value: i32) -> usize {
    if value == 0 {
        0
    } else {
        1 + varint_len(i64::from(value) as u64)
    }
}

/// The body of `HeaderValueOption { header = 1: HeaderValue { key = 1, value = 2 },
/// append_action = 3 }`, given the `HeaderValue`'s.
fn header_len(header_value: usize) -> usize {
    framed(header_value) + int32_len(OVERWRITE)
}

/// A whole `HeaderValueOption` field: key, length, body.
fn header_field_len(name: &str, value: &str) -> usize {
    framed(header_len(header_value_len(name, value)))
}

/// The body of `HeaderValue { key = 1, value = 2 }`.
fn header_value_len(name: &str, value: &str) -> usize {
    string_len(name) + string_len(value)
}

/// The body of a `map<string, Value>` entry.
fn entry_len(key: &str, value: &str) -> usize {
    string_len(key) + framed(framed(value.len()))
}

// === writing ===

/// How identity headers are set: replacing whatever the client sent.
const OVERWRITE: i32 = HeaderAppendAction::OverwriteIfExistsOrAdd as i32;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    // The mask only spells out that the value fits by now.
    out.push((value & 0x7f) as u8);
}

/// The key of field `field` (below 16) with wire type `wire_type`.
fn put_key(out: &mut Vec<u8>, field: u8, wire_type: u8) {
    out.push(field << 3 | wire_type);
}

/// The key and length of a length-delimited field whose body follows.
fn put_len(out: &mut Vec<u8>, field: u8, len: usize) {
    put_key(out, field, LEN);
    put_varint(out, len as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u8, value: &[u8]) {
    put_len(out, field, value.len());
    out.extend_from_slice(value);
}

/// A string field, left out when empty.
fn put_string(out: &mut Vec<u8>, field: u8, value: &str) {
    if !value.is_empty() {
        put_bytes(out, field, value.as_bytes());
    }
}

/// An `int32` field, left out when zero; negative values are sign-extended to ten bytes.
fn put_int32(out: &mut Vec<u8>, field: u8, value: i32) {
    if value != 0 {
        put_key(out, field, VARINT);
        put_varint(out, i64::from(value) as u64);
    }
}

/// `envoy.config.core.v3.HeaderValueOption { header = 1, append_action = 3 }` around
/// `HeaderValue { key = 1, value = 2 }`: identity headers replace whatever the client sent
/// (lattice-auth §6.3), and the deprecated `append` (2) stays unset, so older Envoys default to
/// overwrite too.
fn put_header(out: &mut Vec<u8>, field: u8, name: &str, value: &str) {
    let header_value = header_value_len(name, value);
    put_len(out, field, header_len(header_value));
    put_len(out, 1, header_value);
    put_string(out, 1, name);
    put_string(out, 2, value);
    put_int32(out, 3, OVERWRITE);
}

#[cfg(test)]
mod tests;
