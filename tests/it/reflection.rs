//! gRPC reflection over loopback, as grpcurl and grpcio-reflection use it: both `v1` and
//! `v1alpha` list every service the listener serves, and describe each one down to the last
//! file it imports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lattice_authz::app;
use lattice_authz::authz::FixedClock;
use prost::Message as _;
use prost_types::FileDescriptorProto;

use crate::grpc_check::loopback_settings;
use crate::support;

/// Every service of the gRPC listener, as reflection names them.
const SERVICES: [&str; 5] = [
    "envoy.service.auth.v3.Authorization",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "lattice_authz.v1.Diagnostics",
];

/// What one reflection version answers: the service list and, per service, its methods and the
/// files it takes to describe it.
#[derive(Debug, PartialEq)]
struct Described {
    services: Vec<String>,
    methods: BTreeMap<String, Vec<String>>,
    files: BTreeMap<String, usize>,
}

/// Asks reflection version `$v` (`v1` or `v1alpha`) of the server at `$endpoint` to list every
/// service, then for each one the file declaring it and every file it imports, transitively, as
/// grpcurl does before it can describe a service.
macro_rules! describe_all {
    ($v:ident, $endpoint:expr) => {{
        use tonic_reflection::pb::$v::ServerReflectionRequest;
        use tonic_reflection::pb::$v::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$v::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$v::server_reflection_response::MessageResponse;

        let channel = tonic::transport::Channel::from_shared($endpoint.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = ServerReflectionClient::new(channel);
        let mut ask = async |request: MessageRequest| -> MessageResponse {
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            };
            let mut answers = client
                .server_reflection_info(tokio_stream::once(request))
                .await
                .unwrap()
                .into_inner();
            answers
                .message()
                .await
                .unwrap()
                .unwrap()
                .message_response
                .unwrap()
        };
        let MessageResponse::ListServicesResponse(list) =
            ask(MessageRequest::ListServices(String::new())).await
        else {
            panic!("no service list")
        };
        let mut services: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        services.sort();
        let mut methods = BTreeMap::new();
        let mut files = BTreeMap::new();
        for service in &services {
            let MessageResponse::FileDescriptorResponse(found) =
                ask(MessageRequest::FileContainingSymbol(service.clone())).await
            else {
                panic!("`{service}` is not described")
            };
            let declaring =
                FileDescriptorProto::decode(&found.file_descriptor_proto[0][..]).unwrap();
            let (package, name) = service.rsplit_once('.').unwrap();
            assert_eq!(declaring.package(), package);
            let declared = declaring
                .service
                .iter()
                .find(|s| s.name() == name)
                .unwrap_or_else(|| panic!("`{service}` is not in {}", declaring.name()));
            methods.insert(
                service.clone(),
                declared
                    .method
                    .iter()
                    .map(|m| m.name().to_owned())
                    .collect::<Vec<_>>(),
            );
            // Every import, transitively, by file name.
            let mut seen = BTreeSet::from([declaring.name().to_owned()]);
            let mut pending: Vec<String> = declaring.dependency.clone();
            while let Some(file) = pending.pop() {
                if !seen.insert(file.clone()) {
                    continue;
                }
                let MessageResponse::FileDescriptorResponse(found) =
                    ask(MessageRequest::FileByFilename(file.clone())).await
                else {
                    panic!("`{file}`, imported by `{service}`, is not served")
                };
                let proto =
                    FileDescriptorProto::decode(&found.file_descriptor_proto[0][..]).unwrap();
                assert_eq!(proto.name(), file);
                pending.extend(proto.dependency);
            }
            files.insert(service.clone(), seen.len());
        }
        Described {
            services,
            methods,
            files,
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_reflection_versions_list_and_describe_every_service() {
    let running = app::start(
        loopback_settings(),
        Arc::new(FixedClock(support::test_time())),
    )
    .await
    .unwrap();
    let endpoint = format!("http://{}", running.grpc_addr);
    let v1 = describe_all!(v1, &endpoint);
    let v1alpha = describe_all!(v1alpha, &endpoint);
    assert_eq!(v1.services, SERVICES);
    assert_eq!(
        v1.methods,
        BTreeMap::from([
            (
                "envoy.service.auth.v3.Authorization".to_owned(),
                vec!["Check".to_owned()]
            ),
            (
                "grpc.health.v1.Health".to_owned(),
                vec!["Check".to_owned(), "Watch".to_owned()]
            ),
            (
                "grpc.reflection.v1.ServerReflection".to_owned(),
                vec!["ServerReflectionInfo".to_owned()]
            ),
            (
                "grpc.reflection.v1alpha.ServerReflection".to_owned(),
                vec!["ServerReflectionInfo".to_owned()]
            ),
            (
                "lattice_authz.v1.Diagnostics".to_owned(),
                vec!["Explain".to_owned()]
            ),
        ])
    );
    // Envoy's service takes its whole import tree (core types, validation and UDPA annotations,
    // google.rpc.Status); every file of it is served.
    assert_eq!(
        v1.files,
        BTreeMap::from([
            ("envoy.service.auth.v3.Authorization".to_owned(), 25),
            ("grpc.health.v1.Health".to_owned(), 1),
            ("grpc.reflection.v1.ServerReflection".to_owned(), 1),
            ("grpc.reflection.v1alpha.ServerReflection".to_owned(), 1),
            ("lattice_authz.v1.Diagnostics".to_owned(), 1),
        ])
    );
    assert_eq!(v1alpha, v1);
    running.stop().await.unwrap();
}
