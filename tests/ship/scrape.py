"""Reading a /metrics answer the way Prometheus does."""

from __future__ import annotations

import math

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Scrape", "scrape"]


class Scrape:
    """The samples of one scrape, looked up by sample name and labels."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist yet (as for a fresh counter)."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        return 0.0

    def bucket(self, name: str, upper_bound: float) -> float:
        """A histogram's cumulative count of observations <= ``upper_bound``."""
        for sample in self.samples:
            if sample.name == f"{name}_bucket" and float(sample.labels["le"]) == upper_bound:
                return float(sample.value)
        return 0.0 if not math.isinf(upper_bound) else self.value(f"{name}_count")


def scrape(client: FlaskClient) -> Scrape:
    response = client.get("/metrics")
    assert response.status_code == 200
    return Scrape(response.get_data(as_text=True))
