"""A workload as it runs in a pod with IAM roles for service accounts: no keys anywhere, only
AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_SESSION_NAME, AWS_ENDPOINT_URL_STS and the
region. botocore's default credential chain exchanges the token file for temporary credentials at
the STS; the script asks STS who it is, then signs Lattice requests with those credentials
exactly as the seed articles sign (SigV4Auth, UNSIGNED-PAYLOAD).

Test plumbing, all marked `# e2e:` and none of it touching credentials:
  - LATTICE_E2E_URLS: the service URLs to call (space-separated), sent to Envoy's loopback port
    LATTICE_E2E_ENVOY from LATTICE_E2E_SOURCE_IP (lattice_transport);
  - what happened is written to LATTICE_E2E_REPORT as JSON (never a secret or a token).
"""
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

import json  # e2e
import os  # e2e
import lattice_transport  # e2e

session = boto3.Session()
identity = session.client("sts").get_caller_identity()
credentials = session.get_credentials()
frozen = credentials.get_frozen_credentials()

answers = []
via_envoy = lattice_transport.requests_via_envoy()  # e2e: same API as the requests module
for url in os.environ["LATTICE_E2E_URLS"].split():  # e2e
    request = AWSRequest(method="GET", url=url)
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(frozen, "vpc-lattice-svcs", session.region_name).add_auth(request)
    response = via_envoy.get(url, headers=dict(request.headers))
    answers.append({"url": url, "status": response.status_code,
                    "headers": [[k.lower(), v] for k, v in response.headers.items()],
                    "body": response.text})

with open(os.environ["LATTICE_E2E_REPORT"], "w") as f:  # e2e
    json.dump({
        "identity": {k: identity[k] for k in ("Arn", "UserId", "Account")},
        "request_id": identity["ResponseMetadata"]["RequestId"],
        "method": credentials.method,
        "access_key_id": frozen.access_key,
        "has_session_token": bool(frozen.token),
        # botocore keeps the STS answer's Expiration here; it has no public accessor.
        "expiration": credentials._expiry_time.isoformat(),
        "refresh_needed": credentials.refresh_needed(),
        "services": answers,
    }, f)
