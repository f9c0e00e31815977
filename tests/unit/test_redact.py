import logging

import pytest

from toolkit.redact import RedactingFilter, mask_uri, redact, register_secret, uri_password


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("mongodb://app:secret@host:27017/db", "mongodb://app:***@host:27017/db"),
        ("mongodb://app:s%40cret@h1,h2/?replicaSet=rs0", "mongodb://app:***@h1,h2/?replicaSet=rs0"),
        ("mongodb+srv://app:pw@cluster.example.net", "mongodb+srv://app:***@cluster.example.net"),
        ("mongodb://app@host", "mongodb://app@host"),
        ("mongodb://host:27017", "mongodb://host:27017"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        # an unescaped "@" in the password: the driver splits at the last "@" before the path
        ("mongodb://u:se@cret@127.0.0.1:1", "mongodb://u:***@127.0.0.1:1"),
        ("mongodb://u:a@b@h/db?authSource=x@y", "mongodb://u:***@h/db?authSource=x@y"),
    ],
)
def test_mask_uri_hides_only_the_password(uri, masked):
    assert mask_uri(uri) == masked


def test_mask_uri_inside_a_sentence():
    text = "cannot reach mongodb://u:hunter2@10.0.0.1:1 now"
    assert redact(text) == "cannot reach mongodb://u:***@10.0.0.1:1 now"


def test_uri_password_is_decoded():
    assert uri_password("mongodb://app:s%40cret@host") == "s@cret"
    assert uri_password("mongodb://app@host") is None
    assert uri_password("mongodb://u:se@cret@127.0.0.1:1") == "se@cret"


def test_registered_secrets_are_scrubbed_anywhere():
    register_secret("sentinel-Pa55word")
    assert "sentinel-Pa55word" not in redact("server said: bad password sentinel-Pa55word!")


def test_logging_filter_redacts_arguments():
    register_secret("log-secret-xyz")
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "pw=%s", ("log-secret-xyz",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "pw=***"
