//! Every field number the decoder knows, held against prost's encoding of a message with only
//! that field set: the number and the wire type of the one key it writes.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{Metadata, Pipe, address, socket_address};
use envoy_types::pb::google::protobuf::Timestamp;
use prost::Message;
use prost::encoding::WireType;

use super::*;

/// The number and wire type of the first key of `bytes`.
fn first_key(bytes: &[u8]) -> (u32, WireType) {
    prost::encoding::decode_key(&mut &bytes[..]).unwrap()
}

/// The body of the length-delimited field that `bytes` begins with.
fn first_body(bytes: &[u8]) -> &[u8] {
    let mut rest = bytes;
    prost::encoding::decode_key(&mut rest).unwrap();
    let len = prost::encoding::decode_varint(&mut rest).unwrap();
    &rest[..usize::try_from(len).unwrap()]
}

/// The key prost writes for an `M` with only what `set` sets.
fn with<M: Message + Default>(set: fn(&mut M)) -> (u32, WireType) {
    let mut message = M::default();
    set(&mut message);
    first_key(&message.encode_to_vec())
}

fn map(key: &str, value: &str) -> HashMap<String, String> {
    HashMap::from([(key.to_owned(), value.to_owned())])
}

fn text() -> String {
    "x".to_owned()
}

#[test]
fn every_number_is_what_prost_writes() {
    use WireType::{LengthDelimited as Len, Varint};
    let check = with::<auth::CheckRequest>;
    let context = with::<auth::AttributeContext>;
    let peer = with::<attribute_context::Peer>;
    let address = with::<core::Address>;
    let socket = with::<core::SocketAddress>;
    let request = with::<attribute_context::Request>;
    let http = with::<attribute_context::HttpRequest>;
    let header_map = with::<core::HeaderMap>;
    let header_value = with::<core::HeaderValue>;
    // A map entry's key and value, inside the entry prost writes for a map of one pair (it
    // leaves out an empty key or value, as any field holding its default).
    let entry = |key: &str, value: &str| {
        let labels = attribute_context::Peer {
            labels: map(key, value),
            ..Default::default()
        };
        first_key(first_body(&labels.encode_to_vec()))
    };

    let cases: [(&str, u32, WireType, (u32, WireType)); 44] = [
        (
            "CheckRequest.attributes",
            CheckRequest::ATTRIBUTES,
            Len,
            check(|m| m.attributes = Some(auth::AttributeContext::default())),
        ),
        (
            "AttributeContext.source",
            AttributeContext::SOURCE,
            Len,
            context(|m| m.source = Some(attribute_context::Peer::default())),
        ),
        (
            "AttributeContext.destination",
            AttributeContext::DESTINATION,
            Len,
            context(|m| m.destination = Some(attribute_context::Peer::default())),
        ),
        (
            "AttributeContext.request",
            AttributeContext::REQUEST,
            Len,
            context(|m| m.request = Some(attribute_context::Request::default())),
        ),
        (
            "AttributeContext.context_extensions",
            AttributeContext::CONTEXT_EXTENSIONS,
            Len,
            context(|m| m.context_extensions = map("vpc_endpoint", "x")),
        ),
        (
            "AttributeContext.metadata_context",
            AttributeContext::METADATA_CONTEXT,
            Len,
            context(|m| m.metadata_context = Some(Metadata::default())),
        ),
        (
            "AttributeContext.tls_session",
            AttributeContext::TLS_SESSION,
            Len,
            context(|m| m.tls_session = Some(attribute_context::TlsSession::default())),
        ),
        (
            "AttributeContext.route_metadata_context",
            AttributeContext::ROUTE_METADATA_CONTEXT,
            Len,
            context(|m| m.route_metadata_context = Some(Metadata::default())),
        ),
        (
            "Peer.address",
            Peer::ADDRESS,
            Len,
            peer(|m| m.address = Some(core::Address::default())),
        ),
        (
            "Peer.service",
            Peer::SERVICE,
            Len,
            peer(|m| m.service = text()),
        ),
        (
            "Peer.labels",
            Peer::LABELS,
            Len,
            peer(|m| m.labels = map("k", "v")),
        ),
        (
            "Peer.principal",
            Peer::PRINCIPAL,
            Len,
            peer(|m| m.principal = text()),
        ),
        (
            "Peer.certificate",
            Peer::CERTIFICATE,
            Len,
            peer(|m| m.certificate = text()),
        ),
        (
            "Address.socket_address",
            Address::SOCKET_ADDRESS,
            Len,
            address(|m| {
                let socket = core::SocketAddress::default();
                m.address = Some(address::Address::SocketAddress(socket));
            }),
        ),
        (
            "Address.pipe",
            Address::PIPE,
            Len,
            address(|m| m.address = Some(address::Address::Pipe(Pipe::default()))),
        ),
        (
            "Address.envoy_internal_address",
            Address::ENVOY_INTERNAL_ADDRESS,
            Len,
            address(|m| {
                let internal = core::EnvoyInternalAddress::default();
                m.address = Some(address::Address::EnvoyInternalAddress(internal));
            }),
        ),
        (
            "SocketAddress.protocol",
            SocketAddress::PROTOCOL,
            Varint,
            socket(|m| m.protocol = socket_address::Protocol::Udp as i32),
        ),
        (
            "SocketAddress.address",
            SocketAddress::ADDRESS,
            Len,
            socket(|m| m.address = text()),
        ),
        (
            "SocketAddress.port_value",
            SocketAddress::PORT_VALUE,
            Varint,
            socket(|m| m.port_specifier = Some(socket_address::PortSpecifier::PortValue(443))),
        ),
        (
            "SocketAddress.named_port",
            SocketAddress::NAMED_PORT,
            Len,
            socket(|m| m.port_specifier = Some(socket_address::PortSpecifier::NamedPort(text()))),
        ),
        (
            "SocketAddress.resolver_name",
            SocketAddress::RESOLVER_NAME,
            Len,
            socket(|m| m.resolver_name = text()),
        ),
        (
            "SocketAddress.ipv4_compat",
            SocketAddress::IPV4_COMPAT,
            Varint,
            socket(|m| m.ipv4_compat = true),
        ),
        (
            "SocketAddress.network_namespace_filepath",
            SocketAddress::NETWORK_NAMESPACE_FILEPATH,
            Len,
            socket(|m| m.network_namespace_filepath = text()),
        ),
        (
            "Request.time",
            Request::TIME,
            Len,
            request(|m| m.time = Some(Timestamp::default())),
        ),
        (
            "Request.http",
            Request::HTTP,
            Len,
            request(|m| m.http = Some(attribute_context::HttpRequest::default())),
        ),
        (
            "HttpRequest.id",
            HttpRequest::ID,
            Len,
            http(|m| m.id = text()),
        ),
        (
            "HttpRequest.method",
            HttpRequest::METHOD,
            Len,
            http(|m| m.method = text()),
        ),
        (
            "HttpRequest.headers",
            HttpRequest::HEADERS,
            Len,
            http(|m| m.headers = map("k", "v")),
        ),
        (
            "HttpRequest.path",
            HttpRequest::PATH,
            Len,
            http(|m| m.path = text()),
        ),
        (
            "HttpRequest.host",
            HttpRequest::HOST,
            Len,
            http(|m| m.host = text()),
        ),
        (
            "HttpRequest.scheme",
            HttpRequest::SCHEME,
            Len,
            http(|m| m.scheme = text()),
        ),
        (
            "HttpRequest.query",
            HttpRequest::QUERY,
            Len,
            http(|m| m.query = text()),
        ),
        (
            "HttpRequest.fragment",
            HttpRequest::FRAGMENT,
            Len,
            http(|m| m.fragment = text()),
        ),
        (
            "HttpRequest.size",
            HttpRequest::SIZE,
            Varint,
            http(|m| m.size = -1),
        ),
        (
            "HttpRequest.protocol",
            HttpRequest::PROTOCOL,
            Len,
            http(|m| m.protocol = text()),
        ),
        (
            "HttpRequest.body",
            HttpRequest::BODY,
            Len,
            http(|m| m.body = text()),
        ),
        (
            "HttpRequest.raw_body",
            HttpRequest::RAW_BODY,
            Len,
            http(|m| m.raw_body = b"x".into()),
        ),
        (
            "HttpRequest.header_map",
            HttpRequest::HEADER_MAP,
            Len,
            http(|m| m.header_map = Some(core::HeaderMap::default())),
        ),
        (
            "HeaderMap.headers",
            HeaderMap::HEADERS,
            Len,
            header_map(|m| m.headers = vec![core::HeaderValue::default()]),
        ),
        (
            "HeaderValue.key",
            HeaderValue::KEY,
            Len,
            header_value(|m| m.key = text()),
        ),
        (
            "HeaderValue.value",
            HeaderValue::VALUE,
            Len,
            header_value(|m| m.value = text()),
        ),
        (
            "HeaderValue.raw_value",
            HeaderValue::RAW_VALUE,
            Len,
            header_value(|m| m.raw_value = b"x".into()),
        ),
        ("map entry key", MapEntry::KEY, Len, entry("k", "")),
        ("map entry value", MapEntry::VALUE, Len, entry("", "v")),
    ];
    for (name, number, wire_type, written) in cases {
        assert_eq!(written, (number, wire_type), "{name}");
    }
}
