"""Decision logs at debug level: one structured line per check, and never a secret key, a session
token or a signature, whatever the level."""

from __future__ import annotations

import json

import clients
from harness import wait_until
from rows import UUID, run_all
from world import SECRETS

DECISION_FIELDS = ("decision", "reason", "layer", "status", "principal", "service_arn",
                   "request_id", "decision_id", "latency_us")


def test_debug_logs_hold_no_secrets(stack):
    """The shared stack runs `--log-level debug`; every client sends every row again here."""
    assert stack.sidecar.log_level == "debug"
    before = len(stack.sidecar.output().splitlines())
    done = run_all(stack.envoy_port, stack.upstream.port)

    def decision_lines(text):
        return [json.loads(line) for line in text.splitlines()[before:]
                if line.startswith("{") and '"Authorization decided."' in line]

    # Decision lines are written in batches, at least every 100 ms.
    wait_until(lambda: len(decision_lines(stack.sidecar.output())) >= len(done), 5,
               "the run's decision lines")
    output = stack.sidecar.output()

    # The run really logged at debug level, as JSON lines.
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(entry.get("level") == "DEBUG" for entry in lines), "no debug line at all"

    # Exactly one decision line per check of this run, with the documented fields.
    new = [json.loads(line) for line in output.splitlines()[before:] if line.startswith("{")]
    decided = [e for e in new if e.get("message") == "Authorization decided."]
    assert len(decided) == len(done), (len(decided), len(done))
    for entry, (client, row, _) in zip(decided, done):
        missing = [f for f in DECISION_FIELDS if f not in entry]
        assert not missing, f"row {row.number} via {client}: missing {missing} in {entry}"
        assert (entry["decision"], entry["reason"]) == (row.decision, row.reason), (
            f"row {row.number} via {client}: {entry}")
        assert UUID.match(entry["decision_id"]) and entry["request_id"], entry
        expected_status = 200 if row.allowed else 403
        assert int(entry["status"]) == expected_status, entry

    # Nothing secret, in any line, at any level.
    assert clients.SENT_SIGNATURES, "no signature was recorded"
    for secret in SECRETS:
        assert secret not in output, "a secret access key or session token was logged"
    leaked = [s for s in clients.SENT_SIGNATURES if s in output]
    assert not leaked, f"{len(leaked)} request signatures were logged"
    # Nor the Authorization header's value in any form.
    for marker in ("Signature=", "AWS4-HMAC-SHA256 Credential"):
        assert marker not in output, f"{marker!r} appears in the log"
