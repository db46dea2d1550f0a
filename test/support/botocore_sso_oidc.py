"""Drives Gatehouse's AWS API with botocore, as the AWS CLI and boto3 do.

Usage: botocore_sso_oidc.py <endpoint> <operation> '<json params>'
The service is sso-oidc, or the one named in BOTOCORE_SERVICE (sso: the access portal API).
Unsigned, unless SIGN_ACCESS_KEY_ID and SIGN_SECRET_ACCESS_KEY are set: then requests are signed
with SigV4 as botocore signs them (CreateTokenWithIAM), for the region in SIGN_REGION (us-east-1).
Prints {"ok": <response>} or {"error": <exception name>, "status": <http status>, "body": {...}},
each with "requestId" (ResponseMetadata.RequestId, read from x-amzn-RequestId).
"""
import json
import os
import sys

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config


def main():
    endpoint, operation, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    session = botocore.session.get_session()
    key_id, secret = os.environ.get("SIGN_ACCESS_KEY_ID"), os.environ.get("SIGN_SECRET_ACCESS_KEY")
    signing = (
        {"aws_access_key_id": key_id, "aws_secret_access_key": secret, "config": Config(retries={"max_attempts": 1})}
        if key_id and secret
        else {"config": Config(signature_version=UNSIGNED, retries={"max_attempts": 1})}
    )
    client = session.create_client(
        os.environ.get("BOTOCORE_SERVICE", "sso-oidc"),
        region_name=os.environ.get("SIGN_REGION", "us-east-1"),
        endpoint_url=endpoint,
        **signing,
    )
    try:
        response = getattr(client, operation)(**params)
        metadata = response.pop("ResponseMetadata", {})
        print(json.dumps({"ok": response, "requestId": metadata.get("RequestId")}, default=str))
    except client.exceptions.ClientError as err:
        print(
            json.dumps(
                {
                    "error": err.response["Error"]["Code"],
                    "status": err.response["ResponseMetadata"]["HTTPStatusCode"],
                    "requestId": err.response["ResponseMetadata"].get("RequestId"),
                    "body": {k: v for k, v in err.response.items() if k not in ("ResponseMetadata", "Error")},
                }
            )
        )


if __name__ == "__main__":
    main()
