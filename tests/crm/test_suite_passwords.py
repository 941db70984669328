"""The suite's one-iteration password hasher (tests/hashers.py) must not change what a
server with the stock hashers accepts: tests start such servers in other processes."""

from django.conf import global_settings
from django.contrib.auth.hashers import check_password, make_password


def test_a_password_hashed_by_the_suite_checks_with_djangos_stock_hashers(settings):
    encoded = make_password("pass-for-tests-1")
    assert encoded.startswith("pbkdf2_sha256$1$")
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    assert check_password("pass-for-tests-1", encoded)
    assert not check_password("pass-for-tests-2", encoded)
    assert make_password("x").startswith("pbkdf2_sha256$1000000$")
