"""translate_errors: which ToolkitError each driver error becomes, and what it says."""

import pytest
from pymongo.errors import OperationFailure

from toolkit.errors import OperationFailed, PermissionDenied
from toolkit.mongo.client import ConnectionSettings, translate_errors

SETTINGS = ConnectionSettings(uri="mongodb://app:secret@db1:27017/shop")


def translated(code: int, errmsg: str) -> OperationFailed:
    details = {"ok": 0.0, "errmsg": errmsg, "code": code}
    with (
        pytest.raises(OperationFailed) as raised,
        translate_errors(SETTINGS, "reading index statistics"),
    ):
        raise OperationFailure(errmsg, code, details)
    return raised.value


def test_authentication_failure_points_at_the_credentials_not_at_roles():
    error = translated(18, "Authentication failed.")
    assert not isinstance(error, PermissionDenied)  # no role hint gets added to it
    assert error.exit_code == 1
    assert error.message == (
        "reading index statistics on db1:27017: authentication failed: "
        "Authentication failed. (code 18)"
    )
    assert error.hint is not None
    assert "user name and password" in error.hint and "authSource" in error.hint
    assert "role" not in error.hint
    assert "secret" not in error.message + error.hint


def test_unauthorized_keeps_the_privilege_hint():
    error = translated(13, "not authorized on admin to execute command { replSetGetStatus: 1 }")
    assert isinstance(error, PermissionDenied)
    assert error.exit_code == 1
    assert error.message == (
        "reading index statistics on db1:27017: not authorized on admin to execute command "
        "{ replSetGetStatus: 1 } (code 13)"
    )
    assert error.hint == "check the user in the URI and its roles"
