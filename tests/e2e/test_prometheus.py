"""A real Prometheus scrapes the sidecar during a run: its query API returns the decision counter
with exactly the values of the requests made, and `promtool check metrics` finds nothing."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter

from harness import REPO, Prometheus, http_get, prometheus_binary, wait_until
from rows import check, send

# Each row once with curl, row 2 three times more with article 1's script: every reason of the
# example world, and counts that differ, so a swapped label shows.
PLAN = [("curl", 1), ("curl", 7)] + [("curl --aws-sigv4", n) for n in (2, 3, 4, 5, 6, 8)] + [
    ("article1_get.py", 2)] * 3


def series(result: list[dict], *labels: str) -> dict[tuple, float]:
    return {tuple(r["metric"].get(label, "") for label in labels): float(r["value"][1])
            for r in result}


def test_prometheus_scrapes_exact_decision_counts(fresh_stack, workdir):
    stack = fresh_stack
    assert stack.envoy is not None
    prom = Prometheus(workdir, f"127.0.0.1:{stack.sidecar.metrics_port}",
                      f"127.0.0.1:{stack.envoy.stats_port}").start()
    try:
        expected: Counter = Counter()
        for client, number in PLAN:
            row, resp = send(client, number, stack.envoy_port, stack.upstream.port)
            check(row, resp)
            expected[(row.decision, row.reason)] += 1
        total = sum(expected.values())

        def scraped_everything():
            # Both targets, scraped after the last request (each at its own offset).
            sidecar = prom.query("sum(lattice_authz_checks_total)")
            envoy = prom.query('sum({__name__=~"envoy_http_ext_authz_(ok|denied)",'
                               'envoy_ext_authz_prefix="lattice"})')
            return (sidecar and float(sidecar[0]["value"][1]) == total
                    and envoy and float(envoy[0]["value"][1]) == total)

        wait_until(scraped_everything, 30, f"Prometheus to see {total} checks", prom.proc,
                   interval=0.25)

        got = series(prom.query("lattice_authz_checks_total"), "decision", "reason")
        assert {k: v for k, v in got.items() if v} == {k: float(v) for k, v in expected.items()}
        assert all(r["metric"]["job"] == "lattice-authz"
                   for r in prom.query("lattice_authz_checks_total"))

        handled = series(prom.query(
            'grpc_server_handled_total{grpc_service="envoy.service.auth.v3.Authorization",'
            'grpc_method="Check"}'), "grpc_code", "grpc_type")
        assert {k: v for k, v in handled.items() if v} == {("OK", "unary"): float(total)}

        for histogram in ("lattice_authz_check_duration_seconds",
                          "lattice_authz_sigv4_verify_duration_seconds",
                          "lattice_authz_policy_eval_duration_seconds"):
            count = prom.query(f"sum({histogram}_count)")
            assert count and float(count[0]["value"][1]) > 0, histogram
            buckets = prom.query(f"{histogram}_bucket")
            assert len({r["metric"]["le"] for r in buckets}) > 5, f"{histogram}: not a histogram"
        assert series(prom.query("sum(lattice_authz_check_duration_seconds_count)")) == {
            (): float(total)}
        # Over the whole run (a rate() would need two scrapes of each bucket).
        p99 = prom.query("histogram_quantile(0.99, sum by (le) "
                         "(lattice_authz_check_duration_seconds_bucket))")
        assert p99 and 0 < float(p99[0]["value"][1]) <= 0.25, f"p99 of a check: {p99}"
        build = prom.query("lattice_authz_build_info")
        assert build and build[0]["metric"].get("version"), build
        assert prom.query("lattice_authz_snapshot_generation")
        # Envoy's side, scraped through the stats listener of deploy/envoy/envoy.yaml.
        assert series(prom.query('up{job="envoy"}')) == {(): 1.0}
        allowed = sum(v for (decision, _), v in expected.items() if decision == "allow")
        envoy = series(prom.query('{__name__=~"envoy_http_ext_authz_(ok|denied|error|'
                                  'failure_mode_allowed)",envoy_ext_authz_prefix="lattice"}'),
                       "__name__")
        assert envoy == {("envoy_http_ext_authz_ok",): allowed,
                         ("envoy_http_ext_authz_denied",): total - allowed,
                         ("envoy_http_ext_authz_error",): 0.0,
                         ("envoy_http_ext_authz_failure_mode_allowed",): 0.0}, envoy

        # Two more scrapes, so that rate() has samples to work on in the dashboard's queries.
        time.sleep(2.5)
        check_dashboard(prom)

        # promtool lints exactly what the sidecar serves.
        text = stack.sidecar.metrics_text()
        lint = subprocess.run([prometheus_binary("promtool"), "check", "metrics"],
                              input=text.encode(), capture_output=True, timeout=30)
        assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), (
            f"promtool: {lint.returncode}\n{lint.stdout.decode()}{lint.stderr.decode()}")
    finally:
        prom.stop()


def check_dashboard(prom: Prometheus) -> None:
    """Every query of deploy/grafana/lattice-authz.json runs and returns data, and every metric
    it names exists."""
    dashboard = json.loads((REPO / "deploy" / "grafana" / "lattice-authz.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    status, body = http_get(f"{prom.url}/api/v1/label/__name__/values")
    assert status == 200
    known = set(json.loads(body)["data"])
    for expr in exprs:
        promql = (expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
                  .replace("$job", ".*"))
        assert prom.query(promql), f"dashboard query {expr!r} returns no data"
        # Metric names, not label names (those are followed by a matcher).
        names = set(re.findall(r"\b((?:lattice_authz|grpc_server|envoy)_\w+)\b(?!\s*[=!~])",
                               promql))
        missing = names - known
        assert not missing, f"dashboard query {expr!r} names unknown metrics {missing}"
