"""gRPC reflection as Python tools use it: grpcio-reflection's descriptor database (which speaks
`v1alpha`) lists every service of the sidecar's gRPC listener and describes each one, Envoy's
Authorization included; the same database pointed at `v1` (whose messages are `v1alpha`'s, field
for field) gets the same answers."""

from __future__ import annotations

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase)
from grpc_reflection.v1alpha.reflection_pb2 import (ServerReflectionRequest,
                                                    ServerReflectionResponse)

SERVICES = {
    "envoy.service.auth.v3.Authorization": ["Check"],
    "grpc.health.v1.Health": ["Check", "Watch"],
    "grpc.reflection.v1.ServerReflection": ["ServerReflectionInfo"],
    "grpc.reflection.v1alpha.ServerReflection": ["ServerReflectionInfo"],
    "lattice_authz.v1.Diagnostics": ["Explain"],
}


class _V1Stub:
    """grpcio-reflection's stub, on `grpc.reflection.v1` instead of `v1alpha`."""

    def __init__(self, channel: grpc.Channel):
        self.ServerReflectionInfo = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=ServerReflectionRequest.SerializeToString,
            response_deserializer=ServerReflectionResponse.FromString)


def describe(database: ProtoReflectionDescriptorDatabase) -> dict[str, list[str]]:
    pool = DescriptorPool(database)
    described = {}
    for name in sorted(database.get_services()):
        service = pool.FindServiceByName(name)
        described[name] = [m.name for m in service.methods]
    return described


def test_both_reflection_versions_list_and_describe_every_service(stack):
    target = f"127.0.0.1:{stack.sidecar.grpc_port}"
    with grpc.insecure_channel(target) as channel:
        assert describe(ProtoReflectionDescriptorDatabase(channel)) == SERVICES
        v1 = ProtoReflectionDescriptorDatabase(channel)
        # The database has no option for the version: its one stub is replaced.
        v1._stub = _V1Stub(channel)
        assert describe(v1) == SERVICES
        # The message Envoy sends, with its fields, as a tool would show it.
        check = DescriptorPool(ProtoReflectionDescriptorDatabase(channel)).FindMessageTypeByName(
            "envoy.service.auth.v3.CheckRequest")
        assert [f.name for f in check.fields] == ["attributes"]
        assert check.fields[0].message_type.full_name == (
            "envoy.service.auth.v3.AttributeContext")
