"""The multi-instance outbox benchmark, small: two real instances (processes) send one paid
alert on one PostgreSQL database, paced at Telegram's 1,000 a second between them, with 5 % of
sends answered 429 and the emulator enforcing the paid limit. Everyone gets it exactly once.

``python -m bench.instances`` is the full-size run (100,000 people); this keeps it working and
checks the property it reports: no duplicate, no loss, across instances."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.instances import one_row
from tests.support.databases import POSTGRES_ENV

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV), reason=f"needs PostgreSQL ({POSTGRES_ENV})"
)


async def test_two_instances_send_a_paid_alert_to_everyone_exactly_once(tmp_path: Path) -> None:
    row = await one_row(tmp_path, instances=2, subscribers=400, fault_share=0.05, paced=True)
    assert row.delivered == 400
    assert (row.duplicates, row.lost, row.unknown) == (0, 0, 0)
    assert row.injected > 0  # the 429s happened, and were retried
    assert len(row.rss_mb) == 2
