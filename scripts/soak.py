#!/usr/bin/env python3
"""Soak: lattice-authz under sustained load with a reload every few seconds, then a flood of
unknown access keys. Zero errors, zero wrong answers, and resident memory that stops growing.

Starts the release lattice-authz on a world file (the built-in example world, written out) and
drives it with h2load at the load benchmark's saturation rate (4 connections x 16 streams),
posting the signed CheckRequest of scripts/bench-load.py, re-signed every segment so that it stays
inside the ±5-minute window. Meanwhile a writer replaces the world file every --reload-every
seconds with one policy changed (a new `Id`), so every reload compiles one new policy and reuses
the rest. Resident memory is sampled every 5 seconds.

Then --unknown-keys checks, each signed with a different access key the world does not know
(bench/src/bin/unknown_keys.rs), must all be answered with the one exact deny, and must not grow
resident memory by more than --unknown-keys-growth-mib.

Passes when:
  * every h2load request succeeded, and lattice-authz's /metrics counts exactly that many
    checks, all allows (no deny, no error), before the flood;
  * every world write was a successful reload, none failed;
  * resident memory over the last minute of load is at most --growth-mib above its peak over
    the first minute (the caches fill early; a leak shows as a climb after that);
  * the flood's answers are all the unknown-key deny and it grew memory by at most its bound.

    scripts/soak.py                    # 10 minutes, reload every 3 s, 1,000,000 unknown keys
    scripts/soak.py --minutes 2 --unknown-keys 100000
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as lib  # noqa: E402

NAME = "soak"
CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check"
SEGMENT_SECONDS = 120


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def series_sum(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


class Reloader(threading.Thread):
    """Rewrites the world every `every` seconds with one policy's `Id` changed, atomically."""

    def __init__(self, world, original, every):
        super().__init__(daemon=True)
        self.world, self.original, self.every = world, original, every
        self.writes = 0
        self.stopping = threading.Event()
        if '"Version": "2012-10-17"' not in original:
            sys.exit(f"{NAME}: the example world has no policy to change")

    def run(self):
        while not self.stopping.wait(self.every):
            self.writes += 1
            text = self.original.replace(
                '"Version": "2012-10-17"', f'"Version": "2012-10-17", "Id": "soak-{self.writes}"', 1)
            tmp = self.world.with_name("world.yaml.tmp")
            tmp.write_text(text)
            os.replace(tmp, self.world)


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (seconds since start, RSS KiB)
        self.stopping = threading.Event()
        self.started = time.monotonic()

    def run(self):
        while True:
            rss = lib.rss_kib(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic() - self.started, rss))
            if self.stopping.wait(5):
                return


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--reload-every", type=float, default=3.0, help="seconds")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--growth-mib", type=float, default=16.0)
    parser.add_argument("--unknown-keys", type=int, default=1_000_000)
    parser.add_argument("--unknown-keys-growth-mib", type=float, default=16.0)
    args = parser.parse_args()

    lib.ensure_h2load(NAME)
    bins = lib.build(NAME)
    flood = lib.build_bench_tools("unknown_keys") / "unknown_keys"

    with tempfile.TemporaryDirectory(prefix="lattice-authz-soak-") as tmp:
        workdir = Path(tmp)
        original = subprocess.run([str(bins["sidecar"]), "example-world"], check=True,
                                  capture_output=True, text=True, timeout=30).stdout
        world_dir = workdir / "world"
        world_dir.mkdir()
        world = world_dir / "world.yaml"
        world.write_text(original)
        port, metrics_port = lib.free_port(), lib.free_port()
        env = {
            **os.environ,
            "LATTICE_AUTHZ_LISTEN": f"127.0.0.1:{port}",
            "LATTICE_AUTHZ_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            "LATTICE_AUTHZ_RELOAD_INTERVAL_MS": "100",
        }
        # The decision log is written and thrown away: ten minutes of it would fill a disk.
        sidecar = subprocess.Popen([str(bins["sidecar"]), "serve", "--config", str(world_dir)],
                                   env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(workdir / "sidecar.err", "wb"))
        reloader = sampler = None
        try:
            lib.wait_for(lambda: lib.listening(metrics_port) and "lattice_authz" in
                         metrics(metrics_port), "lattice-authz", sidecar)
            reloader, sampler = Reloader(world, original, args.reload_every), Sampler(sidecar.pid)
            sampler.start()
            reloader.start()

            total = 0
            end = time.monotonic() + args.minutes * 60
            segment = 0
            while (left := end - time.monotonic()) > 1:
                segment += 1
                body = workdir / "check.bin"
                subprocess.run([str(bins["request"]), "signed", str(body)], check=True)
                result = lib.h2load(
                    NAME, f"segment-{segment}", f"http://127.0.0.1:{port}{CHECK_PATH}",
                    ["-H", "content-type: application/grpc", "-H", "te: trailers", "-d", str(body)],
                    duration=int(min(SEGMENT_SECONDS, left)), warmup=0,
                    concurrency=(args.connections, args.streams), client_cpu=None,
                    workdir=workdir, cpu_pids=[sidecar.pid],
                )
                total += result["requests"]
                lib.log(NAME, f"segment {segment}: {result['throughput']:.0f} checks/s, "
                        f"p50 {result['p50']} µs, p99 {result['p99']} µs, "
                        f"RSS {sampler.samples[-1][1] / 1024:.1f} MiB")
            reloader.stopping.set()
            reloader.join()
            time.sleep(1)  # the last write's reload
            sampler.stopping.set()
            sampler.join()

            text = metrics(metrics_port)
            allows = series_sum(text, "lattice_authz_checks_total", decision="allow")
            checks = series_sum(text, "lattice_authz_checks_total")
            reload_ok = series_sum(text, "lattice_authz_reloads_total", result="success")
            reload_failed = series_sum(text, "lattice_authz_reloads_total", result="failure")
            failures = []
            # h2load's per-request log can miss requests still in flight at a segment's end;
            # the server's count is exact, so it must be at least what h2load logged, and all
            # of it allows.
            if checks < total or allows != checks:
                failures.append(f"{checks:.0f} checks answered, {allows:.0f} allowed, "
                                f"h2load logged {total}")
            if reload_failed or reload_ok < reloader.writes:
                failures.append(f"{reloader.writes} world writes, {reload_ok:.0f} reloads, "
                                f"{reload_failed:.0f} failed")

            rss = sampler.samples
            first = [kib for t, kib in rss if t <= 60] or [rss[0][1]]
            last = [kib for t, kib in rss if t >= rss[-1][0] - 60]
            growth = (max(last) - max(first)) / 1024
            lib.log(NAME, f"{checks:.0f} checks in {args.minutes:g} min, all allowed; "
                    f"{reloader.writes} reloads; RSS peak first minute {max(first) / 1024:.1f} MiB, "
                    f"last minute {max(last) / 1024:.1f} MiB (growth {growth:+.1f} MiB), "
                    f"overall max {max(k for _, k in rss) / 1024:.1f} MiB")
            if growth > args.growth_mib:
                failures.append(f"RSS grew {growth:.1f} MiB (bound {args.growth_mib} MiB)")

            if args.unknown_keys:
                before = lib.rss_kib(sidecar.pid)
                started = time.monotonic()
                out = subprocess.run(
                    [str(flood), f"http://127.0.0.1:{port}", str(args.unknown_keys)],
                    check=True, capture_output=True, text=True, timeout=1800).stdout
                seconds = time.monotonic() - started
                after = lib.rss_kib(sidecar.pid)
                answers = [line.split("\t", 3) for line in out.splitlines()]
                lib.log(NAME, f"{args.unknown_keys} unknown keys in {seconds:.0f} s: RSS "
                        f"{before / 1024:.1f} -> {after / 1024:.1f} MiB; answers: {answers}")
                if len(answers) != 1 or answers[0][:3] != [str(args.unknown_keys), "7", "403"]:
                    failures.append(f"unknown keys answered otherwise: {answers}")
                if (after - before) / 1024 > args.unknown_keys_growth_mib:
                    failures.append(f"unknown keys grew RSS {(after - before) / 1024:.1f} MiB")
            if failures:
                sys.exit(f"{NAME}: FAILED: " + "; ".join(failures))
            lib.log(NAME, "passed")
        finally:
            if reloader:
                reloader.stopping.set()
            if sampler:
                sampler.stopping.set()
            lib.stop([sidecar])


if __name__ == "__main__":
    main()
