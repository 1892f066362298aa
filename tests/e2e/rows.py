"""Driving example-world.md's rows through Envoy with each real client, and checking the answer
byte for byte. Shared by the decision, metrics and log tests and by scripts/demo.py."""

from __future__ import annotations

import re

from clients import Response, article_script, curl_row
from world import ROWS, Row, expected_upstream_headers

# (client, row): which client reproduces which row. The articles' scripts sign, so they take the
# signed rows: article 1 GETs (rows 2, 3, 6, 8 are GETs); article 2 POSTs JSON (rows 4 and 5 are
# its own scenario; on rows 2, 3 and 6 it shows the decision does not depend on the method).
# curl takes every row: anonymous for 1 and 7, `--aws-sigv4` for the others.
CASES: list[tuple[str, int]] = (
    [("curl", 1), ("curl", 7)]
    + [("article1_get.py", n) for n in (2, 3, 6, 8)]
    + [("article2_post.py", n) for n in (4, 5, 2, 3, 6)]
    + [("curl --aws-sigv4", n) for n in (2, 3, 4, 5, 6, 8)]
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def send(client: str, number: int, envoy_port: int, upstream_port: int,
         headers: tuple[str, ...] = ()) -> tuple[Row, Response]:
    row = ROWS[number]
    if client.startswith("article"):
        assert not headers, "the articles' scripts send what the articles send"
        return row, article_script(client, envoy_port, row)
    if client == "curl":
        assert row.caller is None, f"row {number} is signed"
    else:
        assert row.caller is not None, f"row {number} is anonymous"
    return row, curl_row(envoy_port, row, upstream_port, headers)


def check(row: Row, resp: Response, method: str | None = None) -> None:
    """Asserts the answer of `row` exactly: status, body, headers, what the upstream saw."""
    where = f"row {row.number} via {resp.client}"
    if not row.allowed:
        assert (resp.status, resp.body) == (403, row.body), f"{where}: {resp}"
        assert resp.header("content-type") == "text/plain", where
        assert resp.header("x-amzn-errortype") == row.error_type, where
        return
    assert resp.status == 200, f"{where}: {resp}"
    seen = resp.upstream_saw()
    seen_headers: dict[str, list[str]] = {}
    for k, v in seen["headers"]:
        seen_headers.setdefault(k, []).append(v)
    assert seen["method"] == (method or row.method), where
    assert seen_headers.get("host") == [row.host], f"{where}: Host {seen_headers.get('host')}"
    for name, value in expected_upstream_headers(row).items():
        expected = None if value is None else [value]
        assert seen_headers.get(name) == expected, (
            f"{where}: upstream saw {name}: {seen_headers.get(name)}, expected {expected}")


def run_all(envoy_port: int, upstream_port: int) -> list[tuple[str, Row, Response]]:
    """Every case once, each checked; returns what was sent and received."""
    done = []
    for client, number in CASES:
        row, resp = send(client, number, envoy_port, upstream_port)
        check(row, resp, method="POST" if client == "article2_post.py" else None)
        done.append((client, row, resp))
    return done
