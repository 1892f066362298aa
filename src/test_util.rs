//! Shared builders for tests and benches (feature `test-util`): a real SigV4 client (the
//! `aws-sigv4` crate) signing the way Lattice requires, and `CheckRequest`s shaped the way Envoy
//! sends them.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use envoy_types::ext_authz::v3::pb::CheckRequest;
use envoy_types::pb::envoy::config::core::v3::{
    Address, HeaderMap, HeaderValue, SocketAddress, address, socket_address,
};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, attribute_context};

/// Signs a request the way a Lattice client must: `x-amz-content-sha256: UNSIGNED-PAYLOAD` is
/// sent and signed and the payload line is `UNSIGNED-PAYLOAD`. `creds` is (access key id,
/// secret, session token). Returns every header to send (`host`, the given ones, and the
/// signing headers), names lower-case.
///
/// # Panics
///
/// If the signer rejects its input (a malformed host or target): test input is fixed.
#[expect(
    clippy::expect_used,
    reason = "test builder: fixed input, fails loudly"
)]
pub fn sign_lattice(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    creds: (&str, &str, Option<&str>),
    region: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
    ];
    all.extend(
        headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())),
    );
    let (access_key_id, secret, token) = creds;
    let identity = Credentials::new(
        access_key_id,
        secret,
        token.map(str::to_owned),
        None,
        "test-util",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("vpc-lattice-svcs")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let uri = format!("http://{host}{target}");
    let request = SignableRequest::new(
        method,
        uri,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::UnsignedPayload,
    )
    .expect("signable request");
    let (instructions, _) = sign(request, &params).expect("signature").into_parts();
    let (added, _) = instructions.into_parts();
    for h in added {
        all.push((h.name().to_owned(), h.value().to_owned()));
    }
    all
}

/// How Envoy hands headers over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// `encode_raw_headers: true`: one `header_map` entry per line, raw bytes.
    Raw,
    /// The default: a map, repeated headers joined with `,`.
    Joined,
}

fn socket(ip: &str, port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: ip.to_owned(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
            ..SocketAddress::default()
        })),
    }
}

/// A `CheckRequest` as Envoy builds it: `host` becomes `:authority`, pseudo-headers included,
/// from `source` to the listener at `destination`.
pub fn check_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    source: &str,
    destination: &str,
    mode: HeaderMode,
) -> CheckRequest {
    let authority = headers
        .iter()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut lines: Vec<(String, String)> = vec![
        (":authority".into(), authority.clone()),
        (":method".into(), method.into()),
        (":path".into(), target.into()),
        (":scheme".into(), "http".into()),
    ];
    lines.extend(headers.iter().filter(|(k, _)| k != "host").cloned());
    let mut http = attribute_context::HttpRequest {
        id: "1234".into(),
        method: method.into(),
        path: target.into(),
        host: authority,
        scheme: "http".into(),
        protocol: "HTTP/1.1".into(),
        ..Default::default()
    };
    match mode {
        HeaderMode::Raw => {
            http.header_map = Some(HeaderMap {
                headers: lines
                    .iter()
                    .map(|(k, v)| HeaderValue {
                        key: k.clone(),
                        value: String::new(),
                        raw_value: v.clone().into_bytes(),
                    })
                    .collect(),
            });
        }
        HeaderMode::Joined => {
            for (k, v) in lines {
                http.headers
                    .entry(k)
                    .and_modify(|e: &mut String| {
                        e.push(',');
                        e.push_str(&v);
                    })
                    .or_insert(v);
            }
        }
    }
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(attribute_context::Peer {
                address: Some(socket(source, 40000)),
                ..Default::default()
            }),
            destination: Some(attribute_context::Peer {
                address: Some(socket(destination, 10000)),
                ..Default::default()
            }),
            request: Some(attribute_context::Request {
                time: None,
                http: Some(http),
            }),
            ..Default::default()
        }),
    }
}
