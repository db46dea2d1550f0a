"""Runs the AWS CLI v2's own device-flow login loop (botocore's SSOTokenFetcher, as vendored in
Debian's awscli package) against Gatehouse's AWS API, and reports every CreateToken poll.

Usage: /usr/bin/python3 botocore_sso_login.py <endpoint> '<json registration scopes or null>'
Prints one line {"pending": <verificationUriComplete>} when the CLI would show the prompt, then
{"token": {...}, "polls": [{"at": <seconds since start>, "outcome": <"ok" or exception name>,
"requestId": <x-amzn-RequestId>}]} when the login ends, or {"failed": <exception>, "polls": [...]}.
"""
import json
import sys
import time

from awscli.botocore.config import Config
from awscli.botocore.session import get_session
from awscli.botocore.utils import SSOTokenFetcher


def main():
    endpoint, scopes = sys.argv[1], json.loads(sys.argv[2])
    session = get_session()
    started = time.monotonic()
    polls = []

    def create_client(name, config=None):
        config = (config or Config()).merge(Config(retries={"max_attempts": 1}))
        client = session.create_client(name, endpoint_url=endpoint, config=config)
        create_token = client.create_token

        def logged_create_token(**params):
            at = round(time.monotonic() - started, 3)
            try:
                response = create_token(**params)
                polls.append({"at": at, "outcome": "ok", "requestId": response["ResponseMetadata"].get("RequestId")})
                return response
            except Exception as err:  # the modeled exceptions (ClientError's), logged and re-raised
                response = getattr(err, "response", {})
                polls.append(
                    {
                        "at": at,
                        "outcome": response.get("Error", {}).get("Code", type(err).__name__),
                        "requestId": response.get("ResponseMetadata", {}).get("RequestId"),
                    }
                )
                raise

        client.create_token = logged_create_token
        return client

    def on_pending_authorization(**authorization):
        print(json.dumps({"pending": authorization["verificationUriComplete"]}), flush=True)

    fetcher = SSOTokenFetcher(
        "us-east-1", create_client, cache={}, on_pending_authorization=on_pending_authorization
    )
    try:
        token = fetcher.fetch_token("https://d-0000000000.awsapps.com/start", True, scopes, "gatehouse")
        print(json.dumps({"token": token, "polls": polls}, default=str), flush=True)
    except Exception as err:  # reported to the test, which fails on it
        print(json.dumps({"failed": f"{type(err).__name__}: {err}", "polls": polls}), flush=True)


if __name__ == "__main__":
    main()
