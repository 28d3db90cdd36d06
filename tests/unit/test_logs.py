"""conmon's k8s-file log format: partial records, streams, timestamps, --since."""

from __future__ import annotations

import pytest

from podium.engine.errors import ConfigError
from podium.engine.logs import parse, parse_since, ts_seconds

LOG = [
    "2026-11-28T18:27:15.087844246+00:00 stdout F out-line\n",
    "2026-11-28T18:27:15.089003991+00:00 stderr F err-line\n",
    "2026-11-28T18:27:48.195382628+00:00 stdout P abc\n",
    "2026-11-28T18:27:48.496438818+00:00 stdout F def\n",
    "2026-11-28T18:27:49.000000000+00:00 stdout F \n",
    "2026-11-28T18:27:50.000000000+00:00 stdout P no-newline\n",
]


def test_parse_glues_partials_and_keeps_streams() -> None:
    lines = list(parse(iter(LOG)))
    assert [(ln.stream, ln.text, ln.complete) for ln in lines] == [
        ("stdout", "out-line", True), ("stderr", "err-line", True), ("stdout", "abcdef", True),
        ("stdout", "", True), ("stdout", "no-newline", False)]
    assert lines[2].time.startswith("2026-11-28T18:27:48.195")


def test_timestamps() -> None:
    assert ts_seconds("2026-11-28T18:27:15.5+00:00") == pytest.approx(1795890435.5)
    assert ts_seconds("2026-11-28T19:27:15.5+01:00") == pytest.approx(1795890435.5)
    assert ts_seconds("2026-11-28T18:27:15Z") == pytest.approx(1795890435.0)


def test_since() -> None:
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("1h30m", now=10000.0) == 10000.0 - 5400
    assert parse_since("1700000000") == 1700000000.0
    with pytest.raises(ConfigError):
        parse_since("yesterday")
