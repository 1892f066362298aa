"""Any request a real signer signs, lattice-authz verifies: generated paths and queries (dot
segments, empty segments, escapes, `+`, non-ASCII) signed by botocore's SigV4Auth and by the AWS
CRT's SigV4 and SigV4A signers (awscrt, configured as Lattice's SigV4A Python example), each
decided by `lattice-authz check` as latticeuser, whom nginx's auth policy allows on every path.

The generator is seeded (E2E_SIGNER_SEED, default fixed) so a failure can be replayed; each
failure message carries the request.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import sidecar_binary

awscrt_auth = pytest.importorskip("awscrt.auth")
awscrt_http = pytest.importorskip("awscrt.http")

NGINX = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws"
REGION = "ap-northeast-1"
SERVICE = "vpc-lattice-svcs"
ALICE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
ALICE_ARN = "arn:aws:iam::917561075114:user/latticeuser"
SIGNED_AT = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=datetime.timezone.utc)
CASES = 100

# Characters a path or query may carry, as their users write them; each is percent-encoded on
# the wire unless it is unreserved (or `+`, which the CRT reads as itself).
TEXT = "abcXYZ019-_.~ +@:=é/"


def seed() -> int:
    return int(os.environ.get("E2E_SIGNER_SEED", "20261207"))


def segment(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return rng.choice([".", ".."])
    if kind < 0.2:
        return ""
    return "".join(rng.choice(TEXT.replace("/", "")) for _ in range(rng.randint(1, 8)))


def wire_path(rng: random.Random) -> str:
    """A rooted path as a client puts it on the wire: each segment percent-encoded."""
    segments = [quote(segment(rng), safe="-_.~") for _ in range(rng.randint(0, 5))]
    return "/" + "/".join(segments)


def wire_query(rng: random.Random, plus_as_is: bool) -> str:
    """`name=value&...`, each part percent-encoded; `+` left as is for the CRT."""
    safe = "-_.~+" if plus_as_is else "-_.~"
    pairs = []
    for _ in range(rng.randint(0, 4)):
        name = "".join(rng.choice(TEXT) for _ in range(rng.randint(1, 5)))
        value = "".join(rng.choice(TEXT) for _ in range(rng.randint(0, 6)))
        pairs.append(f"{quote(name, safe=safe)}={quote(value, safe=safe)}")
    return "&".join(pairs)


def target(rng: random.Random, plus_as_is: bool) -> str:
    path, query = wire_path(rng), wire_query(rng, plus_as_is)
    return path + ("?" + query if query else "")


def botocore_signed(tgt: str, monkeypatch) -> bytes:
    # botocore signs at the time its clock gives: the generated requests are signed at SIGNED_AT.
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: SIGNED_AT.replace(tzinfo=None))
    request = AWSRequest(method="GET", url=f"http://{NGINX}{tgt}")
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(ALICE, SERVICE, REGION).add_auth(request)
    lines = [f"GET {tgt} HTTP/1.1", f"Host: {NGINX}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def crt_signed(tgt: str, v4a: bool) -> bytes:
    provider = awscrt_auth.AwsCredentialsProvider.new_static(ALICE.access_key, ALICE.secret_key)
    config = awscrt_auth.AwsSigningConfig(
        algorithm=(awscrt_auth.AwsSigningAlgorithm.V4_ASYMMETRIC if v4a
                   else awscrt_auth.AwsSigningAlgorithm.V4),
        signature_type=awscrt_auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=provider,
        region="*" if v4a else REGION,
        service=SERVICE,
        date=SIGNED_AT,
        signed_body_header_type=awscrt_auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
        signed_body_value=awscrt_auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD,
        use_double_uri_encode=True,
    )
    request = awscrt_http.HttpRequest("GET", tgt, awscrt_http.HttpHeaders([("Host", NGINX)]))
    request = awscrt_auth.aws_sign_request(request, config).result()
    lines = [f"{request.method} {request.path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def decide(raw: bytes) -> dict:
    out = subprocess.run(
        [str(sidecar_binary()), "check", "--json", "--source-ip", "127.0.0.1", "--now",
         SIGNED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), "-"],
        input=raw, capture_output=True, timeout=30, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("LATTICE_AUTHZ_")},
    )
    assert out.returncode in (0, 3), out.stderr.decode(errors="replace")
    return json.loads(out.stdout)


@pytest.mark.parametrize("signer", ["botocore", "crt-sigv4", "crt-sigv4a"])
def test_every_request_a_real_signer_signs_verifies(signer, monkeypatch):
    rng = random.Random(f"{seed()}-{signer}")
    failures = []
    for _ in range(CASES):
        tgt = target(rng, plus_as_is=signer != "botocore")
        if signer == "botocore":
            raw = botocore_signed(tgt, monkeypatch)
        else:
            raw = crt_signed(tgt, v4a=signer == "crt-sigv4a")
        got = decide(raw)
        if (got["decision"], got["principal"]) != ("allow", ALICE_ARN):
            failures.append(f"{tgt!r}: {got['decision']} {got['body']}")
    assert not failures, f"seed {seed()}:\n" + "\n".join(failures)
