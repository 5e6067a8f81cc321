"""Schemas for user accounts as the API shows them and as admins change them."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from website.models import Role
from website.schemas import StrictSchema
from website.schemas.common import StrictBoolean
from website.services.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

__all__ = ["PasswordChangeSchema", "PasswordResetSchema", "UserSchema", "UserUpdateSchema"]

ROLES = [role.value for role in Role]


class UserSchema(ma.Schema):
    """A user account; the password hash is never part of it."""

    id = fields.Integer(dump_only=True, metadata={"example": 1})
    username = fields.String(dump_only=True, metadata={"example": "demo"})
    role = fields.String(dump_only=True, metadata={"enum": ROLES, "example": Role.USER.value})
    is_active = fields.Boolean(dump_only=True, metadata={"example": True})
    created_at = fields.DateTime(dump_only=True)


class UserUpdateSchema(StrictSchema):
    """What an admin may change about a user."""

    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = StrictBoolean()

    @ma.validates_schema
    def _not_empty(self, data: dict[str, object], **_kwargs: object) -> None:
        if not data:
            raise ma.ValidationError("Give at least one of: role, is_active.")


def _new_password_field() -> fields.String:
    return fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
        metadata={"example": "a new correct horse battery"},
    )


class PasswordChangeSchema(StrictSchema):
    """Your own password change: the current password, and the new one."""

    current_password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=PASSWORD_MAX_LENGTH),
        metadata={"example": "demo-password"},
    )
    new_password = _new_password_field()


class PasswordResetSchema(StrictSchema):
    """An admin's reset of someone's password."""

    password = _new_password_field()
