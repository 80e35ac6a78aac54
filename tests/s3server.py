"""A real S3-protocol server on 127.0.0.1 for the remote cache's tests: moto in server mode,
started once per test session on a free port; each test gets a bucket of its own.

`S3.env` is what a user's shell would hold (AWS_ENDPOINT_URL and keys moto accepts): it goes
to the `vf` subprocesses and, through `use`, to this process's s3fs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class S3:
    endpoint: str
    env: dict[str, str]
    bucket: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/film-cache"

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")


def s3_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Never a real config or credentials file, never the instance metadata service.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    env = s3_env(moto_endpoint)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # a cached client would keep another endpoint
    bucket = f"vf-{secrets.token_hex(4)}"
    server = S3(moto_endpoint, env, bucket)
    server.client().create_bucket(Bucket=bucket)
    yield server
    s3fs.S3FileSystem.clear_instance_cache()
