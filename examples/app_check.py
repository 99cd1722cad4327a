"""An application's first connection to a Flashback environment that fbplan bootstrapped.

It reads only the dotenv file that `fbplan apply examples/full.yaml` wrote (the `app`
outputs target, `.fbplan/acme-app.env`): no environment variable, no fbplan code. Then it
puts, gets and deletes an object through the Bridge Node with boto3, and asks the AI
gateway for a chat completion with the openai SDK, as Flashback's integration guide says
applications do.

    fbplan emulator --data .fbplan/server.db            # in another terminal; then export
                                                        # FB_BACKEND_URL and FB_JWT it prints
    fbplan apply --yes examples/full.yaml               # with AWS_ACCESS_KEY_ID,
                                                        # AWS_SECRET_ACCESS_KEY, OPENAI_API_KEY
    python examples/app_check.py .fbplan/acme-app.env

Exit 0 when both work, 1 (with the reason) when one does not. No secret is printed.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from openai import OpenAI

NEEDED = (
    "FB_S3_ENDPOINT",
    "FB_KEY_ID",
    "FB_KEY_SECRET",
    "FB_REPO_NAME",
    "FB_OPENAI_BASE_URL",
    "FB_OPENAI_API_KEY",
    "FB_MODEL",
)
TIMEOUT_SECONDS = 30


def read_dotenv(path: Path) -> dict[str, str]:
    """`NAME="value"` lines (fbplan writes no quote, backslash or `$` inside a value)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.removeprefix("export ").strip()] = value.strip().strip('"')
    return values


def check_storage(config: dict[str, str]) -> str:
    s3 = boto3.client(
        "s3",
        endpoint_url=config["FB_S3_ENDPOINT"],
        aws_access_key_id=config["FB_KEY_ID"],
        aws_secret_access_key=config["FB_KEY_SECRET"],
        region_name="us-east-1",  # any region: the Bridge Node routes by repository
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
    bucket, key = config["FB_REPO_NAME"], f"app-check/{uuid.uuid4()}.txt"
    body = b"hello from the application check"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    read = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=key)
    if read != body:
        raise RuntimeError(f"read {len(read)} bytes back from s3://{bucket}/{key}, not the same")
    return f"storage ok: put, got and deleted s3://{bucket}/{key} via {config['FB_S3_ENDPOINT']}"


def check_ai(config: dict[str, str]) -> str:
    client = OpenAI(
        base_url=config["FB_OPENAI_BASE_URL"],
        api_key=config["FB_OPENAI_API_KEY"],
        timeout=TIMEOUT_SECONDS,
        max_retries=2,
    )
    completion = client.chat.completions.create(
        model=config["FB_MODEL"],
        messages=[{"role": "user", "content": "Say hello to a new application."}],
    )
    content = (completion.choices[0].message.content or "").strip()
    if not content:
        raise RuntimeError("the gateway answered with an empty message")
    return f"ai ok: {config['FB_MODEL']} answered via {config['FB_OPENAI_BASE_URL']}"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else ".fbplan/acme-app.env")
    if not path.is_file():
        print(f"app check: {path} does not exist; run fbplan apply first", file=sys.stderr)
        return 1
    config = read_dotenv(path)
    missing = [name for name in NEEDED if not config.get(name)]
    if missing:
        print(f"app check: {path} has no {', '.join(missing)}", file=sys.stderr)
        return 1
    for check in (check_storage, check_ai):
        try:
            print(check(config))
        except Exception as error:  # one line: the SDKs' messages name no secret
            reason = f"{type(error).__name__}: {str(error)[:300]}"
            print(f"app check: {check.__name__} failed: {reason}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
