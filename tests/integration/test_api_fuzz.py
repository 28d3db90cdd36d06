"""A short fuzzing run (schemathesis, driven by podium's own openapi.json) against a live service:
no 5xx and no traceback in any response.

Bounded to stay fast: a few examples per operation, no shrinking. Operations that
leave the host (pull, push) or hold the connection open (events, attach, exec
start, logs, wait) are left out; everything else runs on the test's private root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import Podium, need
from tests.integration.test_api_helpers import free_port, start_service, stop_service

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

pytestmark = pytest.mark.timeout(240)

OPENAPI = Path(__file__).resolve().parents[2] / "podium" / "api" / "openapi.json"
SKIP = {
    ("POST", "/images/create"), ("POST", "/images/{name}/push"), ("GET", "/events"),
    ("POST", "/containers/{id}/attach"), ("POST", "/exec/{id}/start"), ("GET", "/containers/{id}/logs"),
    ("POST", "/containers/{id}/wait"),
}

_state: dict[str, object] = {}


def _service() -> str:
    """One service for the whole run (started on first use, stopped by the module fixture)."""
    if "url" not in _state:
        base = Path(tempfile.mkdtemp(prefix="pdmfz", dir="/tmp"))
        p = Podium(base)
        port = free_port()
        _state["podium"] = p
        _state["svc"] = start_service(p, f"tcp://127.0.0.1:{port}")
        _state["url"] = f"http://127.0.0.1:{port}"
    return str(_state["url"])


@pytest.fixture(scope="module", autouse=True)
def _teardown_service() -> object:
    need(os.geteuid() == 0, "integration tests need root")
    yield
    svc = _state.pop("svc", None)
    if svc is not None:
        stop_service(svc)  # type: ignore[arg-type]
        from tests.conftest import teardown_root
        import shutil
        p = _state.pop("podium")
        problems = teardown_root(p)  # type: ignore[arg-type]
        shutil.rmtree(p.base, ignore_errors=True)  # type: ignore[union-attr]
        assert not problems, problems
    _state.clear()


# bodies podium takes as text or bytes: tarballs (cp, load) and Kubernetes YAML
schemathesis.serializer.alias("application/x-tar", "application/octet-stream")
schemathesis.serializer.alias("application/yaml", "text/plain")

schema = schemathesis.openapi.from_path(str(OPENAPI))


@schema.exclude(
    method="POST", path="/images/create").exclude(
    method="POST", path="/images/{name}/push").exclude(
    method="GET", path="/events").exclude(
    method="POST", path="/containers/{id}/attach").exclude(
    method="POST", path="/exec/{id}/start").exclude(
    method="GET", path="/containers/{id}/logs").exclude(
    method="POST", path="/containers/{id}/wait").parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case) -> None:  # noqa: ANN001
    assert (case.method.upper(), case.path) not in SKIP
    response = case.call(base_url=_service(), timeout=60)
    text = response.text if "json" in response.headers.get("content-type", "") or response.status_code >= 400 else ""
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {text[:300]}"
    assert "Traceback" not in text
