"""Every row of example-world.md's expected decisions, through a real Envoy, with the seed
articles' botocore scripts, `curl --aws-sigv4` and anonymous curl."""

from __future__ import annotations

import json
import time

import pytest

from clients import curl
from harness import wait_until
from rows import CASES, UUID, check, send
from world import HELLO_ARN, HELLO_HOST, NGINX_HOST, ROWS, VPC_B, VPC_C, Row


@pytest.mark.parametrize(("client", "number"), CASES,
                         ids=[f"row{n}-{c.replace(' ', '_')}" for c, n in CASES])
def test_row(stack, client, number):
    before = stack.upstream.served()
    row, resp = send(client, number, stack.envoy_port, stack.upstream.port)
    check(row, resp, method="POST" if client == "article2_post.py" else None)
    # A denied request never reaches the upstream; an allowed one does, once.
    assert stack.upstream.served() - before == (1 if row.allowed else 0)


SPOOFED = (
    "x-amzn-lattice-identity: Principal=arn:aws:iam::917561075114:root; Type=AWS_IAM",
    "x-amzn-lattice-network: SourceVpcArn=arn:aws:ec2:ap-northeast-1:999999999999:vpc/vpc-spoof",
    "x-amzn-lattice-target: ServiceArn=spoof",
    "x-amzn-source-vpc: vpc-spoof",
    "x-amzn-lattice-identity-tags: principal=arn:aws:iam::917561075114:root",
)


def assert_no_spoofed_value(resp):
    spoofed = {tuple(p.strip() for p in h.split(":", 1)) for h in SPOOFED}
    seen = {tuple(h) for h in resp.upstream_saw()["headers"]}
    assert not spoofed & seen, f"spoofed headers reached the upstream: {spoofed & seen}"


def test_spoofed_identity_headers_are_replaced(stack):
    """Row 2 with client-supplied Lattice headers: the upstream sees the sidecar's only.

    Without x-amzn-lattice-identity-tags: curl 7.88's --aws-sigv4 sorts header *lines*, so a name
    that is a prefix of another (x-amzn-lattice-identity, -identity-tags) yields a SignedHeaders
    list out of order, which AWS (and the sidecar) reject as IncompleteSignatureException."""
    spoofed = tuple(h for h in SPOOFED if not h.startswith("x-amzn-lattice-identity-tags"))
    row, resp = send("curl --aws-sigv4", 2, stack.envoy_port, stack.upstream.port, spoofed)
    check(row, resp)  # exact values, one copy each
    assert_no_spoofed_value(resp)


def test_spoofed_identity_header_is_removed_for_anonymous_callers(stack):
    """Anonymous from VPC B to hello (auth type NONE; the guardrail admits the organization's
    VPCs): allowed, and a client-supplied x-amzn-lattice-identity does not reach the upstream."""
    row = Row(0, None, VPC_B, "GET", HELLO_HOST, HELLO_ARN, True, "allowed")
    resp = curl(stack.envoy_port, host=row.host, source_ip=row.vpc.source_ip, headers=SPOOFED)
    resp.client = "curl (spoofed identity)"
    check(row, resp)
    assert_no_spoofed_value(resp)
    names = {k for k, _ in resp.upstream_saw()["headers"]}
    assert not {"x-amzn-lattice-identity", "x-amzn-lattice-identity-tags"} & names


def test_x_forwarded_for_does_not_choose_the_vpc(stack):
    """Row 7 claiming to come from VPC B: Envoy (use_remote_address) passes the TCP peer, so the
    caller stays in VPC C and is denied by the network policy."""
    row = ROWS[7]
    resp = curl(stack.envoy_port, host=row.host, source_ip=VPC_C.source_ip,
                headers=(f"x-forwarded-for: {VPC_B.source_ip}", f"x-real-ip: {VPC_B.source_ip}"))
    check(row, resp)


def test_unknown_host_is_denied(stack):
    """A Host that names no Lattice service never reaches the upstream."""
    before = stack.upstream.served()
    resp = curl(stack.envoy_port, host="nothing.example.com", source_ip="127.0.0.1")
    assert resp.status in (403, 404), resp
    assert stack.upstream.served() == before


def test_access_log_carries_the_decision(stack):
    """Envoy's access log has the sidecar's dynamic metadata, joinable with its decision log."""
    row, resp = send("curl", 1, stack.envoy_port, stack.upstream.port)
    check(row, resp)
    assert stack.envoy is not None

    def last_entry():
        entries = [e for e in stack.envoy.access_log()
                   if e.get("authority") == NGINX_HOST and e.get("status") == 403]
        return entries[-1] if entries else None

    deadline = time.monotonic() + 10
    entry = last_entry()
    while (entry is None or not isinstance(entry.get("authz"), dict)) and time.monotonic() < deadline:
        time.sleep(0.1)
        entry = last_entry()
    assert entry is not None, "no access log entry"
    authz = entry["authz"]
    assert authz["decision"] == "deny" and authz["reason"] == "no_service_policy", entry
    assert authz["principal"] == "anonymous", entry
    assert UUID.match(authz["decision_id"]), entry
    assert entry["client"] == "127.0.0.1", entry
    # Decision lines are written in batches, at least every 100 ms.
    wait_until(lambda: authz["decision_id"] in stack.sidecar.output(), 5, "the decision line")
    decisions = [json.loads(line) for line in stack.sidecar.output().splitlines()
                 if line.startswith("{") and authz["decision_id"] in line]
    decided = [d for d in decisions if d.get("message") == "Authorization decided."]
    assert len(decided) == 1, decisions
    assert decided[0]["reason"] == "no_service_policy"
