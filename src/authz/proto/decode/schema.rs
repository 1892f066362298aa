//! The Envoy messages the decoder looks into: the number of every field it knows, and a guard
//! that names every field of each of those messages as envoy-types generates it.
//!
//! The guard is a set of functions that destructure the prost structs with every field written
//! out and no `..` (and match their oneofs without `_`), each field with what the decoder does
//! with it. When an envoy-types upgrade adds a field to one of these messages, the build fails
//! here until someone decides what the decoder does with it: read it, check it as prost checks
//! it, or skip it unread. Left alone, a new string field would be skipped without its UTF-8
//! check, and a new field a decision should read would be silently ignored.
//!
//! Numbers are those of `envoy/service/auth/v3/{external_auth,attribute_context}.proto` and
//! `envoy/config/core/v3/{address,base}.proto`; the tests hold each against prost's encoding of a
//! message with only that field set. Each message's numbers live on an enum without variants (a
//! namespace, never a value) named after the message, so that a match arm reads
//! `HttpRequest::METHOD`.
//!
//! It must not read bytes: that is the decoder's and the reader's.

use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::service::auth::v3 as auth;
use envoy_types::pb::envoy::service::auth::v3::attribute_context;

/// `envoy.service.auth.v3.CheckRequest`.
pub(super) enum CheckRequest {}

impl CheckRequest {
    pub(super) const ATTRIBUTES: u32 = 1;
}

fn check_request(message: &auth::CheckRequest) {
    let auth::CheckRequest {
        attributes: _, // read
    } = message;
}

/// `envoy.service.auth.v3.AttributeContext`.
pub(super) enum AttributeContext {}

impl AttributeContext {
    pub(super) const SOURCE: u32 = 1;
    pub(super) const DESTINATION: u32 = 2;
    pub(super) const REQUEST: u32 = 4;
    pub(super) const CONTEXT_EXTENSIONS: u32 = 10;
    pub(super) const METADATA_CONTEXT: u32 = 11;
    pub(super) const TLS_SESSION: u32 = 12;
    pub(super) const ROUTE_METADATA_CONTEXT: u32 = 13;
}

fn attribute_context(message: &auth::AttributeContext) {
    let auth::AttributeContext {
        source: _,                 // read: the client's socket address
        destination: _,            // read: the listener's socket address
        request: _,                // read
        context_extensions: _,     // read: `vpc_endpoint`; every entry is checked as UTF-8
        metadata_context: _,       // skipped: its bytes, unread
        route_metadata_context: _, // skipped: its bytes, unread
        tls_session: _,            // skipped: its bytes, unread
    } = message;
}

/// `envoy.service.auth.v3.AttributeContext.Peer`.
pub(super) enum Peer {}

impl Peer {
    pub(super) const ADDRESS: u32 = 1;
    pub(super) const SERVICE: u32 = 2;
    pub(super) const LABELS: u32 = 3;
    pub(super) const PRINCIPAL: u32 = 4;
    pub(super) const CERTIFICATE: u32 = 5;
}

fn peer(message: &attribute_context::Peer) {
    let attribute_context::Peer {
        address: _,     // read
        service: _,     // checked as UTF-8, not kept
        labels: _,      // checked as UTF-8, not kept
        principal: _,   // checked as UTF-8, not kept
        certificate: _, // checked as UTF-8, not kept
    } = message;
}

/// `envoy.config.core.v3.Address`, a oneof.
pub(super) enum Address {}

impl Address {
    pub(super) const SOCKET_ADDRESS: u32 = 1;
    pub(super) const PIPE: u32 = 2;
    pub(super) const ENVOY_INTERNAL_ADDRESS: u32 = 3;
}

fn address(message: &core::Address) {
    let core::Address { address } = message;
    match address {
        // read
        Some(core::address::Address::SocketAddress(_))
        // skipped: their bytes, unread; either clears a socket address read before it
        | Some(core::address::Address::Pipe(_) | core::address::Address::EnvoyInternalAddress(_))
        | None => {}
    }
}

/// `envoy.config.core.v3.SocketAddress`.
pub(super) enum SocketAddress {}

impl SocketAddress {
    pub(super) const PROTOCOL: u32 = 1;
    pub(super) const ADDRESS: u32 = 2;
    pub(super) const PORT_VALUE: u32 = 3;
    pub(super) const NAMED_PORT: u32 = 4;
    pub(super) const RESOLVER_NAME: u32 = 5;
    pub(super) const IPV4_COMPAT: u32 = 6;
    pub(super) const NETWORK_NAMESPACE_FILEPATH: u32 = 7;
}

fn socket_address(message: &core::SocketAddress) {
    let core::SocketAddress {
        protocol: _,                   // checked as a varint, not kept
        address: _,                    // read: the IP address text
        resolver_name: _,              // checked as UTF-8, not kept
        ipv4_compat: _,                // checked as a varint, not kept
        network_namespace_filepath: _, // checked as UTF-8, not kept
        port_specifier,
    } = message;
    match port_specifier {
        // checked as a varint, not kept
        Some(core::socket_address::PortSpecifier::PortValue(_))
        // checked as UTF-8, not kept
        | Some(core::socket_address::PortSpecifier::NamedPort(_))
        | None => {}
    }
}

/// `envoy.service.auth.v3.AttributeContext.Request`.
pub(super) enum Request {}

impl Request {
    pub(super) const TIME: u32 = 1;
    pub(super) const HTTP: u32 = 2;
}

fn request(message: &attribute_context::Request) {
    let attribute_context::Request {
        time: _, // skipped: its bytes, unread
        http: _, // read
    } = message;
}

/// `envoy.service.auth.v3.AttributeContext.HttpRequest`.
pub(super) enum HttpRequest {}

impl HttpRequest {
    pub(super) const ID: u32 = 1;
    pub(super) const METHOD: u32 = 2;
    pub(super) const HEADERS: u32 = 3;
    pub(super) const PATH: u32 = 4;
    pub(super) const HOST: u32 = 5;
    pub(super) const SCHEME: u32 = 6;
    pub(super) const QUERY: u32 = 7;
    pub(super) const FRAGMENT: u32 = 8;
    pub(super) const SIZE: u32 = 9;
    pub(super) const PROTOCOL: u32 = 10;
    pub(super) const BODY: u32 = 11;
    pub(super) const RAW_BODY: u32 = 12;
    pub(super) const HEADER_MAP: u32 = 13;
}

fn http_request(message: &attribute_context::HttpRequest) {
    let attribute_context::HttpRequest {
        id: _,         // checked as UTF-8, not kept (`x-request-id` is read from the headers)
        method: _,     // read
        headers: _,    // read: the joined map, when `header_map` is absent
        header_map: _, // read: the exact lines
        path: _,       // read: path and query
        host: _,       // read
        scheme: _,     // read
        query: _,      // checked as UTF-8, not kept (Envoy leaves it empty; `path` has it)
        fragment: _,   // checked as UTF-8, not kept
        size: _,       // checked as a varint, not kept
        protocol: _,   // checked as UTF-8, not kept
        body: _,       // read
        raw_body: _,   // read
    } = message;
}

/// `envoy.config.core.v3.HeaderMap`.
pub(super) enum HeaderMap {}

impl HeaderMap {
    pub(super) const HEADERS: u32 = 1;
}

fn header_map(message: &core::HeaderMap) {
    let core::HeaderMap {
        headers: _, // read: each entry is a line
    } = message;
}

/// `envoy.config.core.v3.HeaderValue`.
pub(super) enum HeaderValue {}

impl HeaderValue {
    pub(super) const KEY: u32 = 1;
    pub(super) const VALUE: u32 = 2;
    pub(super) const RAW_VALUE: u32 = 3;
}

fn header_value(message: &core::HeaderValue) {
    let core::HeaderValue {
        key: _,       // read
        value: _,     // read, when `raw_value` is empty
        raw_value: _, // read
    } = message;
}

/// An entry of a `map<string, string>` (`context_extensions`, `labels`, `headers`): protobuf
/// writes each as a message of two fields.
pub(super) enum MapEntry {}

impl MapEntry {
    pub(super) const KEY: u32 = 1;
    pub(super) const VALUE: u32 = 2;
}

// The guard is ordinary code, compiled in every build and not only the tests', so that a plain
// `cargo build` fails on a new field; naming its functions here marks them used, so that none
// needs `allow(dead_code)`. Nothing calls them: they cost nothing at run time.
const _: () = {
    let _: fn(&auth::CheckRequest) = check_request;
    let _: fn(&auth::AttributeContext) = attribute_context;
    let _: fn(&attribute_context::Peer) = peer;
    let _: fn(&core::Address) = address;
    let _: fn(&core::SocketAddress) = socket_address;
    let _: fn(&attribute_context::Request) = request;
    let _: fn(&attribute_context::HttpRequest) = http_request;
    let _: fn(&core::HeaderMap) = header_map;
    let _: fn(&core::HeaderValue) = header_value;
};

#[cfg(test)]
mod tests;
