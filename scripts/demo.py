#!/usr/bin/env python3
"""Reproduce example-world.md's eight expected decisions with a real Envoy and real clients.

    scripts/demo.py               # start everything on loopback, run the rows, stop
    scripts/demo.py --keep        # ...and leave it running for your own curl (Ctrl-C stops)
    scripts/demo.py --prometheus  # ...with a Prometheus on 127.0.0.1:9090 scraping both

Starts, all on 127.0.0.1: the echo upstream (:8080), `lattice-authz serve` on the built-in
example world (gRPC :9191, metrics :9464), and Envoy with deploy/envoy/envoy.yaml (:10000, stats
:9902, admin :9901). Then every row is sent through Envoy with curl (anonymous or
--aws-sigv4), printed as a command you can paste, and rows 2 and 4 again with the seed
articles' botocore scripts. Needs `cargo build --release` and
`pip install -r tests/e2e/requirements.txt` (scripts/test does both).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from harness import HarnessError, Prometheus, Stack  # noqa: E402
from rows import check, send  # noqa: E402
from world import ROWS  # noqa: E402

PORTS = {"ingress": 10000, "stats": 9902, "admin": 9901, "upstream": 8080, "grpc": 9191,
         "metrics": 9464}
PROMETHEUS_PORT = 9090
VPC_NAMES = {"127.0.0.1": "VPC A", "127.0.1.1": "VPC B", "127.0.2.1": "VPC C"}


def describe(row) -> str:
    who = row.caller.name if row.caller else "anonymous"
    service = row.host.split("-", 1)[0]
    return (f"Row {row.number}: {who} from {row.vpc.source_ip} ({VPC_NAMES[row.vpc.source_ip]}), "
            f"{row.method} / to {service}")


def show(resp, row) -> bool:
    if resp.command:
        print("  $ " + shlex.join(resp.command))
    if resp.status == 200:
        seen = dict((k, v) for k, v in resp.upstream_saw()["headers"])
        print(f"  -> 200, the upstream saw x-amzn-lattice-identity: "
              f"{seen.get('x-amzn-lattice-identity', '(none)')}")
    else:
        print(f"  -> {resp.status} {resp.body.decode(errors='replace')}")
    try:
        check(row, resp, method="POST" if resp.client == "article2_post.py" else None)
    except AssertionError as e:
        print(f"  !! NOT as example-world.md says: {e}")
        return False
    print("     as example-world.md says")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--keep", action="store_true", help="keep running until Ctrl-C")
    parser.add_argument("--prometheus", action="store_true",
                        help=f"also run Prometheus on 127.0.0.1:{PROMETHEUS_PORT}")
    parser.add_argument("--any-ports", action="store_true",
                        help="pick free ports instead of the fixed ones")
    parser.add_argument("--config", type=Path, help="a world file instead of the built-in one")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="lattice-demo-"))
    ports = {} if args.any_ports else PORTS
    stack = Stack(workdir, world=args.config, ports=ports)
    prom = None
    try:
        try:
            stack.start()
        except HarnessError as e:
            print(f"demo: {e}", file=sys.stderr)
            if not args.any_ports:
                print("demo: a port in use? try --any-ports", file=sys.stderr)
            return 1
        envoy, up = stack.envoy_port, stack.upstream.port
        print(f"Envoy on 127.0.0.1:{envoy} -> upstream 127.0.0.1:{up}, ext_authz lattice-authz "
              f"127.0.0.1:{stack.sidecar.grpc_port} (metrics "
              f"http://127.0.0.1:{stack.sidecar.metrics_port}/metrics)\n")
        ok = 0
        runs = [("curl", n) if ROWS[n].caller is None else ("curl --aws-sigv4", n)
                for n in sorted(ROWS)]
        runs += [("article1_get.py", 2), ("article2_post.py", 4)]
        for client, number in runs:
            row = ROWS[number]
            title = describe(row)
            if client.startswith("article"):
                article = "first" if client == "article1_get.py" else "second"
                title += f", with the {article} seed article's script (tests/e2e/clients/{client})"
            elif row.tamper:
                title += ", curl's signature with its last byte changed"
            print(title)
            _, resp = send(client, number, envoy, up)
            ok += show(resp, row)
            print()
        print(f"{ok}/{len(runs)} answers as example-world.md says.")

        if args.prometheus:
            prom_dir = workdir / "prom"
            prom_dir.mkdir()
            prom = Prometheus(prom_dir, f"127.0.0.1:{stack.sidecar.metrics_port}",
                              f"127.0.0.1:{stack.envoy.stats_port}")
            if not args.any_ports:
                prom.port = PROMETHEUS_PORT
                prom.url = f"http://127.0.0.1:{PROMETHEUS_PORT}"
                prom.proc.argv = [a if not a.startswith("--web.listen-address=") else
                                  f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"
                                  for a in prom.proc.argv]
            prom.start()
            print(f"Prometheus: {prom.url}/graph?g0.expr=lattice_authz_checks_total")

        if args.keep:
            print(f"\nRunning (logs in {workdir}). Try:\n  curl --interface 127.0.2.1 -H "
                  f"'Host: {ROWS[7].host}' http://127.0.0.1:{envoy}/\nCtrl-C stops everything.")
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0 if ok == len(runs) else 1
    finally:
        if prom is not None:
            prom.stop()
        stack.stop()
        if not os.environ.get("E2E_KEEP_TMP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
