"""Sample event feeds, generated deterministically, for offline demos and tests."""

from __future__ import annotations

import hashlib
import random
from functools import cache
from typing import Any

__all__ = ["DEMO_FEEDS", "demo_records"]

# Feed file name -> number of attendee records it holds.
DEMO_FEEDS = {
    "salesmeeting2020.json": 250,
    "amazingexpo2020.json": 400,
    "ceosummersummit2020.json": 300,
}

FIRST_NAMES = (
    "Rhiann", "Tomas", "Aiko", "Lena", "Marcus", "Priya", "Olu", "Sven", "Carmen", "Dmitri",
    "Fatima", "Hugo", "Ines", "Jonah", "Keiko", "Liam", "Mei", "Nadia", "Oscar", "Paula",
)  # fmt: skip
LAST_NAMES = (
    "Olsen", "Garcia", "Tanaka", "Müller", "Okafor", "Singh", "Rossi", "Novak", "Dubois", "Kim",
    "Silva", "Hansen", "Ivanova", "Nguyen", "Costa", "Bauer", "Smith", "Jensen", "Moreau", "Ali",
)  # fmt: skip
TITLES = (
    "Account Manager", "Sales Director", "CEO", "CTO", "Marketing Lead", "Product Owner",
    "Software Engineer", "Operations Manager", "Analyst", "Consultant",
)  # fmt: skip
TOPICS = (
    "pipelines", "partnerships", "cloud costs", "customer success", "growth", "hiring",
    "security", "pricing", "logistics", "analytics",
)  # fmt: skip


@cache
def demo_records(feed: str) -> tuple[dict[str, Any], ...]:
    """The records of one demo feed; the same every time (seeded by the feed's name)."""
    count = DEMO_FEEDS[feed]
    rng = random.Random(feed)
    records = []
    for number in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        title = rng.choice(TITLES)
        record_id = hashlib.sha256(f"{feed}:{number}".encode()).hexdigest()[:12]
        records.append(
            {
                "id": record_id,
                "name_first": first,
                "name_last": last,
                "description": f"{first} {last} talks about {rng.choice(TOPICS)}.",
                "title": title,
            }
        )
    return tuple(records)
