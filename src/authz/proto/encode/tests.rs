//! The encoder against prost: every answer decodes to the message it stands for, and is
//! exactly as long as prost's own encoding of it.

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
        proptest::collection::vec(any::<char>(), 100..20_000).prop_map(|c| c.into_iter().collect()),
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
