"""The built-in example world (shared/spec/example-world.md), as the end-to-end tests use it.

Every value here is normative: it is copied from example-world.md, not from the server.
"""

from __future__ import annotations

from dataclasses import dataclass

REGION = "ap-northeast-1"
SERVICE = "vpc-lattice-svcs"
ACCOUNT_A = "917561075114"

NETWORK_ARN = "arn:aws:vpc-lattice:ap-northeast-1:917561075114:servicenetwork/sn-0123456789abcdef0"
NGINX_ARN = "arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-08c822987a0b6ab7d"
HELLO_ARN = "arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-0a11e1c0ffee00001"
NGINX_HOST = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws"
HELLO_HOST = "hello-0a11e1c0ffee00001.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws"

ORG_ID = "o-a1b2c3d4e5"
ORG_PATH = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"


@dataclass(frozen=True)
class Vpc:
    vpc_id: str
    owner: str
    source_ip: str

    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{REGION}:{self.owner}:vpc/{self.vpc_id}"


VPC_A = Vpc("vpc-0a0a0a0a0a0a0a0a0", "917561075114", "127.0.0.1")
VPC_B = Vpc("vpc-0b0b0b0b0b0b0b0b0", "111122223333", "127.0.1.1")
VPC_C = Vpc("vpc-0c0c0c0c0c0c0c0c0", "444455556666", "127.0.2.1")


@dataclass(frozen=True)
class Caller:
    name: str
    principal: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    session_name: str | None = None
    org_id: str | None = None
    org_path: str | None = None

    @property
    def identity_header(self) -> str:
        """`x-amzn-lattice-identity` as the upstream must receive it."""
        parts = [f"Principal={self.principal}"]
        if self.org_id:
            parts.append(f"PrincipalOrgID={self.org_id}")
        if self.org_path:
            parts.append(f"PrincipalOrgPath={self.org_path}")
        if self.session_name:
            parts.append(f"SessionName={self.session_name}")
        parts.append("Type=AWS_IAM")
        return "; ".join(parts)


LATTICEUSER = Caller(
    "latticeuser",
    "arn:aws:iam::917561075114:user/latticeuser",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    org_id=ORG_ID,
    org_path=ORG_PATH,
)
LATTICECLIENT = Caller(
    "latticeclient",
    "arn:aws:iam::917561075114:user/latticeclient",
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    org_id=ORG_ID,
    org_path=ORG_PATH,
)
NOPERMS = Caller(
    "noperms",
    "arn:aws:iam::917561075114:user/noperms",
    "AKIAEXAMPLENOPERMS01",
    "NoPermsSecretKeyEXAMPLEEXAMPLEEXAMPLE001",
    org_id=ORG_ID,
    org_path=ORG_PATH,
)
ROLE_B = Caller(
    "role-b",
    "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example",
    "ASIAEXAMPLEBSESSION1",
    "bSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    session_token="IQoJb3JpZ2luX2VjEXAMPLEACCOUNTBSESSIONTOKEN",
    session_name="i-0abc123example",
    org_id=ORG_ID,
    org_path=ORG_PATH,
)
ROLE_C = Caller(
    "role-c",
    "arn:aws:sts::444455556666:assumed-role/outsider/i-0def456example",
    "ASIAEXAMPLECSESSION1",
    "cSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
    session_token="IQoJb3JpZ2luX2VjEXAMPLEACCOUNTCSESSIONTOKEN",
    session_name="i-0def456example",
)
CALLERS = (LATTICEUSER, LATTICECLIENT, NOPERMS, ROLE_B, ROLE_C)

# Every secret in the world: none may ever appear in a log.
SECRETS = tuple(c.secret_access_key for c in CALLERS) + tuple(
    c.session_token for c in CALLERS if c.session_token
)


def access_denied(caller: str, service_arn: str, layer: str) -> bytes:
    """The Lattice deny text of example-world.md, with its `...` expanded."""
    return (
        f"AccessDeniedException: User: {caller} is not authorized to perform: "
        f"vpc-lattice-svcs:Invoke on resource: {service_arn}/ because no {layer}-based policy "
        f"allows the vpc-lattice-svcs:Invoke action"
    ).encode()


INVALID_SIGNATURE = (
    b"InvalidSignatureException: The request signature we calculated does not match the signature "
    b"you provided. Check your AWS Secret Access Key and signing method. Consult the service "
    b"documentation for details."
)


@dataclass(frozen=True)
class Row:
    """One row of example-world.md's expected decisions."""

    number: int
    caller: Caller | None  # None: anonymous
    vpc: Vpc
    method: str
    host: str
    service_arn: str
    allowed: bool
    reason: str  # lattice_authz_checks_total{reason}
    body: bytes = b""  # deny body, exact
    error_type: str = ""  # x-amzn-errortype
    tamper: bool = False  # row 8: one byte of the signature changed

    @property
    def decision(self) -> str:
        return "allow" if self.allowed else "deny"


ROWS = {
    r.number: r
    for r in (
        Row(1, None, VPC_A, "GET", NGINX_HOST, NGINX_ARN, False, "no_service_policy",
            access_denied("anonymous", NGINX_ARN, "service"), "AccessDeniedException"),
        Row(2, LATTICEUSER, VPC_A, "GET", NGINX_HOST, NGINX_ARN, True, "allowed"),
        Row(3, LATTICECLIENT, VPC_A, "GET", NGINX_HOST, NGINX_ARN, False, "no_service_policy",
            access_denied(LATTICECLIENT.principal, NGINX_ARN, "service"), "AccessDeniedException"),
        Row(4, ROLE_B, VPC_B, "POST", HELLO_HOST, HELLO_ARN, True, "allowed"),
        Row(5, ROLE_C, VPC_C, "POST", HELLO_HOST, HELLO_ARN, False, "no_network_policy",
            access_denied(ROLE_C.principal, HELLO_ARN, "network"), "AccessDeniedException"),
        Row(6, NOPERMS, VPC_A, "GET", HELLO_HOST, HELLO_ARN, False, "no_identity_policy",
            access_denied(NOPERMS.principal, HELLO_ARN, "identity"), "AccessDeniedException"),
        Row(7, None, VPC_C, "GET", HELLO_HOST, HELLO_ARN, False, "no_network_policy",
            access_denied("anonymous", HELLO_ARN, "network"), "AccessDeniedException"),
        Row(8, LATTICEUSER, VPC_A, "GET", NGINX_HOST, NGINX_ARN, False, "sigv4_mismatch",
            INVALID_SIGNATURE, "InvalidSignatureException", tamper=True),
    )
}


def expected_upstream_headers(row: Row) -> dict[str, str | None]:
    """The Lattice headers the upstream must see for an allowed row (None: must be absent)."""
    return {
        "x-amzn-lattice-identity": row.caller.identity_header if row.caller else None,
        "x-amzn-lattice-network": f"SourceVpcArn={row.vpc.arn}",
        "x-amzn-lattice-target": f"ServiceArn={row.service_arn}; ServiceNetworkArn={NETWORK_ARN}",
        "x-amzn-source-vpc": row.vpc.vpc_id,
    }
