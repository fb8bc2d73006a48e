"""The REST layer's pure helpers: label selectors and deployment results."""

from __future__ import annotations

import pytest

from mesos_py.marathon.api import label_matches

LABELS = {"env": "prod", "tier": "web"}


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("env", True),
        ("owner", False),
        ("env==prod", True),
        ("env==dev", False),
        ("env!=dev", True),
        ("tier!=web", False),
        ("env in (dev, prod)", True),
        ("env in (dev,test)", False),
        ("env notin (dev,test)", True),
        ("env==prod,tier==web", True),
        ("env==prod,tier==db", False),
        ("env in (dev,prod),tier", True),
    ],
)
def test_label_selectors(selector, expected):
    assert label_matches(selector, LABELS) is expected
