"""Hot reload under continuous load: a policy change is followed by the next checks, an invalid
world (truncated, invalid or deleted) changes nothing and is counted once, and no request fails
meanwhile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import start_stack, stop_stack
from harness import http_get, sidecar_binary, wait_until
from world import LATTICECLIENT, LATTICEUSER, NGINX_ARN, NGINX_HOST, ROWS, VPC_A, access_denied

sys.path.insert(0, str(Path(__file__).resolve().parent / "clients"))
import lattice_transport  # noqa: E402

OLD_PRINCIPAL = '"arn:aws:iam::917561075114:user/latticeuser"'
NEW_PRINCIPAL = '"arn:aws:iam::917561075114:user/latticeclient"'
DENIED = {
    LATTICEUSER.name: access_denied(LATTICEUSER.principal, NGINX_ARN, "service"),
    LATTICECLIENT.name: ROWS[3].body,
}


@dataclass
class Result:
    caller: str
    started: float
    ended: float
    status: int  # 0: connection error
    body: bytes

    @property
    def policy(self) -> str | None:
        """Which policy the answer follows: "old" (latticeuser allowed), "new" (latticeclient
        allowed), or None for an answer that is neither (a failure)."""
        if self.status == 200:
            return "old" if self.caller == LATTICEUSER.name else "new"
        if self.status == 403 and self.body == DENIED[self.caller]:
            return "new" if self.caller == LATTICEUSER.name else "old"
        return None


class Load:
    """Signed GETs to nginx from VPC A, alternating latticeuser and latticeclient, from a few
    threads, until stopped; every answer recorded."""

    def __init__(self, envoy_port: int, threads: int = 2):
        self.envoy = f"127.0.0.1:{envoy_port}"
        self.results: list[Result] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        http = lattice_transport.requests_via_envoy(self.envoy, VPC_A.source_ip)
        url = f"http://{NGINX_HOST}/"
        callers = [LATTICEUSER, LATTICECLIENT]
        i = 0
        while not self.stopping.is_set():
            caller = callers[i % 2]
            i += 1
            request = AWSRequest(method="GET", url=url)
            request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
            SigV4Auth(Credentials(caller.access_key_id, caller.secret_access_key),
                      "vpc-lattice-svcs", "ap-northeast-1").add_auth(request)
            started = time.monotonic()
            try:
                r = http.get(url, headers=dict(request.headers), timeout=5)
                status, body = r.status_code, r.content
            except Exception as e:  # noqa: BLE001 (any failure is a failed request)
                status, body = 0, repr(e).encode()
            with self.lock:
                self.results.append(Result(caller.name, started, time.monotonic(), status, body))

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(10)

    def snapshot(self) -> list[Result]:
        with self.lock:
            return list(self.results)

    def wait_for(self, policy: str, since: float, timeout: float) -> float:
        """Waits until both callers got answers of `policy` for requests started after `since`;
        returns when the first of them ended."""
        def seen():
            ends = {}
            for r in self.snapshot():
                if r.started >= since and r.policy == policy:
                    ends.setdefault(r.caller, r.ended)
            return min(ends.values()) if len(ends) == 2 else None

        return wait_until(seen, timeout, f"checks following the {policy} policy", interval=0.02)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the series of `name` with these labels in Prometheus text (0 when absent)."""
    want = {k: v for k, v in labels.items()}
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in want.items()):
            total += float(m.group(4))
    return total


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_reload_under_load(workdir):
    original = subprocess.run([sidecar_binary(), "example-world"], capture_output=True,
                              check=True, timeout=30).stdout.decode()
    assert original.count(OLD_PRINCIPAL) == 1, "the nginx policy names latticeuser once"
    flipped = original.replace(OLD_PRINCIPAL, NEW_PRINCIPAL)
    cut = flipped.index(NEW_PRINCIPAL)
    broken = flipped[:cut]  # truncated inside nginx's policy: not even YAML any more
    invalid = flipped.replace('"Effect": "Allow"', '"Effect": "Permit"', 1)  # YAML, not a world
    assert invalid != flipped
    world_dir = workdir / "world"
    world_dir.mkdir()
    world = world_dir / "world.yaml"
    world.write_text(original)

    stack = start_stack("reload", world=world,
                        sidecar_env={"LATTICE_AUTHZ_RELOAD_INTERVAL_MS": "100"})
    try:
        m = lambda: stack.sidecar.metrics_text()  # noqa: E731
        start = m()
        successes = metric(start, "lattice_authz_reloads_total", result="success")
        failures = metric(start, "lattice_authz_reloads_total", result="failure")
        generation = metric(start, "lattice_authz_snapshot_generation")

        with Load(stack.envoy_port) as load:
            load.wait_for("old", 0, 10)
            time.sleep(0.5)

            # 1. A policy change: latticeclient instead of latticeuser.
            changed_at = time.monotonic()
            write_atomically(world, flipped)
            flipped_at = load.wait_for("new", changed_at, 10)
            time.sleep(0.5)
            after_flip = m()
            assert metric(after_flip, "lattice_authz_reloads_total",
                          result="success") == successes + 1
            assert metric(after_flip, "lattice_authz_snapshot_generation") > generation
            generation = metric(after_flip, "lattice_authz_snapshot_generation")

            # 2. Faults: a truncated file, a world that is YAML but not valid, a deleted file.
            # Nothing changes; each failure is counted once, however many polls see it.
            broken_at = time.monotonic()
            for n, fault in enumerate(["truncated", "invalid", "deleted"], start=1):
                if fault == "deleted":
                    world.unlink()
                else:
                    write_atomically(world, broken if fault == "truncated" else invalid)
                wait_until(lambda: metric(m(), "lattice_authz_reloads_total", result="failure")
                           == failures + n, 10, f"the {fault} world's failed reload to be counted")
                time.sleep(1.0)  # ten polls: keep checking on the last good world
                after = m()
                assert metric(after, "lattice_authz_snapshot_generation") == generation, fault
                assert metric(after, "lattice_authz_reloads_total",
                              result="failure") == failures + n, fault
                assert http_get(f"{stack.sidecar.metrics_url}/readyz")[0] == 200, fault
            fixed_at = time.monotonic()

            # 3. A good world again: the original policy is back.
            write_atomically(world, original)
            restored_at = load.wait_for("old", fixed_at, 10)
            time.sleep(0.3)

        results = load.snapshot()
        failed = [r for r in results if r.policy is None]
        assert not failed, f"{len(failed)} failed requests, e.g. {failed[:3]}"
        assert len(results) >= 100, f"only {len(results)} requests: no real load"

        def policies(lo: float, hi: float) -> set:
            return {r.policy for r in results if r.started >= lo and r.ended <= hi}

        # Before the change: old. Once a check followed the new policy, every later one does,
        # through the invalid file, until the good world is written back.
        assert policies(0, changed_at) == {"old"}
        assert policies(flipped_at, fixed_at) == {"new"}
        assert policies(broken_at, fixed_at) == {"new"}, "the invalid world changed decisions"
        assert policies(restored_at, float("inf")) == {"old"}
        assert flipped_at - changed_at < 5 and restored_at - fixed_at < 5

        end = m()
        assert metric(end, "lattice_authz_reloads_total", result="success") == successes + 2
        assert metric(end, "lattice_authz_reloads_total", result="failure") == failures + 3
        assert metric(end, "lattice_authz_checks_total", decision="error") == 0
        assert metric(end, "lattice_authz_last_reload_success_timestamp_seconds") > 0
        # Each failed reload says why, in the log, once.
        output = stack.sidecar.output()
        assert output.count("World not loaded; keeping the last good world.") == 3
        assert output.count("cannot read the world") == 1
        assert "world.yaml" in output
    finally:
        stop_stack(stack)
