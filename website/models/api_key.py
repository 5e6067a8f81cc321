"""API keys: long-lived, revocable bearer credentials for scripts, stored only as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from website.database import UTCDateTime, db, utcnow

__all__ = ["ApiKey"]


class ApiKey(db.Model):  # type: ignore[name-defined]
    __tablename__ = "api_keys"
    # A deleted key's id is never given again: ids are how keys are listed and deleted.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, shown in listings so that a key can be recognised.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole key, hex: the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}… of user {self.owner_id}>"
