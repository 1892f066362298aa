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
mod tests {
    use envoy_types::ext_authz::v3::pb::{
        DeniedHttpResponse, HeaderValue as PbHeaderValue, HeaderValueOption, HttpResponse,
        HttpStatus as PbHttpStatus, OkHttpResponse,
    };
    use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
    use envoy_types::pb::google::rpc;
    use proptest::prelude::*;

    use super::*;

    /// The same answer built as prost messages: the reference the encoder is checked against.
    fn reference(response: &Response<'_>) -> CheckResponse {
        let header = |(k, v): &(&str, &str)| HeaderValueOption {
            header: Some(PbHeaderValue {
                key: (*k).to_owned(),
                value: (*v).to_owned(),
                raw_value: Vec::new(),
            }),
            append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
            ..HeaderValueOption::default()
        };
        let metadata = response.metadata.as_ref().map(|m| Struct {
            fields: [
                ("decision_id", m.decision_id),
                ("decision", m.decision),
                ("reason", m.reason),
                ("layer", m.layer),
                ("principal", m.principal),
            ]
            .into_iter()
            .map(|(k, v)| {
                let value = Value {
                    kind: Some(Kind::StringValue(v.to_owned())),
                };
                (k.to_owned(), value)
            })
            .collect(),
        });
        let http = match &response.http {
            Http::Ok { set, remove } => HttpResponse::OkResponse(OkHttpResponse {
                headers: set.iter().map(header).collect(),
                headers_to_remove: remove.iter().map(|h| (*h).to_owned()).collect(),
                ..OkHttpResponse::default()
            }),
            Http::Denied {
                status,
                headers,
                body,
            } => HttpResponse::DeniedResponse(DeniedHttpResponse {
                status: Some(PbHttpStatus {
                    code: i32::from(*status),
                }),
                headers: headers.iter().map(header).collect(),
                body: (*body).to_owned(),
            }),
        };
        CheckResponse {
            status: Some(rpc::Status {
                code: response.status.code as i32,
                message: response.status.message.to_owned(),
                details: Vec::new(),
            }),
            dynamic_metadata: metadata,
            http_response: Some(http),
        }
    }

    /// Decodes to the reference message, and is exactly as long as prost's own encoding of it
    /// (prost's length does not depend on the order it writes map entries in).
    fn assert_matches_prost(response: &Response<'_>) {
        let answer = response.encode();
        let expected = reference(response);
        assert_eq!(answer.to_message(), Ok(expected.clone()));
        assert_eq!(answer.as_bytes().len(), expected.encoded_len());
        // The buffer was allocated at exactly the answer's length.
        assert_eq!(answer.as_bytes().len(), response.encoded_len());
        assert_eq!(answer.0.capacity(), response.encoded_len());
    }

    const ID: &str = "01234567-89ab-cdef-0123-456789abcdef";

    #[test]
    fn allow_with_identity_headers() {
        let set = [
            (
                "x-amzn-lattice-identity",
                "Principal=arn:aws:iam::111122223333:user/latticeuser; Type=AWS_IAM",
            ),
            (
                "x-amzn-lattice-network",
                "SourceVpcArn=arn:aws:ec2:ap-northeast-1:111122223333:vpc/vpc-0a",
            ),
            ("x-amzn-source-vpc", "vpc-0a"),
        ];
        let remove = ["x-amzn-lattice-identity-tags", "x-amzn-lattice-target"];
        let response = Response {
            status: Status {
                code: tonic::Code::Ok,
                message: "",
            },
            http: Http::Ok {
                set: &set,
                remove: &remove,
            },
            metadata: Some(Metadata {
                decision_id: ID,
                decision: "allow",
                reason: "allowed",
                layer: "service_policy",
                principal: "arn:aws:iam::111122223333:user/latticeuser",
            }),
        };
        assert_matches_prost(&response);
        // An OK status is an empty `google.rpc.Status`: present, with nothing in it.
        assert_eq!(
            response.encode().as_bytes().get(..2),
            Some(&[0x0a, 0x00][..])
        );
        // Without the metadata the answer is the same bytes up to where the metadata began.
        let full = response.encode();
        let bare = Response {
            metadata: None,
            ..response
        };
        assert_matches_prost(&bare);
        let bare = bare.encode();
        assert_eq!(bare.to_message().map(|m| m.dynamic_metadata), Ok(None));
        assert_eq!(
            full.as_bytes().get(..bare.as_bytes().len()),
            Some(bare.as_bytes())
        );
        assert_eq!(full.as_bytes().get(bare.as_bytes().len()), Some(&0x22));
    }

    #[test]
    fn deny_with_status_headers_and_body() {
        let response = Response {
            status: Status {
                code: tonic::Code::PermissionDenied,
                message: "no_service_allow",
            },
            http: Http::Denied {
                status: 403,
                headers: [
                    ("content-type", "text/plain"),
                    ("x-amzn-errortype", "AccessDeniedException"),
                ],
                body: "AccessDeniedException: User: anonymous is not authorized to perform: \
                       vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:ap-northeast-1:\
                       111122223333:service/svc-0123/ because no service-based policy allows \
                       the vpc-lattice-svcs:Invoke action",
            },
            metadata: Some(Metadata {
                decision_id: ID,
                decision: "deny",
                reason: "no_service_allow",
                layer: "service_policy",
                principal: "anonymous",
            }),
        };
        assert_matches_prost(&response);
    }

    #[test]
    fn varint_lengths_at_every_boundary() {
        for bits in 0..64 {
            for value in [(1u64 << bits) - 1, 1u64 << bits, (1u64 << bits) + 1] {
                let mut out = Vec::new();
                put_varint(&mut out, value);
                // Shortest form: one byte per started group of seven bits.
                let bits = 64 - (value | 1).leading_zeros() as usize;
                assert_eq!(out.len(), bits.div_ceil(7), "{value}");
                assert_eq!(varint_len(value), out.len(), "{value}");
                assert_eq!(
                    prost::encoding::decode_varint(&mut out.as_slice()),
                    Ok(value)
                );
            }
        }
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    fn text() -> impl Strategy<Value = String> {
        // Empty, short, and long enough for two- and three-byte lengths.
        prop_oneof![
            Just(String::new()),
            ".{0,20}",
            proptest::collection::vec(any::<char>(), 100..20_000)
                .prop_map(|c| c.into_iter().collect()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_allow_matches_prost(
            values in proptest::collection::vec((text(), text()), 0..6),
            remove in proptest::collection::vec(text(), 0..6),
            meta in proptest::collection::vec(text(), 5),
            with_metadata in any::<bool>(),
        ) {
            let set: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
            let [id, decision, reason, layer, principal] = [0, 1, 2, 3, 4].map(|i| meta.get(i).map_or("", String::as_str));
            assert_matches_prost(&Response {
                status: Status { code: tonic::Code::Ok, message: "" },
                http: Http::Ok { set: &set, remove: &remove },
                metadata: with_metadata.then_some(Metadata { decision_id: id, decision, reason, layer, principal }),
            });
        }

        #[test]
        fn any_deny_matches_prost(
            status in any::<u16>(),
            code in 0i32..17,
            message in text(),
            headers in proptest::collection::vec(text(), 4),
            body in text(),
            meta in proptest::collection::vec(text(), 5),
            with_metadata in any::<bool>(),
        ) {
            let [k1, v1, k2, v2] = [0, 1, 2, 3].map(|i| headers.get(i).map_or("", String::as_str));
            let [id, decision, reason, layer, principal] = [0, 1, 2, 3, 4].map(|i| meta.get(i).map_or("", String::as_str));
            assert_matches_prost(&Response {
                status: Status { code: tonic::Code::from(code), message: &message },
                http: Http::Denied { status, headers: [(k1, v1), (k2, v2)], body: &body },
                metadata: with_metadata.then_some(Metadata { decision_id: id, decision, reason, layer, principal }),
            });
        }
    }
}
