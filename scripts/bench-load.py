#!/usr/bin/env python3
"""Load benchmark: lattice-authz against a null ext_authz server, same generator, same requests.

Starts the release lattice-authz (built-in example world) and two null authorizers
(bench/src/bin/null_authz.rs, which allows everything): "null", the minimal tonic server on tokio's
multi-thread runtime, and "null-1loop", the same served on one single-threaded event loop as
lattice-authz's gRPC worker is, so that against it the difference is lattice-authz's own work.
Each is pinned to one CPU and driven by h2load pinned to the other CPU, posting the same
gRPC-framed, SigV4-signed CheckRequest (bench/src/bin/load_request.rs). Rounds rotate the order of
the servers so drift hits all alike. Two phases:

  saturation  as many checks as h2load can push (4 connections x 16 streams): throughput, its
              ratios (target >= 0.90), and the server's CPU time per check;
  serial      one connection, one check at a time: round-trip p50/p99/p99.9 and their ratios
              (target: p99 <= 1.15x), the latency one Envoy worker sees.

Every figure is the median of the rounds. Afterwards lattice-authz's own /metrics must show that
every check it answered was an allow, with no deny and no error: a fast wrong answer is not a
result. Loopback only, bounded in time, and both servers are stopped on the way out.

    scripts/bench-load.py                      # 5 rounds x 10 s per phase and server
    scripts/bench-load.py --rounds 5 --duration 20 --json results.json
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as lib  # noqa: E402

NAME = "bench-load"
CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check"


ARMS = ["null", "null-1loop", "lattice-authz"]


class Servers:
    """The null authorizers and lattice-authz, each pinned to the server CPU."""

    def __init__(self, args, bins, workdir):
        self.processes = {}
        self.decision_log = None
        try:
            self.start_all(args, bins, workdir)
        except BaseException:
            # What started before the failure must not outlive the benchmark.
            self.stop()
            raise

    def start_all(self, args, bins, workdir):
        self.ports = {arm: lib.free_port() for arm in ARMS}
        self.metrics_port = lib.free_port()
        server_pin = lib.pin(args.server_cpu)
        for arm, extra in (("null", []), ("null-1loop", ["--single-loop"])):
            self.processes[arm] = subprocess.Popen(
                server_pin + [str(bins["null"]), f"127.0.0.1:{self.ports[arm]}"] + extra,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        env = {
            **os.environ,
            "LATTICE_AUTHZ_LISTEN": f"127.0.0.1:{self.ports['lattice-authz']}",
            "LATTICE_AUTHZ_METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
        }
        # The decision log goes to a file, as a container's stdout goes to its log: the cost
        # of writing one line per check is part of what is measured.
        self.decision_log = open(workdir / "decisions.log", "wb")
        self.sidecar = subprocess.Popen(
            server_pin + [str(bins["sidecar"])],
            env=env, stdout=self.decision_log, stderr=subprocess.DEVNULL,
        )
        self.processes["lattice-authz"] = self.sidecar
        for arm in ("null", "null-1loop"):
            port = self.ports[arm]
            lib.wait_for(lambda: lib.listening(port), f"the {arm} authorizer", self.processes[arm])
        lib.wait_for(self.ready, "lattice-authz /readyz", self.sidecar)

    def ready(self):
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/readyz"
            with urllib.request.urlopen(url, timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False

    def decisions(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
        counts = {}
        for line in text.splitlines():
            m = re.match(r"lattice_authz_checks_total\{(.*)\} (\S+)$", line)
            if m:
                decision = re.search(r'decision="([^"]+)"', m.group(1)).group(1)
                counts[decision] = counts.get(decision, 0) + int(float(m.group(2)))
        return counts

    def stop(self):
        lib.stop(list(self.processes.values()))
        if self.decision_log is not None:
            self.decision_log.close()


def phase(args, servers, bins, workdir, name, concurrency):
    by_server = {arm: [] for arm in ARMS}
    for round_no in range(args.rounds):
        shift = round_no % len(ARMS)
        order = ARMS[shift:] + ARMS[:shift]
        for server in order:
            body = workdir / "check.bin"
            # Signed afresh each run: the sidecar reads the wall clock (±5 minutes).
            subprocess.run([str(bins["request"]), args.case, str(body)], check=True)
            process = servers.processes[server]
            port = servers.ports[server]
            result = lib.h2load(
                NAME, f"{name}-{server}-{round_no}", f"http://127.0.0.1:{port}{CHECK_PATH}",
                ["-H", "content-type: application/grpc", "-H", "te: trailers", "-d", str(body)],
                duration=args.duration, warmup=args.warmup, concurrency=concurrency,
                client_cpu=args.client_cpu, workdir=workdir, cpu_pids=[process.pid],
            )
            by_server[server].append(result)
            lib.log(NAME,
                f"{name} round {round_no + 1} {server:>13}: {result['throughput']:>9.0f} checks/s, "
                f"p50 {result['p50']} µs, p99 {result['p99']} µs, p99.9 {result['p999']} µs, "
                f"{result['cpu_us']:.1f} µs CPU per check"
            )
    return {server: lib.medians(rows) for server, rows in by_server.items()}, by_server


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams per connection")
    parser.add_argument("--case", choices=["signed", "anonymous"], default="signed")
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        args.server_cpu = args.client_cpu = None

    lib.ensure_h2load(NAME)
    bins = lib.build(NAME)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        servers = Servers(args, bins, workdir)
        try:
            sat, sat_runs = phase(
                args, servers, bins, workdir, "saturation", (args.connections, args.streams))
            serial, serial_runs = phase(args, servers, bins, workdir, "serial", (1, 1))
            counts = servers.decisions()
            rss = lib.rss_kib(servers.sidecar.pid)
        finally:
            servers.stop()
    answered = sum(r["requests"] for runs in (sat_runs, serial_runs) for r in runs["lattice-authz"])
    # The signed request is allowed; the anonymous one is denied by the service's auth policy.
    expected = "allow" if args.case == "signed" else "deny"
    wrong = {k: v for k, v in counts.items() if k != expected and v}
    if wrong or counts.get(expected, 0) < answered:
        sys.exit(f"{NAME}: lattice-authz answered something other than {expected}: {counts}")

    def ratio(a, b):
        return a / b if b else float("nan")

    rows = [("saturation checks/s", sat, "throughput"), ("saturation CPU µs/check", sat, "cpu_us"),
            ("saturation p50 µs", sat, "p50"), ("saturation p99 µs", sat, "p99"),
            ("saturation p99.9 µs", sat, "p999"), ("serial checks/s", serial, "throughput"),
            ("serial p50 µs", serial, "p50"), ("serial p99 µs", serial, "p99"),
            ("serial p99.9 µs", serial, "p999")]
    print()
    print(f"{'':26}{'null':>10}{'null-1loop':>12}{'lattice-authz':>15}"
          f"{'ratio to null':>15}{'to null-1loop':>15}")
    for label, table, key in rows:
        a, a1, b = table["null"][key], table["null-1loop"][key], table["lattice-authz"][key]
        print(f"{label:26}{a:>10.1f}{a1:>12.1f}{b:>15.1f}{ratio(b, a):>15.2f}{ratio(b, a1):>15.2f}")
    print(f"\n{args.rounds} rounds x {args.duration} s per phase and server (medians), saturation "
          f"{args.connections} connections x {args.streams} streams, case {args.case}; lattice-authz "
          f"answered {counts.get(expected, 0)} checks, every one {expected}; RSS {rss} KiB at the end")
    if args.json:
        args.json.write_text(json.dumps(
            {"saturation": sat, "serial": serial, "decisions": counts, "rss_kib": rss}, indent=2))


if __name__ == "__main__":
    main()
