"""The S3 server fixtures (`tests.s3server`) for the remote cache's tests here."""

from tests.s3server import moto_endpoint, s3  # noqa: F401 - fixtures
