"""Fail closed: with the sidecar stopped, Envoy rejects a request the world allows; once the
sidecar is back, the same request is allowed again."""

from __future__ import annotations

from harness import wait_until
from rows import check, send
from world import INVALID_SIGNATURE


def test_sidecar_down_means_403_then_allowed_again(fresh_stack):
    stack = fresh_stack
    row, resp = send("curl --aws-sigv4", 2, stack.envoy_port, stack.upstream.port)
    check(row, resp)  # allowed while the sidecar runs
    served = stack.upstream.served()

    stack.sidecar.stop()
    for client in ("curl --aws-sigv4", "article1_get.py"):
        row, resp = send(client, 2, stack.envoy_port, stack.upstream.port)
        # Envoy's status_on_error: 403 with no Lattice text (nobody decided), never the upstream.
        assert resp.status == 403, resp
        assert resp.header("x-amzn-errortype") is None, resp
        assert b"AccessDeniedException" not in resp.body and resp.body != INVALID_SIGNATURE
    assert stack.upstream.served() == served, "a request reached the upstream while down"
    assert stack.envoy is not None
    stats = stack.envoy.stats()
    errors = [v for k, v in stats.items() if k.endswith("ext_authz.lattice.error")]
    allowed = [v for k, v in stats.items() if k.endswith("failure_mode_allowed")]
    assert errors and max(errors) >= 2, {k: v for k, v in stats.items() if "ext_authz" in k}
    assert not any(allowed), "Envoy failed open"

    stack.sidecar.start()  # same ports: Envoy's cluster reconnects by itself

    def allowed_again():
        _, r = send("curl --aws-sigv4", 2, stack.envoy_port, stack.upstream.port)
        return r if r.status == 200 else None

    resp = wait_until(allowed_again, 15, "allowed again after the restart", interval=0.2)
    check(row, resp)
    row, resp = send("article1_get.py", 2, stack.envoy_port, stack.upstream.port)
    check(row, resp)
