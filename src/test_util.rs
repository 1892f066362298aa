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
    let request = Signing {
        service: "vpc-lattice-svcs",
        method,
        uri: format!("http://{host}{target}"),
        body: SignableBody::UnsignedPayload,
        creds,
        region,
        time,
    };
    request.sign(all)
}

/// Signs an STS call the way botocore does: a form body whose hash is signed (no
/// `x-amz-content-sha256` header), service `sts`, any `region`. Returns every header to send.
///
/// # Panics
///
/// If the signer rejects its input: test input is fixed.
pub fn sign_sts(
    host: &str,
    body: &str,
    creds: (&str, &str, Option<&str>),
    region: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let all: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        (
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ),
    ];
    let request = Signing {
        service: "sts",
        method: "POST",
        uri: format!("http://{host}/"),
        body: SignableBody::Bytes(body.as_bytes()),
        creds,
        region,
        time,
    };
    request.sign(all)
}

/// One request for `aws-sigv4` to sign.
struct Signing<'a> {
    service: &'a str,
    method: &'a str,
    uri: String,
    body: SignableBody<'a>,
    creds: (&'a str, &'a str, Option<&'a str>),
    region: &'a str,
    time: SystemTime,
}

impl Signing<'_> {
    /// `headers` with the signing headers added.
    #[expect(
        clippy::expect_used,
        reason = "test builder: fixed input, fails loudly"
    )]
    fn sign(self, mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
        let (access_key_id, secret, token) = self.creds;
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
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing parameters")
            .into();
        let request = SignableRequest::new(
            self.method,
            self.uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            self.body,
        )
        .expect("signable request");
        let (instructions, _) = sign(request, &params).expect("signature").into_parts();
        let (added, _) = instructions.into_parts();
        for h in added {
            headers.push((h.name().to_owned(), h.value().to_owned()));
        }
        headers
    }
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

/// Reads an encoded `CheckRequest` the way the Check does (in place, `authz::proto`): for
/// benches that time the reading alone.
///
/// # Errors
///
/// If the bytes are not a `CheckRequest`.
pub fn read_check_request(bytes: &[u8]) -> Result<(), crate::authz::DecodeError> {
    let mut fields = crate::authz::proto::Fields::default();
    crate::authz::proto::check_request(bytes, &mut fields)?;
    std::hint::black_box(&fields);
    Ok(())
}

/// The size of a generated world (see [`scale_world`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Services, each with its own auth policy.
    pub services: usize,
    /// Service networks, each with its own auth policy, one VPC and `services / networks`
    /// services.
    pub networks: usize,
    /// IAM users, each with one access key.
    pub principals: usize,
}

impl Scale {
    /// The size issue 6 sets: 10,000 services and auth policies, 1,000 service networks,
    /// 100,000 principals and keys.
    pub const TARGET: Self = Self {
        services: 10_000,
        networks: 1_000,
        principals: 100_000,
    };
}

/// The built-in example world grown to `scale`, as JSON text: every entity of the example world
/// is kept unchanged (so its requests decide as before), and generated ones are added. Generated
/// service `i` is `svc{i}.scale.vpc-lattice-svcs.ap-northeast-1.on.aws`, with an auth policy that
/// allows user `u{i % principals}` (whose key is [`scale_access_key`]) from the organization
/// with a `StringLike` path condition of its own, so no two policies are equal. `revision`
/// changes the policy of service 0 only: a reload with another revision must recompile exactly
/// one policy.
///
/// # Panics
///
/// If the example world does not parse (it is compiled into the binary and tested).
#[expect(
    clippy::expect_used,
    reason = "test builder: fixed input, fails loudly"
)]
pub fn scale_world(scale: Scale, revision: u32) -> String {
    use serde_json::{Value, json};
    let mut world: Value =
        serde_saphyr::from_str(crate::lattice::World::EXAMPLE_YAML).expect("example world");
    let account = "917561075114";
    let push = |world: &mut Value, key: &str, items: Vec<Value>| {
        world[key]
            .as_array_mut()
            .expect("example world lists")
            .extend(items);
    };
    let users = (0..scale.principals)
        .map(|i| {
            json!({
                "arn": format!("arn:aws:iam::{account}:user/u{i}"),
                "managedPolicies": ["VPCLatticeServicesInvokeAccess"],
                "accessKeys": [{
                    "accessKeyId": scale_access_key(i),
                    "secretAccessKey": scale_secret(i),
                }],
            })
        })
        .collect();
    push(&mut world, "users", users);
    let vpcs = (0..scale.networks)
        .map(|n| {
            json!({
                "vpcId": format!("vpc-5{n:016x}"),
                "ownerId": account,
                "cidrBlocks": [format!("10.{}.{}.0/24", 128 + n / 256, n % 256)],
            })
        })
        .collect();
    push(&mut world, "vpcs", vpcs);
    let per_network = scale.services.div_ceil(scale.networks.max(1));
    let networks = (0..scale.networks)
        .map(|n| {
            let members: Vec<String> = (n * per_network..((n + 1) * per_network).min(scale.services))
                .map(scale_service_id)
                .collect();
            let policy = json!({"Statement": {"Effect": "Allow", "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"},
                              "StringNotLike": {"vpc-lattice-svcs:RequestHeader/x-blocked": format!("n{n}-*")}}}});
            json!({
                "id": format!("sn-5{n:016x}"),
                "name": format!("network-{n}"),
                "ownerId": account,
                "authType": "AWS_IAM",
                "authPolicy": {"document": policy.to_string()},
                "vpcAssociations": [{"vpcId": format!("vpc-5{n:016x}")}],
                "serviceAssociations": members,
            })
        })
        .collect();
    push(&mut world, "serviceNetworks", networks);
    let services = (0..scale.services)
        .map(|i| {
            let user = i % scale.principals.max(1);
            let path = if i == 0 {
                format!("/s0/r{revision}/*")
            } else {
                format!("/s{i}/*")
            };
            let policy = json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:user/u{user}")},
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {"StringLike": {"vpc-lattice-svcs:RequestPath": path}}}]});
            json!({
                "id": scale_service_id(i),
                "name": format!("svc{i}"),
                "ownerId": account,
                "dnsName": format!("svc{i}.scale.vpc-lattice-svcs.ap-northeast-1.on.aws"),
                "authType": "AWS_IAM",
                "authPolicy": {"document": policy.to_string()},
            })
        })
        .collect();
    push(&mut world, "services", services);
    world.to_string()
}

/// The id of generated service `i`.
pub fn scale_service_id(i: usize) -> String {
    format!("svc-5{i:016x}")
}

/// The access key id of generated user `i` (20 characters, `AKIA` and 16 digits).
pub fn scale_access_key(i: usize) -> String {
    format!("AKIA{i:016}")
}

/// The secret access key of generated user `i` (40 characters).
pub fn scale_secret(i: usize) -> String {
    format!("scaleSecret{i:029}")
}
