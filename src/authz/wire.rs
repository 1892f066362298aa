//! The `CheckResponse` in protobuf wire form, written straight from a decision.
//!
//! Envoy's answer comes in two shapes: allow (identity headers to set, the other identity
//! headers to remove) and deny (status, two headers, Lattice's text), each with five
//! dynamic-metadata strings. Built as prost messages they took nineteen allocations and a hashed
//! map per Check, and were then encoded field by field; here each shape is a handful of borrowed
//! views that know their encoded length and write themselves into one buffer of exactly that
//! size. [`Answer::to_message`] decodes the bytes back with prost: that is how tests read
//! answers, and how every test checks this encoder against prost's decoder.
//!
//! Field numbers are those of `envoy/service/auth/v3/external_auth.proto`,
//! `envoy/config/core/v3/base.proto`, `envoy/type/v3/http_status.proto`,
//! `google/rpc/status.proto` and `google/protobuf/struct.proto`. Like prost, the writer leaves
//! out fields that hold their default value (empty strings, zero numbers) and writes fields in
//! ascending field order.

use envoy_types::ext_authz::v3::pb::{CheckResponse, HeaderAppendAction};
use prost::Message as _;

/// Wire types (protobuf encoding, "Message Structure").
const VARINT: u32 = 0;
const LEN: u32 = 2;

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

    /// Encodes `response` into one buffer of exactly its length.
    fn encode(response: &Response<'_>) -> Self {
        let mut out = Vec::with_capacity(response.len());
        response.write(&mut out);
        debug_assert_eq!(out.len(), out.capacity(), "encoded length is exact");
        Self(out)
    }
}

/// A message that knows its encoded length and writes itself.
trait Wire {
    /// Bytes [`Wire::write`] appends.
    fn len(&self) -> usize;
    /// Appends the encoded message (without its own key and length).
    fn write(&self, out: &mut Vec<u8>);
}

/// The `gRPC` status inside the `CheckResponse` (`google.rpc.Status`).
#[derive(Debug)]
pub(super) struct Status<'a> {
    pub(super) code: tonic::Code,
    pub(super) message: &'a str,
}

/// The five dynamic-metadata strings (`google.protobuf.Struct`), in the order the keys are listed.
#[derive(Debug)]
pub(super) struct Metadata<'a> {
    pub(super) decision_id: &'a str,
    pub(super) decision: &'a str,
    pub(super) reason: &'a str,
    pub(super) layer: &'a str,
    pub(super) principal: &'a str,
}

/// What Envoy does with the request.
#[derive(Debug)]
pub(super) enum Http<'a> {
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
pub(super) struct Response<'a> {
    pub(super) status: Status<'a>,
    pub(super) http: Http<'a>,
    pub(super) metadata: Metadata<'a>,
}

impl Response<'_> {
    /// The encoded answer.
    pub(super) fn encode(&self) -> Answer {
        Answer::encode(self)
    }
}

// === encoding ===

fn varint_len(value: u64) -> usize {
    // One byte per started group of seven bits; zero takes one byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    // Below 0x80 by now: the mask only spells that out.
    out.push((value & 0x7f) as u8);
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    put_varint(out, u64::from(field << 3 | wire_type));
}

/// A length-delimited field of `len` bytes, key and length included.
fn delimited_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

/// A `string` field; empty strings are left out.
fn string_len(field: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        delimited_len(field, value.len())
    }
}

fn put_string(out: &mut Vec<u8>, field: u32, value: &str) {
    if !value.is_empty() {
        put_key(out, field, LEN);
        put_varint(out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
}

/// An `int32` or enum field; zero is left out. Negative values take ten bytes, as protobuf
/// sign-extends them.
fn int32_len(field: u32, value: i32) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(i64::from(value) as u64)
    }
}

fn put_int32(out: &mut Vec<u8>, field: u32, value: i32) {
    if value != 0 {
        put_key(out, field, VARINT);
        put_varint(out, i64::from(value) as u64);
    }
}

/// An embedded message field (always written, even when empty: presence is meaningful).
fn message_len(field: u32, message: &impl Wire) -> usize {
    delimited_len(field, message.len())
}

fn put_message(out: &mut Vec<u8>, field: u32, message: &impl Wire) {
    put_key(out, field, LEN);
    put_varint(out, message.len() as u64);
    message.write(out);
}

// === the messages ===

/// `envoy.config.core.v3.HeaderValue { key = 1, value = 2 }`.
struct HeaderValue<'a>(&'a str, &'a str);

impl Wire for HeaderValue<'_> {
    fn len(&self) -> usize {
        string_len(1, self.0) + string_len(2, self.1)
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_string(out, 1, self.0);
        put_string(out, 2, self.1);
    }
}

/// `envoy.config.core.v3.HeaderValueOption { header = 1, append_action = 3 }`: identity headers
/// replace whatever the client sent (lattice-auth §6.3), and the deprecated `append` (2) stays
/// unset, so older Envoys default to overwrite too.
struct HeaderOption<'a>(&'a str, &'a str);

const OVERWRITE: i32 = HeaderAppendAction::OverwriteIfExistsOrAdd as i32;

impl Wire for HeaderOption<'_> {
    fn len(&self) -> usize {
        message_len(1, &HeaderValue(self.0, self.1)) + int32_len(3, OVERWRITE)
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_message(out, 1, &HeaderValue(self.0, self.1));
        put_int32(out, 3, OVERWRITE);
    }
}

/// `google.rpc.Status { code = 1, message = 2 }`.
impl Wire for Status<'_> {
    fn len(&self) -> usize {
        int32_len(1, self.code as i32) + string_len(2, self.message)
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_int32(out, 1, self.code as i32);
        put_string(out, 2, self.message);
    }
}

/// `google.protobuf.Value { string_value = 3 }`: a oneof member, written even when empty.
struct StringValue<'a>(&'a str);

impl Wire for StringValue<'_> {
    fn len(&self) -> usize {
        delimited_len(3, self.0.len())
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_key(out, 3, LEN);
        put_varint(out, self.0.len() as u64);
        out.extend_from_slice(self.0.as_bytes());
    }
}

/// One entry of `map<string, Value>`: `{ key = 1, value = 2 }`.
struct Field<'a>(&'a str, &'a str);

impl Wire for Field<'_> {
    fn len(&self) -> usize {
        string_len(1, self.0) + message_len(2, &StringValue(self.1))
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_string(out, 1, self.0);
        put_message(out, 2, &StringValue(self.1));
    }
}

impl Metadata<'_> {
    fn fields(&self) -> [Field<'_>; 5] {
        [
            Field("decision_id", self.decision_id),
            Field("decision", self.decision),
            Field("reason", self.reason),
            Field("layer", self.layer),
            Field("principal", self.principal),
        ]
    }
}

/// `google.protobuf.Struct { map<string, Value> fields = 1 }`.
impl Wire for Metadata<'_> {
    fn len(&self) -> usize {
        self.fields().iter().map(|f| message_len(1, f)).sum()
    }

    fn write(&self, out: &mut Vec<u8>) {
        for field in &self.fields() {
            put_message(out, 1, field);
        }
    }
}

/// `envoy.type.v3.HttpStatus { code = 1 }`.
struct HttpStatus(u16);

impl Wire for HttpStatus {
    fn len(&self) -> usize {
        int32_len(1, i32::from(self.0))
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_int32(out, 1, i32::from(self.0));
    }
}

/// `OkHttpResponse { headers = 2, headers_to_remove = 5 }` or
/// `DeniedHttpResponse { status = 1, headers = 2, body = 3 }`.
impl Wire for Http<'_> {
    fn len(&self) -> usize {
        match self {
            Http::Ok { set, remove } => {
                set.iter()
                    .map(|(k, v)| message_len(2, &HeaderOption(k, v)))
                    .sum::<usize>()
                    // Repeated strings keep empty ones: each is a present element.
                    + remove
                        .iter()
                        .map(|name| delimited_len(5, name.len()))
                        .sum::<usize>()
            }
            Http::Denied {
                status,
                headers,
                body,
            } => {
                message_len(1, &HttpStatus(*status))
                    + headers
                        .iter()
                        .map(|(k, v)| message_len(2, &HeaderOption(k, v)))
                        .sum::<usize>()
                    + string_len(3, body)
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Http::Ok { set, remove } => {
                for (k, v) in *set {
                    put_message(out, 2, &HeaderOption(k, v));
                }
                for name in *remove {
                    put_key(out, 5, LEN);
                    put_varint(out, name.len() as u64);
                    out.extend_from_slice(name.as_bytes());
                }
            }
            Http::Denied {
                status,
                headers,
                body,
            } => {
                put_message(out, 1, &HttpStatus(*status));
                for (k, v) in headers {
                    put_message(out, 2, &HeaderOption(k, v));
                }
                put_string(out, 3, body);
            }
        }
    }
}

impl Http<'_> {
    /// `denied_response = 2` or `ok_response = 3` of the `http_response` oneof.
    fn field(&self) -> u32 {
        match self {
            Http::Denied { .. } => 2,
            Http::Ok { .. } => 3,
        }
    }
}

/// `CheckResponse { status = 1, denied_response = 2 | ok_response = 3, dynamic_metadata = 4 }`.
impl Wire for Response<'_> {
    fn len(&self) -> usize {
        message_len(1, &self.status)
            + message_len(self.http.field(), &self.http)
            + message_len(4, &self.metadata)
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_message(out, 1, &self.status);
        put_message(out, self.http.field(), &self.http);
        put_message(out, 4, &self.metadata);
    }
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
        let m = &response.metadata;
        let fields = [
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
        .collect();
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
            dynamic_metadata: Some(Struct { fields }),
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
        assert_eq!(answer.as_bytes().len(), response.len());
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
            metadata: Metadata {
                decision_id: ID,
                decision: "allow",
                reason: "allowed",
                layer: "service_policy",
                principal: "arn:aws:iam::111122223333:user/latticeuser",
            },
        };
        assert_matches_prost(&response);
        // An OK status is an empty `google.rpc.Status`: present, with nothing in it.
        assert_eq!(
            response.encode().as_bytes().get(..2),
            Some(&[0x0a, 0x00][..])
        );
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
            metadata: Metadata {
                decision_id: ID,
                decision: "deny",
                reason: "no_service_allow",
                layer: "service_policy",
                principal: "anonymous",
            },
        };
        assert_matches_prost(&response);
    }

    #[test]
    fn varint_lengths_at_every_boundary() {
        for bits in 0..64 {
            for value in [(1u64 << bits) - 1, 1u64 << bits, (1u64 << bits) + 1] {
                let mut out = Vec::new();
                put_varint(&mut out, value);
                assert_eq!(out.len(), varint_len(value), "{value}");
                assert_eq!(
                    prost::encoding::decode_varint(&mut out.as_slice()),
                    Ok(value)
                );
            }
        }
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
        ) {
            let set: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
            let [id, decision, reason, layer, principal] = [0, 1, 2, 3, 4].map(|i| meta.get(i).map_or("", String::as_str));
            assert_matches_prost(&Response {
                status: Status { code: tonic::Code::Ok, message: "" },
                http: Http::Ok { set: &set, remove: &remove },
                metadata: Metadata { decision_id: id, decision, reason, layer, principal },
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
        ) {
            let [k1, v1, k2, v2] = [0, 1, 2, 3].map(|i| headers.get(i).map_or("", String::as_str));
            let [id, decision, reason, layer, principal] = [0, 1, 2, 3, 4].map(|i| meta.get(i).map_or("", String::as_str));
            assert_matches_prost(&Response {
                status: Status { code: tonic::Code::from(code), message: &message },
                http: Http::Denied { status, headers: [(k1, v1), (k2, v2)], body: &body },
                metadata: Metadata { decision_id: id, decision, reason, layer, principal },
            });
        }
    }
}
