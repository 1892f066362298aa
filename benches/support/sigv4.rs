//! The request and credentials of the SigV4 benches: `sigv4.rs` times lattice-authz's verifier
//! on them, and the bench tools crate (`bench/benches/sigv4.rs`) times
//! scratchstack-aws-signature on the same request beside it. Fixtures only: no timing here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::{v4, v4a};
use aws_smithy_runtime_api::client::identity::Identity;
use lattice_authz::sigv4::{
    Credential, CredentialSource, Header, HttpRequest, Secret, SigV4Error, Verified,
};

pub(crate) const REGION: &str = "ap-northeast-1";
pub(crate) const HOST: &str =
    "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const PRINCIPAL: &str = "arn:aws:iam::917561075114:user/latticeuser";
pub(crate) const SIGNED_AT: u64 = 1_707_008_523; // 2024-02-04T01:02:03Z

pub(crate) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SIGNED_AT)
}

pub(crate) struct Creds {
    secret: Secret,
    token: Option<String>,
    principal: String,
}

impl CredentialSource for Creds {
    type Credential<'s> = Credential<'s, String>;
    fn credential<'s>(
        &'s self,
        access_key_id: &str,
        _session_token: Option<&[u8]>,
    ) -> Option<Credential<'s, String>> {
        (access_key_id == AKID).then_some(Credential {
            access_key_id: AKID,
            secret: &self.secret,
            session_token: self.token.as_deref(),
            expires_at: None,
            principal: &self.principal,
        })
    }
}

/// An owned request as Envoy would present it.
pub(crate) struct Owned {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
}

impl Owned {
    pub(crate) fn headers(&self) -> Vec<Header<'_>> {
        self.headers
            .iter()
            .map(|(n, v)| Header { name: n, value: v })
            .collect()
    }

    pub(crate) fn view<'a>(&'a self, headers: &'a [Header<'a>]) -> HttpRequest<'a> {
        HttpRequest {
            method: &self.method,
            target: &self.target,
            authority: HOST,
            headers,
            body: None,
        }
    }
}

/// `GET /api/v1/orders?limit=10` signed by `aws-sigv4` as a Lattice client signs it.
pub(crate) fn typical(token: Option<&str>, sigv4a: bool, payload: &str) -> Owned {
    let identity: Identity =
        Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "bench").into();
    let params = if sigv4a {
        v4a::SigningParams::builder()
            .identity(&identity)
            .region_set("*")
            .name("vpc-lattice-svcs")
            .time(now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into()
    } else {
        v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("vpc-lattice-svcs")
            .time(now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into()
    };
    let target = "/api/v1/orders?limit=10";
    let signed_headers = [("host", HOST), ("x-amz-content-sha256", payload)];
    let signable = SignableRequest::new(
        "GET",
        format!("https://{HOST}{target}"),
        signed_headers.iter().copied(),
        if payload == "UNSIGNED-PAYLOAD" {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&[])
        },
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (":authority".into(), HOST.into()),
        (":method".into(), b"GET".to_vec()),
        (":path".into(), target.into()),
        (":scheme".into(), b"http".to_vec()),
        ("user-agent".into(), b"python-requests/2.31.0".to_vec()),
        ("accept-encoding".into(), b"gzip, deflate".to_vec()),
        ("accept".into(), b"*/*".to_vec()),
        ("x-amz-content-sha256".into(), payload.into()),
        ("x-forwarded-proto".into(), b"http".to_vec()),
        (
            "x-request-id".into(),
            b"3f1f5b4e-8a36-4a7e-9a4b-0c8b7f1e2d3c".to_vec(),
        ),
    ];
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.as_bytes().to_vec()));
    }
    Owned {
        method: "GET".into(),
        target: target.into(),
        headers,
    }
}

pub(crate) fn creds(token: Option<&str>) -> Creds {
    Creds {
        secret: Secret::new(SECRET),
        token: token.map(str::to_owned),
        principal: PRINCIPAL.to_owned(),
    }
}

pub(crate) fn assert_signed(v: &Result<Verified<Credential<'_, String>>, SigV4Error>) {
    assert!(matches!(v, Ok(Verified::Signed(_))), "{v:?}");
}
