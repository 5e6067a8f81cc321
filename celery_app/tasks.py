"""Thin task wrappers: each body is one service call."""

from __future__ import annotations
