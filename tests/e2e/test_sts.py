"""Credentials for workloads, end to end with real parts only: a test OIDC issuer (a key pair and
JWTs shaped like Kubernetes service-account tokens), `lattice-authz sts` and `lattice-authz serve`
on one world, botocore's own default credential chain, and the signed request through the real
Envoy to the echo upstream.

The world is the built-in example world plus what credentials for workloads add: an OIDC
provider, a session key, a trust policy on role `app`, a user allowed to assume it, and a service
(`orders`) whose auth policy allows the role.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from clients import CLIENTS_DIR, _clean_env
from conftest import make_workdir, remove_workdir
from harness import Stack, Sts, sidecar_binary
from oidc import STS_AUDIENCE, Issuer
from world import (LATTICECLIENT, LATTICEUSER, NETWORK_ARN, NGINX_ARN, NGINX_HOST, ORG_ID,
                   ORG_PATH, REGION, VPC_A, access_denied)

sys.path.insert(0, str(CLIENTS_DIR))
import lattice_transport  # noqa: E402

ACCOUNT_B = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_B}:role/app"
ROLE_ID = "AROAEXAMPLEAPPROLE01"
ISSUER_URL = "https://oidc.example.test/cluster-a"
NAMESPACE, SERVICE_ACCOUNT = "shop", "app"
KEY_ID = "e2e-k1"

ORDERS_ID = "svc-0e2e0000000000001"
ORDERS_ARN = f"arn:aws:vpc-lattice:{REGION}:917561075114:service/{ORDERS_ID}"
ORDERS_HOST = f"orders-0e2e0000000000001.7d67968.vpc-lattice-svcs.{REGION}.on.aws"

ARWWI = "AssumeRoleWithWebIdentity"
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=15,
                       retries={"total_max_attempts": 1})


def assumed_role_arn(session: str) -> str:
    return f"arn:aws:sts::{ACCOUNT_B}:assumed-role/app/{session}"


def identity_header(session: str) -> str:
    """`x-amzn-lattice-identity` for a session of role `app` (account B is in the organization)."""
    return (f"Principal={assumed_role_arn(session)}; PrincipalOrgID={ORG_ID}; "
            f"PrincipalOrgPath={ORG_PATH}; SessionName={session}; Type=AWS_IAM")


# === the world ===


def build_world(workdir: Path, issuer: Issuer) -> Path:
    """The example world (`lattice-authz example-world`) plus the credentials additions; the JWKS
    and the session key in files beside it, referenced like any secret."""
    binary = sidecar_binary()
    world = yaml.safe_load(subprocess.run([binary, "example-world"], capture_output=True,
                                          check=True, timeout=30).stdout)
    (key,) = yaml.safe_load(subprocess.run([binary, "session-key", "--id", KEY_ID],
                                           capture_output=True, check=True, timeout=30).stdout)
    assert key["id"] == KEY_ID
    (workdir / f"session-key-{KEY_ID}").write_text(key["secret"] + "\n")
    issuer.write_jwks(workdir / "jwks.json")

    world["openIdConnectProviders"] = [{
        "url": issuer.url,
        "accountId": ACCOUNT_B,
        "clientIdList": [STS_AUDIENCE],
        "jwks": {"file": "jwks.json"},
    }]
    world["sessionKeys"] = [{"id": KEY_ID, "secret": {"file": f"session-key-{KEY_ID}"}}]

    prefix = issuer.provider_key_prefix
    (app,) = [r for r in world["roles"] if r["arn"] == ROLE_ARN]
    app.update(roleId=ROLE_ID, maxSessionDuration=3600, assumeRolePolicyDocument={
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ServiceAccountShopApp", "Effect": "Allow",
             "Principal": {"Federated": issuer.provider_arn(ACCOUNT_B)},
             "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {
                 f"{prefix}:aud": STS_AUDIENCE,
                 f"{prefix}:sub": f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"}}},
            {"Sid": "LatticeUser", "Effect": "Allow",
             "Principal": {"AWS": LATTICEUSER.principal},
             "Action": "sts:AssumeRole"},
        ]})
    # Cross-account (user in A, role in B): the user's identity policy must allow it too.
    (user,) = [u for u in world["users"] if u["arn"] == LATTICEUSER.principal]
    user["policies"] = [{"name": "assume-app", "document": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}]}}]

    world["services"].append({
        "id": ORDERS_ID, "name": "orders", "ownerId": "917561075114", "dnsName": ORDERS_HOST,
        "authType": "AWS_IAM",
        "authPolicy": {"document": {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "AppRole", "Effect": "Allow",
                           "Principal": {"AWS": ROLE_ARN},
                           "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}},
    })
    (network,) = world["serviceNetworks"]
    network["serviceAssociations"].append(ORDERS_ID)

    path = workdir / "world.yaml"
    path.write_text(yaml.safe_dump(world, sort_keys=False))
    return path


def test_a_world_file_keeps_its_providers_and_session_keys(workdir):
    """`validate` reads a world file as `serve` and `sts` do: a provider and a session key whose
    secret files are missing are reported, not silently left out of the world."""
    world = workdir / "world.yaml"
    world.write_text(yaml.safe_dump({
        "region": REGION,
        "accounts": [{"id": ACCOUNT_B}],
        "openIdConnectProviders": [{"url": ISSUER_URL, "clientIdList": [STS_AUDIENCE],
                                    "jwks": {"file": "missing-jwks.json"}}],
        "sessionKeys": [{"id": KEY_ID, "secret": {"file": "missing-session-key"}}],
    }, sort_keys=False))
    run = subprocess.run([sidecar_binary(), "validate", "--config", world], capture_output=True,
                         timeout=30)
    assert run.returncode == 1, run.stdout.decode() + run.stderr.decode()
    not_found = "cannot read: No such file or directory (os error 2)"
    assert (run.stdout.decode() + run.stderr.decode()).splitlines() == [
        f"{world}: error: /openIdConnectProviders/0/jwks: secret file "
        f"`{workdir}/missing-jwks.json`: {not_found}",
        f"{world}: error: /sessionKeys/0/secret: secret file "
        f"`{workdir}/missing-session-key`: {not_found}",
        "2 error(s), 0 warning(s)",
    ]


@dataclass
class Irsa:
    """The processes of this module, on one world."""

    workdir: Path
    issuer: Issuer
    stack: Stack
    sts: Sts

    def tails(self) -> str:
        parts = [("sts", self.sts.proc), ("serve", self.stack.sidecar.proc)]
        return "\n".join(f"--- {name}\n{p.tail(20)}" for name, p in parts if p is not None)


@pytest.fixture(scope="module")
def irsa():
    workdir = make_workdir("sts")
    issuer = Issuer(ISSUER_URL)
    stack = sts = None
    try:
        world = build_world(workdir, issuer)
        stack = Stack(workdir, world=world).start()
        sts = Sts(workdir, world).start()
        yield Irsa(workdir, issuer, stack, sts)
    finally:
        if sts is not None:
            sts.stop()
        if stack is not None:
            stack.stop()
        remove_workdir(workdir)


@pytest.fixture
def no_aws_config(monkeypatch):
    """In-process boto3 sees no credentials, profile or config file of the machine."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def sts_client(irsa: Irsa, credentials: dict | None = None):
    """boto3's `sts` client pointed at the STS; unsigned without credentials."""
    session = boto3.session.Session(region_name=REGION)
    if credentials is None:
        return session.client("sts", endpoint_url=irsa.sts.url,
                              config=CLIENT_CONFIG.merge(Config(signature_version=UNSIGNED)))
    return session.client("sts", endpoint_url=irsa.sts.url, config=CLIENT_CONFIG,
                          **credentials)


# === the workload: botocore's default chain ===


def run_workload(irsa: Irsa, token: str, session_name: str) -> dict:
    """clients/irsa_app.py as a pod would run it: only the four IRSA variables and the region
    (both region variables, as EKS's webhook sets them: botocore reads AWS_DEFAULT_REGION, most
    other SDKs AWS_REGION)."""
    with tempfile.TemporaryDirectory(prefix="e2e-irsa-") as tmp:
        token_file = Path(tmp) / "token"
        token_file.write_text(token)
        report = Path(tmp) / "report.json"
        env = _clean_env()  # no AWS_* of the machine, no config files, no instance metadata
        del env["AWS_EC2_METADATA_DISABLED"]  # the chain exactly as in a pod
        env.update(
            AWS_ROLE_ARN=ROLE_ARN,
            AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
            AWS_ROLE_SESSION_NAME=session_name,
            AWS_ENDPOINT_URL_STS=irsa.sts.url,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            LATTICE_E2E_URLS=f"http://{ORDERS_HOST} http://{NGINX_HOST}",
            LATTICE_E2E_ENVOY=f"127.0.0.1:{irsa.stack.envoy_port}",
            LATTICE_E2E_SOURCE_IP=VPC_A.source_ip,
            LATTICE_E2E_REPORT=str(report),
            PYTHONPATH=str(CLIENTS_DIR),
        )
        assert sorted(k for k in env if k.startswith("AWS_")) == [
            "AWS_CONFIG_FILE", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_STS", "AWS_REGION",
            "AWS_ROLE_ARN",
            "AWS_ROLE_SESSION_NAME", "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE"]
        run = subprocess.run([sys.executable, CLIENTS_DIR / "irsa_app.py"], env=env, cwd=tmp,
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert run.returncode == 0 and report.exists(), (
            f"irsa_app.py failed ({run.returncode}):\n{run.stdout.decode()}\n"
            f"{run.stderr.decode()[-3000:]}\n{irsa.tails()}")
        return json.loads(report.read_text())


def test_default_chain_gets_credentials_and_calls_lattice_through_envoy(irsa):
    issued = irsa.sts.requests_total(ARWWI, "ok")
    answered = irsa.sts.requests_total("GetCallerIdentity", "ok")
    token = irsa.issuer.service_account_token(NAMESPACE, SERVICE_ACCOUNT)
    session = "orders-reader"
    started = datetime.datetime.now(datetime.timezone.utc)

    r = run_workload(irsa, token, session)

    # Who STS says the workload is, and what botocore's chain resolved.
    assert r["identity"] == {"Arn": assumed_role_arn(session), "UserId": f"{ROLE_ID}:{session}",
                             "Account": ACCOUNT_B}
    assert r["request_id"]
    assert r["method"] == "assume-role-with-web-identity"
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", r["access_key_id"]), r["access_key_id"]
    assert r["has_session_token"]
    # One hour, the default (botocore never sends DurationSeconds): outside botocore's refresh
    # windows (15 min advisory, 10 min mandatory), so no refresh is due.
    expiration = datetime.datetime.fromisoformat(r["expiration"])
    assert started + datetime.timedelta(minutes=55) <= expiration
    assert expiration <= started + datetime.timedelta(minutes=60, seconds=30)
    assert r["refresh_needed"] is False
    # Exactly one exchange and one GetCallerIdentity.
    assert irsa.sts.requests_total(ARWWI, "ok") == issued + 1
    assert irsa.sts.requests_total("GetCallerIdentity", "ok") == answered + 1

    # Through Envoy: orders allows the role, so the session; nginx allows only latticeuser.
    orders, nginx = r["services"]
    assert orders["status"] == 200, f"{orders}\n{irsa.tails()}"
    seen: dict[str, list[str]] = {}
    for k, v in json.loads(orders["body"])["headers"]:
        seen.setdefault(k, []).append(v)
    assert seen["host"] == [ORDERS_HOST]
    assert seen["x-amzn-lattice-identity"] == [identity_header(session)]
    assert seen["x-amzn-lattice-network"] == [f"SourceVpcArn={VPC_A.arn}"]
    assert seen["x-amzn-lattice-target"] == [
        f"ServiceArn={ORDERS_ARN}; ServiceNetworkArn={NETWORK_ARN}"]
    assert seen["x-amzn-source-vpc"] == [VPC_A.vpc_id]
    assert nginx["status"] == 403, nginx
    assert nginx["body"].encode() == access_denied(assumed_role_arn(session), NGINX_ARN,
                                                   "service")
    assert dict(nginx["headers"])["x-amzn-errortype"] == "AccessDeniedException"

    # The web identity token is never logged.
    assert token not in irsa.sts.output()
    assert token.split(".")[2] not in irsa.sts.output()


# === AssumeRole and GetCallerIdentity with a user's keys ===


def keys(caller) -> dict:
    return {"aws_access_key_id": caller.access_key_id,
            "aws_secret_access_key": caller.secret_access_key}


def call_lattice(irsa: Irsa, credentials: Credentials, host: str) -> tuple[int, dict, bytes]:
    """A GET signed as the seed articles sign, sent through Envoy from VPC A."""
    url = f"http://{host}"
    request = AWSRequest(method="GET", url=url)
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(credentials, "vpc-lattice-svcs", REGION).add_auth(request)
    via = lattice_transport.requests_via_envoy(f"127.0.0.1:{irsa.stack.envoy_port}",
                                               VPC_A.source_ip)
    response = via.get(url, headers=dict(request.headers), timeout=20)
    return response.status_code, dict(response.headers), response.content


def test_assume_role_and_get_caller_identity_with_a_users_keys(irsa, no_aws_config):
    user = sts_client(irsa, keys(LATTICEUSER))
    me = user.get_caller_identity()
    assert (me["Arn"], me["Account"]) == (LATTICEUSER.principal, "917561075114")
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", me["UserId"]), me["UserId"]

    started = datetime.datetime.now(datetime.timezone.utc)
    answer = user.assume_role(RoleArn=ROLE_ARN, RoleSessionName="e2e-assume-role",
                              DurationSeconds=900)
    assert answer["AssumedRoleUser"] == {"Arn": assumed_role_arn("e2e-assume-role"),
                                         "AssumedRoleId": f"{ROLE_ID}:e2e-assume-role"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    c = answer["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", c["AccessKeyId"])
    lifetime = c["Expiration"] - started
    assert datetime.timedelta(seconds=890) <= lifetime <= datetime.timedelta(seconds=910)

    session = sts_client(irsa, {"aws_access_key_id": c["AccessKeyId"],
                                "aws_secret_access_key": c["SecretAccessKey"],
                                "aws_session_token": c["SessionToken"]})
    who = session.get_caller_identity()
    assert {k: who[k] for k in ("Arn", "UserId", "Account")} == {
        "Arn": assumed_role_arn("e2e-assume-role"), "UserId": f"{ROLE_ID}:e2e-assume-role",
        "Account": ACCOUNT_B}

    creds = Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    status, _, body = call_lattice(irsa, creds, ORDERS_HOST)
    assert status == 200, f"{body[:300]!r}\n{irsa.tails()}"
    seen = dict(json.loads(body)["headers"])
    assert seen["x-amzn-lattice-identity"] == identity_header("e2e-assume-role")
    status, _, body = call_lattice(irsa, creds, NGINX_HOST)
    assert (status, body) == (403, access_denied(assumed_role_arn("e2e-assume-role"),
                                                 NGINX_ARN, "service"))

    # Neither process logs the session's secret or token.
    for output in (irsa.sts.output(), irsa.stack.sidecar.output()):
        assert c["SecretAccessKey"] not in output
        assert c["SessionToken"] not in output


def test_assume_role_is_refused_without_an_identity_policy(irsa, no_aws_config):
    """latticeclient (account A) has no identity policy allowing sts:AssumeRole on the role in
    account B, and the trust policy does not name it."""
    with pytest.raises(ClientError) as refused:
        sts_client(irsa, keys(LATTICECLIENT)).assume_role(RoleArn=ROLE_ARN,
                                                          RoleSessionName="nope")
    check_refusal(refused.value, 403, "AccessDenied",
                  f"User: {LATTICECLIENT.principal} is not authorized to perform: "
                  f"sts:AssumeRole on resource: {ROLE_ARN}")


# === refusals, as botocore surfaces them ===


def check_refusal(error: ClientError, status: int, code: str, message: str | re.Pattern
                  ) -> None:
    r = error.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == status, r
    assert r["Error"]["Code"] == code, r
    assert r["Error"]["Type"] == "Sender", r
    if isinstance(message, re.Pattern):
        assert message.fullmatch(r["Error"]["Message"]), r
    else:
        assert r["Error"]["Message"] == message, r
    assert r["ResponseMetadata"]["RequestId"], r


def other_issuer_token(irsa: Irsa) -> str:
    """Signed by a key the provider does not list, under the provider's own `kid`."""
    impostor = Issuer(ISSUER_URL, kid=irsa.issuer.kid)
    return impostor.service_account_token(NAMESPACE, SERVICE_ACCOUNT)


NOW = int(time.time())
REFUSALS = {
    "wrong audience": (
        lambda irsa: irsa.issuer.service_account_token(NAMESPACE, SERVICE_ACCOUNT,
                                                       audience="vault"),
        {}, 400, "InvalidIdentityToken", "Incorrect token audience"),
    "expired token": (
        lambda irsa: irsa.issuer.service_account_token(
            NAMESPACE, SERVICE_ACCOUNT, now=NOW - 4200, lifetime_secs=3600),
        {}, 400, "ExpiredTokenException",
        re.compile(r"Token expired: current date/time \d{10} must be before the expiration "
                   rf"date/time {NOW - 600}")),
    "trust policy sub mismatch": (
        lambda irsa: irsa.issuer.service_account_token("shop", "intruder"),
        {}, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
    "unknown issuer": (
        lambda irsa: Issuer("https://oidc.example.test/cluster-b").service_account_token(
            NAMESPACE, SERVICE_ACCOUNT),
        {}, 400, "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://oidc.example.test/cluster-b"),
    "signature by another key": (
        other_issuer_token, {}, 400, "InvalidIdentityToken",
        "The signature of the web identity token does not verify with the identity provider's "
        "keys"),
    "session name outside the pattern": (
        lambda irsa: irsa.issuer.service_account_token(NAMESPACE, SERVICE_ACCOUNT),
        {"RoleSessionName": "a/b"}, 400, "ValidationError",
        r"1 validation error detected: Value 'a/b' at 'roleSessionName' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"),
    "duration beyond the role maximum": (
        lambda irsa: irsa.issuer.service_account_token(NAMESPACE, SERVICE_ACCOUNT),
        {"DurationSeconds": 7200}, 400, "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_web_identity_refusals_reach_botocore_with_sts_codes(irsa, no_aws_config, case):
    make_token, params, status, code, message = REFUSALS[case]
    before = irsa.sts.requests_total(ARWWI, code)
    request = {"RoleArn": ROLE_ARN, "RoleSessionName": "refused",
               "WebIdentityToken": make_token(irsa)} | params
    with pytest.raises(ClientError) as refused:
        sts_client(irsa).assume_role_with_web_identity(**request)
    check_refusal(refused.value, status, code, message)
    assert irsa.sts.requests_total(ARWWI, code) == before + 1


# === metrics ===


def test_issued_sessions_are_counted(irsa, no_aws_config):
    issued = irsa.sts.requests_total(ARWWI, "ok")
    refused = irsa.sts.requests_total(ARWWI, "InvalidIdentityToken")
    client = sts_client(irsa)
    for n in range(3):
        answer = client.assume_role_with_web_identity(
            RoleArn=ROLE_ARN, RoleSessionName=f"counted-{n}",
            WebIdentityToken=irsa.issuer.service_account_token(NAMESPACE, SERVICE_ACCOUNT))
        assert answer["AssumedRoleUser"]["Arn"] == assumed_role_arn(f"counted-{n}")
        assert answer["SubjectFromWebIdentityToken"] == (
            f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
        assert answer["Audience"] == STS_AUDIENCE
        assert answer["Provider"] == irsa.issuer.provider_arn(ACCOUNT_B)
    with pytest.raises(ClientError):
        client.assume_role_with_web_identity(
            RoleArn=ROLE_ARN, RoleSessionName="refused",
            WebIdentityToken=irsa.issuer.service_account_token(NAMESPACE, SERVICE_ACCOUNT,
                                                               audience="vault"))
    assert irsa.sts.requests_total(ARWWI, "ok") == issued + 3
    assert irsa.sts.requests_total(ARWWI, "InvalidIdentityToken") == refused + 1
    text = irsa.sts.metrics_text()
    assert f'lattice_authz_sts_requests_total{{action="{ARWWI}",result="ok"}} ' in text
