"""Password hashing: argon2id at or above OWASP's minimum, and verification that never raises."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from website.services.passwords import hash_password, needs_rehash, verify_password

# OWASP Password Storage Cheat Sheet, argon2id: at least 19 MiB of memory, 2 passes, 1 lane.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1


def test_hashes_are_argon2id_with_at_least_owasp_parameters() -> None:
    parameters = extract_parameters(hash_password("correct horse battery"))
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= OWASP_MEMORY_KIB
    assert parameters.time_cost >= OWASP_TIME_COST
    assert parameters.parallelism >= OWASP_PARALLELISM


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("correct horse battery") != hash_password("correct horse battery")


def test_the_right_password_verifies() -> None:
    assert verify_password(hash_password("correct horse battery"), "correct horse battery")


@pytest.mark.parametrize(
    ("password_hash", "password"),
    [
        pytest.param(hash_password("correct horse battery"), "wrong horse battery", id="wrong"),
        pytest.param(None, "not-a-real-password", id="no-user"),
        pytest.param("not a hash", "correct horse battery", id="garbage-hash"),
        pytest.param("", "", id="empty"),
    ],
)
def test_anything_else_fails_without_raising(password_hash: str | None, password: str) -> None:
    assert verify_password(password_hash, password) is False


def test_a_hash_made_with_weaker_parameters_needs_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    assert needs_rehash(weak.hash("correct horse battery"))
    assert not needs_rehash(hash_password("correct horse battery"))
