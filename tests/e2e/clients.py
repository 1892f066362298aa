"""Real clients of the end-to-end tests: the seed articles' botocore scripts, `curl --aws-sigv4`
and anonymous curl. Each sends one request to Envoy and returns what came back.

Every signature sent is remembered in SENT_SIGNATURES so the log test can look for it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from world import REGION, SERVICE, Caller, Row

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
SENT_SIGNATURES: set[str] = set()
_SIGNATURE = re.compile(r"Signature=([0-9a-fA-F]+)")


@dataclass
class Response:
    client: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    sent: list[tuple[str, str]] = field(default_factory=list)  # request headers as sent
    command: list[str] = field(default_factory=list)  # what a person would type (curl)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        assert len(values) <= 1, f"{name} appears {len(values)} times: {values}"
        return values[0] if values else None

    def upstream_saw(self) -> dict:
        """The echo upstream's view of the request (allowed requests only)."""
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.client}: HTTP {self.status} {self.body[:400]!r}"


def _remember(sent: list[tuple[str, str]]) -> None:
    for k, v in sent:
        if k.lower() == "authorization":
            SENT_SIGNATURES.update(_SIGNATURE.findall(v))


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "LATTICE_E2E_")) and "proxy" not in k.lower()}
    # No shared config, no instance metadata: only the credentials given below.
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               AWS_EC2_METADATA_DISABLED="true", PYTHONDONTWRITEBYTECODE="1")
    return env


# === the seed articles' scripts ===


def article_script(script: str, envoy_port: int, row: Row, timeout: float = 30) -> Response:
    """Runs clients/<script> (article1_get.py or article2_post.py) for a signed row."""
    caller = row.caller
    assert caller is not None, "the articles' scripts sign"
    env = _clean_env()
    env.update(
        AWS_ACCESS_KEY_ID=caller.access_key_id,
        AWS_SECRET_ACCESS_KEY=caller.secret_access_key,
        AWS_DEFAULT_REGION=REGION,
        LATTICE_URL=f"http://{row.host}",
        LATTICE_E2E_ENVOY=f"127.0.0.1:{envoy_port}",
        LATTICE_E2E_SOURCE_IP=row.vpc.source_ip,
        PYTHONPATH=str(CLIENTS_DIR),
    )
    if caller.session_token:
        env["AWS_SESSION_TOKEN"] = caller.session_token
    if row.tamper:
        env["LATTICE_E2E_TAMPER_SIGNATURE"] = "1"
    with tempfile.TemporaryDirectory(prefix="e2e-client-") as tmp:
        report = Path(tmp) / "report.json"
        env["LATTICE_E2E_REPORT"] = str(report)
        run = subprocess.run([sys.executable, CLIENTS_DIR / script], env=env, cwd=tmp,
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        assert run.returncode == 0 and report.exists(), (
            f"{script} failed ({run.returncode}):\n{run.stdout.decode()}\n{run.stderr.decode()}")
        data = json.loads(report.read_text())
    sent = [tuple(h) for h in data["sent"]]
    _remember(sent)
    shown = [f"{k}={env[k]}" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "LATTICE_URL",
                                       "LATTICE_E2E_ENVOY", "LATTICE_E2E_SOURCE_IP",
                                       "LATTICE_E2E_TAMPER_SIGNATURE") if k in env]
    shown += ["PYTHONPATH=tests/e2e/clients", "python3", f"tests/e2e/clients/{script}"]
    return Response(script, data["status"], [tuple(h) for h in data["headers"]],
                    base64.b64decode(data["body"]), sent, shown)


# === curl ===


def _parse_headers(raw: str) -> list[tuple[str, str]]:
    """The last response's headers from `curl -D`."""
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip()]
    lines = blocks[-1].split("\n")[1:] if blocks else []
    return [(k.strip().lower(), v.strip()) for k, v in
            (line.split(":", 1) for line in lines if ":" in line)]


def curl(envoy_port: int, *, host: str, source_ip: str, method: str = "GET", path: str = "/",
         caller: Caller | None = None, headers: tuple[str, ...] = (), data: bytes | None = None,
         connect_to: int | None = None, timeout: float = 20) -> Response:
    """`curl`, anonymous or `--aws-sigv4` as the README tells users to call Lattice.

    `connect_to` sends the request to another loopback port (e.g. the upstream directly)."""
    port = connect_to or envoy_port
    shown = ["curl", "--interface", source_ip] + (["-X", method] if method != "GET" else [])
    argv = ["curl", "-sS", "-v", "--noproxy", "*", "--max-time", str(int(timeout)),
            "--interface", source_ip, "-X", method]
    request = ["-H", f"Host: {host}"]
    if caller is not None:
        request += ["--aws-sigv4", f"aws:amz:{REGION}:{SERVICE}",
                    "--user", f"{caller.access_key_id}:{caller.secret_access_key}",
                    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        if caller.session_token:
            request += ["-H", f"x-amz-security-token: {caller.session_token}"]
    for h in headers:
        request += ["-H", h]
    argv += request
    shown += request
    if data is not None:
        argv += ["--data-binary", "@-"]
        shown += ["--data-binary", data.decode()]
    shown.append(f"http://127.0.0.1:{port}{path}")
    with tempfile.TemporaryDirectory(prefix="e2e-curl-") as tmp:
        body_path, head_path = Path(tmp) / "body", Path(tmp) / "headers"
        argv += ["-o", str(body_path), "-D", str(head_path), "-w", "%{http_code}",
                 f"http://127.0.0.1:{port}{path}"]
        run = subprocess.run(argv, input=data or b"", capture_output=True, timeout=timeout + 5,
                             env=_clean_env())
        assert run.returncode == 0, f"curl failed ({run.returncode}): {run.stderr.decode()}"
        status = int(run.stdout.decode().strip())
        body = body_path.read_bytes() if body_path.exists() else b""
        resp_headers = _parse_headers(head_path.read_text(errors="replace"))
    sent = [tuple(p.strip() for p in line[2:].split(":", 1))
            for line in run.stderr.decode(errors="replace").splitlines()
            if line.startswith("> ") and ":" in line]
    sent = [(k.lower(), v) for k, v in sent]
    _remember(sent)
    name = "curl --aws-sigv4" if caller else "curl"
    return Response(name, status, resp_headers, body, sent, shown)


def curl_row(envoy_port: int, row: Row, upstream_port: int, headers: tuple[str, ...] = ()
             ) -> Response:
    """A row of example-world.md with curl: anonymous, or `--aws-sigv4`.

    Row 8 (one byte of the signature changed): curl signs the request, which is sent straight to
    the upstream (not through Envoy, so no check is counted) to see what curl sent; the same
    headers, the signature's last byte changed, then go through Envoy with plain curl."""
    data = b'{"hello": "lattice"}' if row.method == "POST" else None
    extra = ("content-type: application/json",) if row.method == "POST" else ()
    if not row.tamper:
        return curl(envoy_port, host=row.host, source_ip=row.vpc.source_ip, method=row.method,
                    caller=row.caller, headers=extra + headers, data=data)
    signed = curl(envoy_port, host=row.host, source_ip=row.vpc.source_ip, method=row.method,
                  caller=row.caller, headers=extra, data=data, connect_to=upstream_port)
    assert signed.status == 200, signed
    seen = dict((k, v) for k, v in signed.upstream_saw()["headers"])
    auth = seen["authorization"]
    tampered = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    replay = [f"authorization: {tampered}", f"x-amz-date: {seen['x-amz-date']}",
              "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    if "x-amz-security-token" in seen:
        replay.append(f"x-amz-security-token: {seen['x-amz-security-token']}")
    resp = curl(envoy_port, host=row.host, source_ip=row.vpc.source_ip, method=row.method,
                headers=tuple(replay) + extra + headers, data=data)
    resp.client = "curl --aws-sigv4, signature changed"
    return resp
