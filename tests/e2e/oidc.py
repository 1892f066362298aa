"""A test OpenID Connect issuer: an RSA key pair made here, its JSON Web Key Set, and JWTs shaped
like the service-account tokens Kubernetes projects into a pod (what EKS's IAM roles for service
accounts hand to the AWS SDK).

Nothing here talks to the network: the STS reads the JWKS from a file the test writes, as it
would read the document a cluster serves at /openid/v1/jwks. Keep it free of pytest.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# What the EKS pod identity webhook asks the kubelet for (and what the tests' provider lists).
STS_AUDIENCE = "sts.amazonaws.com"


class Issuer:
    """One issuer URL and one signing key (RS256, with a `kid`, as Kubernetes signs)."""

    def __init__(self, url: str, kid: str = "e2e-key-1"):
        if not url.startswith("https://"):
            raise ValueError(f"an OIDC issuer URL starts with https://: {url}")
        self.url = url
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def provider_key_prefix(self) -> str:
        """The trust-policy condition key prefix: the URL without `https://`."""
        return self.url.removeprefix("https://")

    def provider_arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:oidc-provider/{self.provider_key_prefix}"

    def jwks(self) -> dict:
        """The public half, as a JSON Web Key Set."""
        key = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        key.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [key]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks(), indent=2) + "\n")
        return path

    def service_account_claims(self, namespace: str, service_account: str, *,
                               audience: str | list[str] = STS_AUDIENCE,
                               lifetime_secs: int = 3600, now: int | None = None) -> dict:
        """Claims of a projected service-account token bound to a pod (Kubernetes 1.30 and
        later): `aud` a list, `sub` system:serviceaccount:NS:SA, the `kubernetes.io` claim."""
        now = int(time.time()) if now is None else now
        return {
            "aud": [audience] if isinstance(audience, str) else list(audience),
            "exp": now + lifetime_secs,
            "iat": now,
            "nbf": now,
            "iss": self.url,
            "jti": str(uuid.uuid4()),
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": "ip-10-0-1-23.ap-northeast-1.compute.internal",
                         "uid": str(uuid.uuid4())},
                "pod": {"name": f"{service_account}-7c9d5b8f6d-x2x4q", "uid": str(uuid.uuid4())},
                "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())},
            },
        }

    def sign(self, claims: dict, kid: str | None = None) -> str:
        """`claims` as an RS256 JWT signed with this issuer's key."""
        return jwt.encode(claims, self._key, algorithm="RS256",
                          headers={"kid": self.kid if kid is None else kid})

    def service_account_token(self, namespace: str, service_account: str, **kwargs) -> str:
        return self.sign(self.service_account_claims(namespace, service_account, **kwargs))
