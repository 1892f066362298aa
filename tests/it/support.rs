//! Shared builders for the integration tests: a real SigV4 client (the `aws-sigv4` crate, signing
//! the way Lattice requires), Envoy-shaped `CheckRequest`s, services over a chosen world, and a
//! summary of `CheckResponse`s that tests compare exactly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::store::{Reload, Store};
use lattice_authz::test_util;

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

/// Signs like a Lattice client (see `lattice_authz::test_util::sign_lattice`).
pub(crate) fn sign_lattice(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    creds: Creds,
    region: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    test_util::sign_lattice(
        method,
        host,
        target,
        headers,
        (creds.access_key_id, creds.secret, creds.token),
        region,
        time,
    )
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

pub(crate) use lattice_authz::test_util::HeaderMode;

/// A `CheckRequest` from `source` to the sidecar's usual listener.
pub(crate) fn check_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    source: &str,
    mode: HeaderMode,
) -> CheckRequest {
    test_util::check_request(method, target, headers, source, "127.0.0.1", mode)
}

/// A `CheckRequest` to a chosen destination address (the listener the client connected to).
pub(crate) fn check_request_to(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    source: &str,
    destination: &str,
    mode: HeaderMode,
) -> CheckRequest {
    test_util::check_request(method, target, headers, source, destination, mode)
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
        let dynamic_metadata = settings.dynamic_metadata;
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
        let metrics = Arc::new(lattice_authz::app::new_metrics("test"));
        let service = AuthzService::new(
            store.clone(),
            metrics,
            Arc::new(FixedClock(test_time())),
            true,
            Duration::from_secs(5),
        )
        .with_dynamic_metadata(dynamic_metadata);
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
