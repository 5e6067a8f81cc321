"""Marshmallow schemas for the API; every input schema rejects unknown fields."""

from __future__ import annotations

import marshmallow as ma

__all__ = ["StrictSchema"]


class StrictSchema(ma.Schema):
    """A schema that rejects unknown fields (422), so a request cannot mass-assign."""

    class Meta:
        unknown = ma.RAISE
