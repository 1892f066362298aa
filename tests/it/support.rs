//! Shared builders for the integration tests: a real SigV4 client (the `aws-sigv4` crate, signing
//! the way Lattice requires), Envoy-shaped `CheckRequest`s, services over a chosen world, and a
//! summary of `CheckResponse`s that tests compare exactly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::{
    Address, HeaderMap, HeaderValue, SocketAddress, address, socket_address,
};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, attribute_context};
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::metrics::Metrics;
use lattice_authz::store::{Reload, Store};

/// The time every test request is signed and checked at.
pub(crate) fn test_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_348_800) // 2026-11-22T12:00:00Z
}

/// A credential of the example world.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Creds {
    pub(crate) access_key_id: &'static str,
    pub(crate) secret: &'static str,
    pub(crate) token: Option<&'static str>,
}

pub(crate) const LATTICEUSER: Creds = Creds {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    token: None,
};
pub(crate) const LATTICECLIENT: Creds = Creds {
    access_key_id: "AKIAI44QH8DHBEXAMPLE",
    secret: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    token: None,
};
pub(crate) const NOPERMS: Creds = Creds {
    access_key_id: "AKIAEXAMPLENOPERMS01",
    secret: "NoPermsSecretKeyEXAMPLEEXAMPLEEXAMPLE001",
    token: None,
};
pub(crate) const SESSION_B: Creds = Creds {
    access_key_id: "ASIAEXAMPLEBSESSION1",
    secret: "bSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    token: Some("IQoJb3JpZ2luX2VjEXAMPLEACCOUNTBSESSIONTOKEN"),
};
pub(crate) const SESSION_C: Creds = Creds {
    access_key_id: "ASIAEXAMPLECSESSION1",
    secret: "cSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    token: Some("IQoJb3JpZ2luX2VjEXAMPLEACCOUNTCSESSIONTOKEN"),
};

pub(crate) const NGINX_HOST: &str =
    "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
pub(crate) const HELLO_HOST: &str =
    "hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
pub(crate) const NGINX_ARN: &str =
    "arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-08c822987a0b6ab7d";

/// Signs a request the way a Lattice client must: `x-amz-content-sha256: UNSIGNED-PAYLOAD` is
/// sent and signed, the payload line is `UNSIGNED-PAYLOAD`. Returns every header to send
/// (the given ones, `host`, and the signing headers), names lower-case.
pub(crate) fn sign_lattice(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    creds: Creds,
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
    let identity = Credentials::new(
        creds.access_key_id,
        creds.secret,
        creds.token.map(str::to_owned),
        None,
        "tests",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("vpc-lattice-svcs")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("http://{host}{target}");
    let request = SignableRequest::new(
        method,
        uri,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let (added, _) = instructions.into_parts();
    for h in added {
        all.push((h.name().to_owned(), h.value().to_owned()));
    }
    all
}

/// Signs for the example world's region at [`test_time`].
pub(crate) fn signed(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    creds: Creds,
) -> Vec<(String, String)> {
    sign_lattice(
        method,
        host,
        target,
        headers,
        creds,
        "ap-northeast-1",
        test_time(),
    )
}

/// Unsigned headers: just `host` and the given ones.
pub(crate) fn unsigned(host: &str, headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![("host".to_owned(), host.to_owned())];
    all.extend(
        headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())),
    );
    all
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

/// How Envoy hands headers over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderMode {
    /// `encode_raw_headers: true`: one `header_map` entry per line, raw bytes.
    Raw,
    /// The default: a map, repeated headers joined with `,`.
    Joined,
}

/// A `CheckRequest` as Envoy builds it: `host` becomes `:authority`, pseudo-headers included.
pub(crate) fn check_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    source: &str,
    mode: HeaderMode,
) -> CheckRequest {
    check_request_to(method, target, headers, source, "127.0.0.1", mode)
}

/// [`check_request`] to a chosen destination address (the listener the client connected to).
pub(crate) fn check_request_to(
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

/// A service over the built-in example world (or `world`, a YAML document written to a temp
/// dir), with a fixed clock at [`test_time`].
pub(crate) struct Harness {
    pub(crate) service: AuthzService,
    pub(crate) store: Arc<Store>,
    pub(crate) dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) fn example() -> Self {
        Self::with(None, Settings::default())
    }

    pub(crate) fn world(yaml: &str) -> Self {
        Self::with(Some(yaml), Settings::default())
    }

    pub(crate) fn with(world: Option<&str>, mut settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if let Some(yaml) = world {
            let path = dir.path().join("world.yaml");
            std::fs::write(&path, yaml).unwrap();
            settings.world = Some(path);
        }
        let store = Arc::new(Store::new(settings));
        match store.poll(test_time()) {
            Reload::Loaded(..) => {}
            other => panic!("world does not load: {other:#?}"),
        }
        let metrics = Arc::new(Metrics::new(
            &lattice_authz::app::deny_reasons(),
            lattice_authz::authz::ERROR_REASONS,
            "test",
        ));
        let service = AuthzService::new(
            store.clone(),
            metrics,
            Arc::new(FixedClock(test_time())),
            true,
            Duration::from_secs(5),
        );
        Harness {
            service,
            store,
            dir,
        }
    }

    pub(crate) fn check(&self, request: &CheckRequest) -> Summary {
        Summary::of(&self.service.check_request(request).unwrap())
    }
}

/// The parts of a `CheckResponse` tests assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) grpc_code: i32,
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) removed: Vec<String>,
    pub(crate) reason: String,
}

impl Summary {
    pub(crate) fn of(r: &CheckResponse) -> Summary {
        let grpc_code = r.status.as_ref().map_or(-1, |s| s.code);
        let reason = r
            .dynamic_metadata
            .as_ref()
            .and_then(|m| m.fields.get("reason"))
            .and_then(|v| match &v.kind {
                Some(envoy_types::pb::google::protobuf::value::Kind::StringValue(s)) => {
                    Some(s.clone())
                }
                _ => None,
            })
            .unwrap_or_default();
        let header_map = |hs: &[envoy_types::ext_authz::v3::pb::HeaderValueOption]| {
            hs.iter()
                .filter_map(|h| h.header.as_ref())
                .map(|h| (h.key.clone(), h.value.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        match &r.http_response {
            Some(HttpResponse::DeniedResponse(d)) => Summary {
                grpc_code,
                status: d
                    .status
                    .as_ref()
                    .map_or(0, |s| u16::try_from(s.code).unwrap()),
                body: d.body.clone(),
                headers: header_map(&d.headers),
                removed: Vec::new(),
                reason,
            },
            Some(HttpResponse::OkResponse(ok)) => Summary {
                grpc_code,
                status: 200,
                body: String::new(),
                headers: header_map(&ok.headers),
                removed: ok.headers_to_remove.clone(),
                reason,
            },
            other => panic!("unexpected http_response {other:?}"),
        }
    }
}
