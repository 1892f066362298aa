#!/usr/bin/env python3
"""Regenerates the SigV4 fixtures under tests/data/sigv4/.

    python3 tests/tools/record_sigv4_fixtures.py lattice   # tests/data/sigv4/lattice/*
    python3 tests/tools/record_sigv4_fixtures.py clients   # tests/data/sigv4/clients/*
    python3 tests/tools/record_sigv4_fixtures.py divergences   # tests/data/sigv4/lattice/{crt,...}-*

`lattice` signs with botocore's SigV4Auth at fixed times, so its output is stable. `clients` records
what real clients put on the wire *now*: the two seed articles' botocore scripts and `curl
--aws-sigv4`, captured by a loopback-only listener that stores the raw bytes and answers 200.

Needs python3 with botocore and requests (`pip install botocore requests`) and curl >= 7.75.
Credentials are the example-world ones (../shared/spec/example-world.md); they protect nothing.
"""

import datetime
import hashlib
import os
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sigv4")
REGION = "ap-northeast-1"
SERVICE = "vpc-lattice-svcs"
NGINX = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws"
HELLO = "hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws"

ALICE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
ALICE_ARN = "arn:aws:iam::917561075114:user/latticeuser"
CLIENT = Credentials("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
CLIENT_ARN = "arn:aws:iam::917561075114:user/latticeclient"
SESSION_B = Credentials(
    "ASIAEXAMPLEBSESSION1",
    "bSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    "IQoJb3JpZ2luX2VjEXAMPLEACCOUNTBSESSIONTOKEN",
)
SESSION_B_ARN = "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example"

SIGNED_AT = datetime.datetime(2024, 2, 4, 1, 2, 3)
STAMP = SIGNED_AT.strftime("%Y%m%dT%H%M%SZ")


def stamp(dt):
    return dt.strftime("%Y%m%dT%H%M%SZ")


def at(dt):
    """Makes botocore sign at `dt` instead of now."""
    botocore.auth.get_current_datetime = lambda *a, **k: dt


def serialize(method, url, headers, body=b""):
    """A raw HTTP/1.1 request: Host first (from the URL), then the headers in order."""
    u = urlsplit(url)
    target = (u.path or "/") + ("?" + u.query if u.query else "")
    out = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + u.netloc.encode()]
    for k, v in headers:
        v = v if isinstance(v, bytes) else str(v).encode()
        out.append(k.encode() + b": " + v)
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def signed(creds, method="GET", url=None, headers=(), body=None, region=REGION, service=SERVICE,
           unsigned_header=True, when=SIGNED_AT, auth_cls=SigV4Auth):
    """Signs like seed article 1: x-amz-content-sha256 set before SigV4Auth.add_auth."""
    at(when)
    req = AWSRequest(method=method, url=url or f"https://{NGINX}/", data=body, headers=dict(headers))
    if unsigned_header:
        req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    auth_cls(creds, service, region).add_auth(req)
    return req


def to_raw(req, extra=()):
    body = req.body or b""
    if isinstance(body, str):
        body = body.encode()
    return serialize(req.method, req.url, list(req.headers.items()) + list(extra), body)


def edit_auth(raw, old, new):
    assert old in raw, old
    return raw.replace(old, new, 1)


def write_case(directory, name, raw, now, outcome, settings=None):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name + ".http"), "wb") as f:
        f.write(raw)
    lines = [f"now: {now}"]
    if settings:
        lines.append(f"settings: {settings}")
    lines.append(f"outcome: {outcome}")
    with open(os.path.join(directory, name + ".expect"), "w") as f:
        f.write("\n".join(lines) + "\n")


def lattice():
    d = os.path.join(ROOT, "lattice")
    mismatch = ("InvalidSignatureException: The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and signing method. "
                "Consult the service documentation for details.")
    w = lambda name, raw, outcome, now=STAMP, settings=None: write_case(d, name, raw, now, outcome, settings)

    # Seed article 1: GET, x-amz-content-sha256 set before signing; `requests` adds its own
    # (unsigned) headers.
    alice = to_raw(signed(ALICE, url=f"http://{NGINX}"), extra=[
        ("User-Agent", "python-requests/2.31.0"), ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"), ("Connection", "keep-alive")])
    w("seed1-get-unsigned-payload", alice, f"principal {ALICE_ARN}")
    # Seed article 2: POST JSON, payload signing disabled so botocore adds the header itself.
    at(SIGNED_AT)
    req = AWSRequest(method="POST", url=f"https://{HELLO}", data=None,
                     headers={"Content-Type": "application/json"})
    req.context["payload_signing_enabled"] = False
    SigV4Auth(SESSION_B, SERVICE, REGION).add_auth(req)
    w("seed2-post-payload-signing-disabled", to_raw(req, extra=[("Content-Length", "0")]),
      f"principal {SESSION_B_ARN}")
    w("anonymous", serialize("GET", f"http://{NGINX}/", [("Accept", "*/*")]), "anonymous")
    # Example-world row 8: one byte of the signature changed.
    sig = alice.split(b"Signature=")[1][:64]
    flipped = sig[:10] + (b"0" if sig[10:11] != b"0" else b"1") + sig[11:]
    w("signature-mismatch", alice.replace(sig, flipped), mismatch)
    w("wrong-secret", to_raw(signed(Credentials(ALICE.access_key, "not-the-secret"))), mismatch)

    # Payload rules (lattice-auth §4.2).
    w("missing-content-sha256", to_raw(signed(ALICE, unsigned_header=False)),
      "IncompleteSignatureException: Missing the 'x-amz-content-sha256' in canonical headers.")
    at(SIGNED_AT)
    req = AWSRequest(method="POST", url=f"https://{NGINX}/", data=b'{"a":1}',
                     headers={"Content-Type": "application/json"})
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(b'{"a":1}').hexdigest()
    SigV4Auth(ALICE, SERVICE, REGION).add_auth(req)
    w("signed-payload", to_raw(req), "InvalidSignatureException: Signed payloads are not supported")
    # Header named in SignedHeaders but absent (curl/curl#11007).
    raw = to_raw(signed(SESSION_B))
    raw = b"\r\n".join(l for l in raw.split(b"\r\n") if not l.startswith(b"X-Amz-Security-Token"))
    w("signed-header-missing", raw, "IncompleteSignatureException: 'x-amz-security-token' is named "
      "as a SignedHeader, but it does not exist in the HTTP request.")

    # Malformed Authorization headers.
    w("host-not-signed", edit_auth(alice, b"SignedHeaders=host;", b"SignedHeaders="),
      "InvalidSignatureException: 'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    w("missing-parameters", serialize("GET", f"http://{NGINX}/", [
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("Authorization", f"AWS4-HMAC-SHA256 Credential={ALICE.access_key}/20240204/{REGION}/{SERVICE}/aws4_request")]),
      "IncompleteSignatureException: Authorization header requires 'Signature' parameter. "
      "Authorization header requires 'SignedHeaders' parameter. Authorization header requires "
      "existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256")
    w("missing-equal-sign", edit_auth(alice, b"Credential=", b"Credential= "),
      "IncompleteSignatureException: 'AKIAIOSFODNN7EXAMPLE/20240204/ap-northeast-1/vpc-lattice-svcs/aws4_request' "
      "not a valid key=value pair (missing equal-sign) in Authorization header.")
    w("unsupported-algorithm", edit_auth(alice, b"AWS4-HMAC-SHA256", b"AWS4-HMAC-SHA512"),
      "IncompleteSignatureException: Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.")
    w("duplicate-authorization", alice.replace(b"\r\n\r\n", b"\r\n" + [l for l in alice.split(b"\r\n") if l.startswith(b"Authorization")][0] + b"\r\n\r\n"),
      "IncompleteSignatureException: The request contains more than one 'Authorization' header.")
    w("unsorted-signed-headers", edit_auth(alice, b"SignedHeaders=host;x-amz-content-sha256;x-amz-date",
                                           b"SignedHeaders=x-amz-content-sha256;host;x-amz-date"),
      "IncompleteSignatureException: SignedHeaders must be a list of lowercase header names, sorted and without duplicates.")
    w("invalid-uri-path", to_raw(signed(ALICE, url=f"https://{NGINX}/a%zzb")),
      "InvalidURIPath: Illegal hex character in escape % pattern: %zz")
    w("date-not-signed", edit_auth(alice, b"SignedHeaders=host;x-amz-content-sha256;x-amz-date",
                                   b"SignedHeaders=host;x-amz-content-sha256"),
      "InvalidSignatureException: 'x-amz-date' must be a 'SignedHeader' in the AWS Authorization.")
    w("ambiguous-date", alice.replace(b"\r\n\r\n", b"\r\nX-Amz-Date: 20240204T010204Z\r\n\r\n"),
      "IncompleteSignatureException: The request contains more than one 'x-amz-date' header with different values.")
    latin1 = to_raw(signed(ALICE, headers={"X-Custom": "cafe"})).replace(b"X-Custom: cafe", b"X-Custom: caf\xe9")
    w("non-utf8-header-value", latin1,
      "IncompleteSignatureException: The value of the SignedHeader 'x-custom' is not valid text.")

    # Time (sigv4 §1.5).
    w("bad-date", alice.replace(f"X-Amz-Date: {STAMP}".encode(), b"X-Amz-Date: 2024-02-04T01:02:03Z"),
      "IncompleteSignatureException: Date must be in ISO-8601 'basic format'. Got '2024-02-04T01:02:03Z'. "
      "See http://en.wikipedia.org/wiki/ISO_8601")
    w("expired", alice, "InvalidSignatureException: Signature expired: 20240204T010203Z is now earlier "
      "than 20240204T010703Z (20240204T011203Z - 5 min.)", now="20240204T011203Z")
    w("not-yet-current", alice, "InvalidSignatureException: Signature not yet current: 20240204T010203Z "
      "is still later than 20240204T005703Z (20240204T005203Z + 5 min.)", now="20240204T005203Z")
    w("at-the-window-edge", alice, f"principal {ALICE_ARN}", now="20240204T010703Z")

    # Credential scope (sigv4 §1.4).
    w("wrong-region", to_raw(signed(ALICE, region="us-west-2")),
      "InvalidSignatureException: Credential should be scoped to a valid region.")
    w("wrong-service", to_raw(signed(ALICE, service="execute-api")),
      "InvalidSignatureException: Credential should be scoped to correct service: 'vpc-lattice-svcs'.")
    w("wrong-terminator", edit_auth(alice, b"/aws4_request,", b"/aws5_request,"),
      "InvalidSignatureException: Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.")
    w("scope-date-mismatch", edit_auth(alice, b"/20240204/", b"/20240203/"),
      "InvalidSignatureException: Date in Credential scope does not match YYYYMMDD from ISO-8601 "
      "version of date from HTTP: '20240203' != '20240204', from '20240204T010203Z'.")
    w("credential-parts", edit_auth(alice, f"/{REGION}/".encode(), b"/"),
      "IncompleteSignatureException: Credential must have exactly 5 slash-delimited elements, e.g. "
      "keyid/date/region/service/term, got 'AKIAIOSFODNN7EXAMPLE/20240204/vpc-lattice-svcs/aws4_request'")

    # Keys and tokens (sigv4 §1.10).
    invalid = "UnrecognizedClientException: The security token included in the request is invalid."
    w("unknown-key", to_raw(signed(Credentials("AKIAUNKNOWNEXAMPLE00", "x"))), invalid)
    w("wrong-token", to_raw(signed(Credentials(SESSION_B.access_key, SESSION_B.secret_key, "forged"))), invalid)
    w("token-missing", to_raw(signed(Credentials(SESSION_B.access_key, SESSION_B.secret_key))), invalid)
    w("token-on-long-term-key", to_raw(signed(Credentials(ALICE.access_key, ALICE.secret_key, "extra"))), invalid)
    late = datetime.datetime(2099, 1, 1, 0, 1, 0)
    w("expired-token", to_raw(signed(SESSION_B, when=late)),
      "ExpiredTokenException: The security token included in the request is expired", now=stamp(late))

    # Canonical URI (sigv4 §1.6.2, lattice-auth §4.3).
    w("double-encoded-path", to_raw(signed(ALICE, url=f"https://{NGINX}/a%20b/c:d")), f"principal {ALICE_ARN}")

    class SingleEncoded(SigV4Auth):
        def _normalize_url_path(self, path):
            return path
    w("single-encoded-path", to_raw(signed(ALICE, url=f"https://{NGINX}/a%20b//c", auth_cls=SingleEncoded)),
      f"principal {ALICE_ARN}")

    # Presigned query (lattice-auth §4.4); off by default.
    at(SIGNED_AT)
    req = AWSRequest(method="GET", url=f"https://{NGINX}/?x=1", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4QueryAuth(ALICE, SERVICE, REGION, expires=60).add_auth(req)
    presigned = to_raw(req)
    w("presigned", presigned, f"principal {ALICE_ARN}", settings="query_auth")
    w("presigned-query-auth-off", presigned,
      "IncompleteSignatureException: Query-string authentication is not supported by this endpoint.")
    w("presigned-expired", presigned, "InvalidSignatureException: Signature expired: 20240204T010203Z is "
      "now earlier than 20240204T010204Z (20240204T010304Z - 1 min.)", now="20240204T010304Z", settings="query_auth")
    w("header-and-query", presigned.replace(b"\r\n\r\n", b"\r\n" + [l for l in alice.split(b"\r\n") if l.startswith(b"Authorization")][0] + b"\r\n\r\n"),
      "IncompleteSignatureException: Only one auth mechanism allowed; only the X-Amz-Algorithm query "
      "parameter, Signature query string parameter or the Authorization header should be specified",
      settings="query_auth")

    # SigV4A region set (checked before any crypto, so the signature is a placeholder).
    w("sigv4a-region-set-mismatch", serialize("GET", f"http://{NGINX}/", [
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("X-Amz-Date", STAMP), ("X-Amz-Region-Set", "us-west-*"),
        ("Authorization", f"AWS4-ECDSA-P256-SHA256 Credential={ALICE.access_key}/20240204/{SERVICE}/aws4_request, "
                          "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-region-set, Signature=3045")]),
      "InvalidSignatureException: The region set 'X-Amz-Region-Set' does not include a valid region.")


class Recorder:
    """A loopback-only HTTP listener that stores each request's raw bytes and answers 200."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]

    def capture(self, send):
        box = {}

        def serve():
            conn, _ = self.sock.accept()
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                body += conn.recv(65536)
            box["raw"] = head + b"\r\n\r\n" + body
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()

        t = threading.Thread(target=serve)
        t.start()
        send()
        t.join(15)
        return box["raw"]


def date_of(raw):
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"x-amz-date:"):
            return line.split(b":", 1)[1].strip().decode()
    raise SystemExit("no x-amz-date in the recorded request")


def clients():
    import requests
    d = os.path.join(ROOT, "clients")
    rec = Recorder()
    local = f"http://127.0.0.1:{rec.port}"
    botocore.auth.get_current_datetime = lambda *a, **k: datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    # Seed article 1, verbatim but for the address the request is sent to (no DNS here).
    def seed1():
        request = AWSRequest(method="GET", url=f"http://{NGINX}")
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        SigV4Auth(ALICE, "vpc-lattice-svcs", REGION).add_auth(request)
        requests.get(local, headers={**dict(request.headers), "Host": NGINX}, timeout=10)
    raw = rec.capture(seed1)
    write_case(d, "botocore-seed1", raw, date_of(raw), f"principal {ALICE_ARN}")

    # Seed article 2 (https endpoint; payload signing disabled, botocore adds the header).
    def seed2():
        sigv4 = SigV4Auth(SESSION_B, "vpc-lattice-svcs", "ap-northeast-1")
        request = AWSRequest(method="POST", url=f"https://{HELLO}", data=None,
                             headers={"Content-Type": "application/json"})
        request.context["payload_signing_enabled"] = False
        sigv4.add_auth(request)
        prepped = request.prepare()
        requests.post(local, headers={**dict(prepped.headers), "Host": HELLO}, data=None, timeout=10)
    raw = rec.capture(seed2)
    write_case(d, "botocore-seed2", raw, date_of(raw), f"principal {SESSION_B_ARN}")

    # curl, as Lattice users must call it; --connect-to keeps the Host header port-less.
    # Older curl (7.88.1 here) signs the query unsorted, so AWS (and we) reject an unsorted one.
    mismatch = ("InvalidSignatureException: The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and signing method. "
                "Consult the service documentation for details.")
    post = ["-d", '{"x":1}', "-H", "content-type: application/json"]
    for name, path, creds, outcome, extra in [
        ("curl-get", "/", CLIENT, f"principal {CLIENT_ARN}", []),
        ("curl-post-query", "/items?a=1&b=2", ALICE, f"principal {ALICE_ARN}", post),
        ("curl-unsorted-query", "/items?b=2&a=1", ALICE, mismatch, post),
        ("curl-session-token", "/", SESSION_B, f"principal {SESSION_B_ARN}",
         ["-H", f"x-amz-security-token: {SESSION_B.token}"]),
    ]:
        def run_curl():
            subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null",
                            "--connect-to", f"{NGINX}:80:127.0.0.1:{rec.port}",
                            "--aws-sigv4", f"aws:amz:{REGION}:{SERVICE}",
                            "--user", f"{creds.access_key}:{creds.secret_key}",
                            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", *extra,
                            f"http://{NGINX}{path}"], check=True)
        raw = rec.capture(run_curl)
        write_case(d, name, raw, date_of(raw), outcome)


def crt_signed(creds, method, target, v4a=False):
    """Signs with the AWS CRT (awscrt), configured as Lattice's SigV4A Python example does."""
    from awscrt import auth, http
    provider = auth.AwsCredentialsProvider.new_static(creds.access_key, creds.secret_key, creds.token)
    config = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4_ASYMMETRIC if v4a else auth.AwsSigningAlgorithm.V4,
        signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=provider,
        region="*" if v4a else REGION,
        service=SERVICE,
        date=SIGNED_AT.replace(tzinfo=datetime.timezone.utc),
        signed_body_header_type=auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
        signed_body_value=auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD,
        use_double_uri_encode=True,
    )
    request = http.HttpRequest(method, target, http.HttpHeaders([("Host", NGINX)]))
    request = auth.aws_sign_request(request, config).result()
    lines = [f"{request.method} {request.path} HTTP/1.1".encode()]
    lines += [f"{k}: {v}".encode() for k, v in request.headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def divergences():
    """Requests real clients sign in a way AWS accepts and a first reading of the request does
    not reproduce: a `+` in the query (the CRT reads it as a plus sign), a path ending in a dot
    segment (botocore and the CRT drop the trailing slash), and a presigned URL whose access key
    id holds an escaped unreserved character. Needs awscrt (`pip install awscrt`) for the CRT."""
    d = os.path.join(ROOT, "lattice")
    w = lambda name, raw, outcome, settings=None: write_case(d, name, raw, STAMP, outcome, settings)
    ok = f"principal {ALICE_ARN}"
    w("crt-plus-in-query", crt_signed(ALICE, "GET", "/?q=a+b"), ok)
    w("crt-sigv4a-plus-in-query", crt_signed(ALICE, "GET", "/items?q=a+b&tag=x+y", v4a=True), ok)
    w("crt-dot-segment-at-the-end", crt_signed(ALICE, "GET", "/data/."), ok)
    w("botocore-dot-segment-at-the-end", to_raw(signed(ALICE, url=f"https://{NGINX}/data/.")), ok)
    w("botocore-dot-dot-segment-at-the-end", to_raw(signed(ALICE, url=f"https://{NGINX}/a/b/..")), ok)
    at(SIGNED_AT)
    req = AWSRequest(method="GET", url=f"https://{NGINX}/?x=1", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4QueryAuth(ALICE, SERVICE, REGION, expires=60).add_auth(req)
    presigned = edit_auth(to_raw(req), b"X-Amz-Credential=AKIAIOSFODNN7EXAMPLE",
                          b"X-Amz-Credential=AKIAIOSF%4FDNN7EXAMPLE")
    w("presigned-escaped-access-key-id", presigned, ok, settings="query_auth")


if __name__ == "__main__":
    modes = {"lattice": lattice, "clients": clients, "divergences": divergences}
    modes[sys.argv[1] if len(sys.argv) > 1 else "lattice"]()
