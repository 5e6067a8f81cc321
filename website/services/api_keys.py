"""API keys: created (shown once), listed, deleted, and checked when presented as a bearer."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, true

from website.database import utcnow
from website.errors import InvalidInput, NotFound
from website.extensions import db
from website.models import API_KEYS, USERS, ApiKey
from website.services.callers import Caller

__all__ = [
    "API_KEY_PREFIX",
    "CreatedApiKey",
    "caller_for_api_key",
    "create_api_key",
    "delete_api_key",
    "hash_api_key",
    "is_api_key",
    "list_api_keys",
]

logger = logging.getLogger(__name__)

# Every key starts with it: secret scanners and people recognise a key, and a bearer value
# starting with it is never mistaken for a JWT (those start with "eyJ").
API_KEY_PREFIX = "chk_"
API_KEY_RANDOM_BYTES = 32  # 256 bits: a fast hash is enough, nobody can guess through it
SHOWN_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8  # what listings show of a key


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key's row and the key itself, which exists nowhere else once this is answered."""

    api_key: ApiKey
    key: str


def hash_api_key(key: str) -> str:
    """SHA-256 of the key, hex: what the database keeps and looks keys up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_api_key(credential: str) -> bool:
    """Whether a bearer credential is meant as an API key (rather than a JWT)."""
    return credential.startswith(API_KEY_PREFIX)


def create_api_key(owner_id: int, name: str, expires_at: datetime | None = None) -> CreatedApiKey:
    """A new key for ``owner_id``; an expiry must lie in the future."""
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("Invalid input: expires_at", {"expires_at": ["Must be in the future."]})
    key = API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)
    api_key = ApiKey(
        owner_id=owner_id,
        name=name,
        prefix=key[:SHOWN_PREFIX_LENGTH],
        key_hash=hash_api_key(key),
        expires_at=expires_at,
    )
    db.session.add(api_key)
    db.session.commit()
    logger.info("api key %s created", api_key.id, extra={"user_id": owner_id})
    return CreatedApiKey(api_key, key)


def list_api_keys(owner_id: int) -> Sequence[ApiKey]:
    """The keys of ``owner_id``, oldest first (expired ones included, until deleted)."""
    return db.session.scalars(
        select(ApiKey).where(ApiKey.owner_id == owner_id).order_by(ApiKey.id)
    ).all()


def delete_api_key(owner_id: int, key_id: int) -> None:
    """Delete a key of ``owner_id``: it stops working at once. Another user's key is NotFound."""
    api_key = db.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.owner_id == owner_id)
    )
    if api_key is None:
        raise NotFound("API key not found")
    db.session.delete(api_key)
    db.session.commit()
    logger.info("api key %s deleted", key_id, extra={"user_id": owner_id})


# One indexed read per request: the active owner of an existing, unexpired key.
_KEY_CALLER = (
    select(USERS.c.id, USERS.c.role, USERS.c.security_stamp)
    .join(API_KEYS, API_KEYS.c.owner_id == USERS.c.id)
    .where(
        API_KEYS.c.key_hash == bindparam("key_hash"),
        USERS.c.is_active == true(),
        or_(API_KEYS.c.expires_at.is_(None), API_KEYS.c.expires_at > bindparam("now")),
    )
)


def caller_for_api_key(key: str) -> Caller | None:
    """The active user whose unexpired key ``key`` is, else None (unknown, deleted, expired)."""
    row = (
        db.session.connection()
        .execute(_KEY_CALLER, {"key_hash": hash_api_key(key), "now": utcnow()})
        .one_or_none()
    )
    return None if row is None else Caller(row.id, row.role, row.security_stamp)
