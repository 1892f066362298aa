"""The second seed article's script (shared/seeds/001_2db55566f661cb8f.txt), as its readers run it.

Kept line for line; the adaptations are marked `# e2e:` and change only where the request goes:
  - credentials come from AWS_* environment variables (botocore's usual chain);
  - the endpoint is the example world's service, from LATTICE_URL, over plain http on loopback
    (the article used https://<the service's domain>);
  - the request is sent to Envoy's loopback port from the chosen VPC's source address, with
    `Host:` the service's DNS name (lattice_transport), instead of resolving the name in a VPC;
  - what was sent and received is written to LATTICE_E2E_REPORT for the test to assert on.
"""
from botocore.auth import SigV4Auth
import requests 
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import botocore.session

import os  # e2e
import lattice_transport  # e2e

if __name__ == '__main__':
    session = botocore.session.Session()
    sigv4 = SigV4Auth(session.get_credentials(), 'vpc-lattice-svcs', 'ap-northeast-1')
    endpoint = os.environ["LATTICE_URL"]  # e2e: 'https://<サービスのドメイン>'
    data = None
    headers = {'Content-Type': 'application/json'}
    request = AWSRequest(method='POST', url=endpoint, data=data, headers=headers)
    request.context["payload_signing_enabled"] = False # payload signing is not supported
    sigv4.add_auth(request)
    lattice_transport.maybe_tamper(request)  # e2e: row 8

    prepped = request.prepare()

    requests = lattice_transport.requests_via_envoy()  # e2e: same API as the requests module
    response = requests.post(prepped.url, headers=prepped.headers, data=data)

    print(response.text)
    lattice_transport.report(response)  # e2e
