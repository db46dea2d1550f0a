"""Drives Gatehouse's AWS API with botocore, as the AWS CLI and boto3 do.

Usage: botocore_sso_oidc.py <endpoint> <operation> '<json params>'
Prints {"ok": <response>} or {"error": <exception name>, "status": <http status>, "body": {...}}.
"""
import json
import sys

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config


def main():
    endpoint, operation, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    session = botocore.session.get_session()
    client = session.create_client(
        "sso-oidc",
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    try:
        response = getattr(client, operation)(**params)
        response.pop("ResponseMetadata", None)
        print(json.dumps({"ok": response}, default=str))
    except client.exceptions.ClientError as err:
        print(
            json.dumps(
                {
                    "error": err.response["Error"]["Code"],
                    "status": err.response["ResponseMetadata"]["HTTPStatusCode"],
                    "body": {k: v for k, v in err.response.items() if k not in ("ResponseMetadata", "Error")},
                }
            )
        )


if __name__ == "__main__":
    main()
