"""Scraping a Prometheus endpoint with prometheus_client's own parser."""

from __future__ import annotations

import http.client

from prometheus_client.parser import text_string_to_metric_families

from mesos_py.common.prometheus import CONTENT_TYPE


def scrape(address: str, path: str = "/metrics") -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of ``path``, checking status and content type."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    assert response.status == 200, (path, response.status, body[:300])
    assert response.getheader("Content-Type") == CONTENT_TYPE
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
