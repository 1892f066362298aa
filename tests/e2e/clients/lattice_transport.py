"""What the seed articles' scripts need to run on one machine instead of in AWS VPCs.

In AWS the service's DNS name resolves to Lattice inside the caller's VPC. Here the caller's
VPC is its source address (127.0.0.x = VPC A, 127.0.1.x = B, 127.0.2.x = C) and "Lattice" is
Envoy on a loopback port. `requests_via_envoy()` returns a `requests.Session` that keeps the URL
the script signed (so `Host:` is the service's DNS name, as signed) but connects to
LATTICE_E2E_ENVOY (host:port) from LATTICE_E2E_SOURCE_IP. Nothing about the request changes.
"""
from __future__ import annotations

import base64
import json
import os
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class _ViaEnvoy(HTTPAdapter):
    def __init__(self, envoy: str, source_ip: str):
        self._envoy = envoy
        self._source_ip = source_ip
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._source_ip, 0)
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        if "host" not in request.headers:
            request.headers["Host"] = url.netloc
        request.url = urlunsplit(("http", self._envoy, url.path or "/", url.query, ""))
        return super().send(request, **kwargs)


def requests_via_envoy(envoy: str | None = None, source_ip: str | None = None
                       ) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies, no .netrc
    adapter = _ViaEnvoy(envoy or os.environ["LATTICE_E2E_ENVOY"],
                        source_ip or os.environ["LATTICE_E2E_SOURCE_IP"])
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def maybe_tamper(request) -> None:
    """Row 8 of example-world.md: change one byte of the signature."""
    if os.environ.get("LATTICE_E2E_TAMPER_SIGNATURE") != "1":
        return
    auth = request.headers["Authorization"]
    last = auth[-1]
    tampered = auth[:-1] + ("0" if last != "0" else "1")
    del request.headers["Authorization"]
    request.headers["Authorization"] = tampered


def report(response) -> None:
    path = os.environ.get("LATTICE_E2E_REPORT")
    if not path:
        return
    with open(path, "w") as f:
        json.dump({
            "status": response.status_code,
            "headers": [[k.lower(), v] for k, v in response.headers.items()],
            "body": base64.b64encode(response.content).decode(),
            "sent": [[k.lower(), v if isinstance(v, str) else v.decode()]
                     for k, v in response.request.headers.items()],
        }, f)
