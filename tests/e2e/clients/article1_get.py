"""The first seed article's script (shared/seeds/000_ce80b2814d10d2a9.txt), as its readers run it.

Kept line for line; the adaptations are marked `# e2e:` and change only where the request goes:
  - credentials and region come from AWS_* environment variables (the article ran `aws configure`);
  - the URL is the example world's service, from LATTICE_URL;
  - the request is sent to Envoy's loopback port from the chosen VPC's source address, with
    `Host:` the service's DNS name (lattice_transport), instead of resolving the name in a VPC;
  - row 8 of example-world.md changes one byte of the signature (LATTICE_E2E_TAMPER_SIGNATURE);
  - what was sent and received is written to LATTICE_E2E_REPORT for the test to assert on.
"""
import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

import os  # e2e
import lattice_transport  # e2e

# セッションと認証情報
session = boto3.Session()
credentials = session.get_credentials().get_frozen_credentials()
region = session.region_name
# 対象URL
url = os.environ["LATTICE_URL"]  # e2e: "http://nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws"
# AWSRequest の作成
request = AWSRequest(method="GET", url=url)
request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
# 署名付与(署名時にこのヘッダーがあることを認識させる)
SigV4Auth(credentials, "vpc-lattice-svcs", region).add_auth(request)
lattice_transport.maybe_tamper(request)  # e2e: row 8
# リクエスト実行
requests = lattice_transport.requests_via_envoy()  # e2e: same API as the requests module
response = requests.get(url, headers=dict(request.headers))
print(response.status_code)
print(response.text)
lattice_transport.report(response)  # e2e
