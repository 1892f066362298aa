//! The reader held against prost: generated, merged and damaged messages read to the fields
//! prost reads from them, and bytes prost refuses are refused here with a named fault.

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
        proptest::collection::vec(any::<char>(), 100..300).prop_map(|c| c.into_iter().collect()),
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
        .prop_map(
            |(source, destination, http, extensions, sni, time)| AttributeContext {
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
            },
        );
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
