"""``podium events``: every mutation lands in the log, in order, filterable and followable."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.conftest import PODIUM

pytestmark = pytest.mark.integration


def _statuses(podium, *args: str) -> list[str]:
    out = podium("events", "--stream=false", "--format", "{{.Type}} {{.Status}} {{.Name}}", *args).stdout
    return out.splitlines()


def test_lifecycle_events_in_order(podium, image) -> None:
    podium("run", "--name", "ev1", image, "true")
    podium("run", "-d", "--name", "ev2", image, "sleep", "30")
    podium("stop", "-t", "1", "ev2")
    podium("rename", "ev2", "ev3")
    podium("rm", "ev1", "ev3")
    podium("volume", "create", "evv")
    podium("volume", "rm", "evv")
    lines = _statuses(podium, "--filter", "type=container")
    assert lines == ["container create ev1", "container start ev1", "container died ev1",
                     "container create ev2", "container start ev2", "container died ev2",
                     "container stop ev2", "container rename ev3",
                     "container remove ev1", "container remove ev3"]
    assert _statuses(podium, "--filter", "type=volume") == ["volume create evv", "volume remove evv"]
    assert _statuses(podium, "--filter", "container=ev1", "--filter", "event=died") == ["container died ev1"]
    died = [json.loads(x) for x in podium("events", "--stream=false", "--format", "json",
                                          "--filter", "event=die").stdout.splitlines()]
    assert [(d["Name"], d["Attributes"]["exitCode"]) for d in died] == [("ev1", "0"), ("ev2", "137")]
    assert _statuses(podium, "--until", "2000-01-01T00:00:00Z") == []
    r = podium("events", "--stream=false", "--filter", "colour=red", check=False)
    assert r.returncode == 125 and "invalid filter" in r.stderr


@pytest.mark.timeout(60)
def test_follow_streams_new_events(podium, image) -> None:
    podium("volume", "create", "before")
    proc = subprocess.Popen([*PODIUM, "events", "--filter", "type=volume", "--format", "{{.Status}} {{.Name}}"],
                            env=podium.env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the follower has read the current end of the log
        podium("volume", "create", "after")
        line = proc.stdout.readline()
        assert line == "create after\n"
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0
