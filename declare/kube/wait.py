"""Played pods, watched: readiness (the pods' Ready condition) and the end of their containers.

``play kube --wait`` stays in the foreground as Podman's does: it waits until
every app container of the played pods has exited for good (no restart policy
will start it again), then removes everything the play made. While it waits it
runs the containers' readiness probes — which Podman does not support at all —
and reports each pod once it is Ready: every app container running, its startup
probe passed (its health check healthy) and its readiness probe passed
``successThreshold`` times in a row (``failureThreshold`` failures make it
unready again). Without a daemon nobody else runs readiness probes: podium runs
them when it needs the answer, here and in ``conditions``.
"""

from __future__ import annotations

import json
import time

from podium.engine.errors import NotFound, PodiumError

from .convert import ANN_INIT, ANN_READINESS, ANN_STARTUP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from podium.engine.engine import Engine

SECOND = 1_000_000_000


def _app_members(engine: "Engine", pod: str) -> list[dict[str, Any]]:
    try:
        p = engine.pods.get(pod)
    except NotFound:
        return []
    return [c for c in engine.pods.members(p, infra=False)
            if (c["config"].get("annotations") or {}).get(ANN_INIT) != "true"]


def finished(c: dict[str, Any]) -> bool:
    """Exited, and no restart policy will start it again."""
    state = c["state"]
    if state["status"] != "exited":
        return False
    policy = c["config"].get("restart_policy") or {}
    name = policy.get("Name", "no")
    if state.get("stopped_by_user") or name == "no":
        return True
    if name == "on-failure":
        limit = int(policy.get("MaximumRetryCount") or 0)
        return state.get("exit_code", 0) == 0 or (limit > 0 and state.get("restart_count", 0) >= limit)
    return False


class Readiness:
    """One container's readiness probe, run when due; its streaks decide Ready."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.next_at = 0.0
        self.successes = 0
        self.failures = 0
        self.ready = False
        self.started = ""

    def poll(self, engine: "Engine", c: dict[str, Any], now: float) -> bool:
        from podium.engine import health
        started = c["state"].get("started_at") or ""
        if started != self.started:  # a new run of the container: start over
            self.started, self.successes, self.failures, self.ready = started, 0, 0, False
            self.next_at = now + float(self.spec.get("initialDelay") or 0)
        if now < self.next_at:
            return self.ready
        self.next_at = now + float(self.spec.get("period") or 10)
        result = health.execute(engine, c, {"Test": list(self.spec["test"]),
                                            "Timeout": int(self.spec.get("timeout") or 1) * SECOND})
        if result.get("ExitCode") == 0:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= int(self.spec.get("success") or 1):
                self.ready = True
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.failures >= int(self.spec.get("failure") or 3):
                self.ready = False
        return self.ready


class Watch:
    """The played pods, polled: which became Ready, and whether all of them are over."""

    def __init__(self, engine: "Engine", pods: list[str]) -> None:
        self.engine = engine
        self.pods = list(pods)
        self.probes: dict[str, Readiness] = {}
        self.reported: set[str] = set()

    def container_ready(self, c: dict[str, Any], now: float) -> bool:
        if c["state"]["status"] != "running":
            return False
        ann = c["config"].get("annotations") or {}
        if ann.get(ANN_STARTUP) == "true" and (c["state"].get("health") or {}).get("Status") != "healthy":
            return False
        spec = ann.get(ANN_READINESS)
        if not spec:
            return True
        probe = self.probes.setdefault(c["id"], Readiness(json.loads(spec)))
        try:
            return probe.poll(self.engine, c, now)
        except PodiumError:
            return False

    def conditions(self, now: float | None = None) -> dict[str, bool]:
        """Ready per pod, right now (probes that are due run)."""
        now = time.monotonic() if now is None else now
        out = {}
        for pod in self.pods:
            members = _app_members(self.engine, pod)
            out[pod] = bool(members) and all(self.container_ready(c, now) for c in members)
        return out

    def newly_ready(self) -> list[str]:
        ready = [p for p, ok in self.conditions().items() if ok and p not in self.reported]
        self.reported.update(ready)
        return ready

    def over(self) -> bool:
        for pod in self.pods:
            if not all(finished(c) for c in _app_members(self.engine, pod)):
                return False
        return True
