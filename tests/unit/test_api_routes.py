"""The API's pure parts: routing and versions, the OpenAPI file against the routes, the
create-body mapping, query parsing, stream framing."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from podium.api import openapi, routes
from podium.api.docker import create, streams
from podium.api.http import ApiError, Request, check
from podium.engine.errors import ConfigError

OPENAPI = Path(openapi.__file__).with_name("openapi.json")


def test_openapi_file_matches_the_route_table() -> None:
    committed = json.loads(OPENAPI.read_text())
    assert committed == openapi.build(), "run: python -m podium.api.openapi > podium/api/openapi.json"
    served = {(r.openapi_path, r.method.lower()) for r in routes.ROUTES}
    described = {(p, m) for p, ops in committed["paths"].items() for m in ops}
    assert served == described
    assert committed["openapi"].startswith("3.")
    for p, ops in committed["paths"].items():
        for m, op in ops.items():
            assert op["responses"], (p, m)
            names = [x["name"] for x in op.get("parameters", []) if x["in"] == "path"]
            assert sorted(names) == sorted(seg[1:-1] for seg in p.split("/") if seg.startswith("{"))


@pytest.mark.parametrize("path, version, bare", [
    ("/v1.41/containers/json", "1.41", "/containers/json"),
    ("/v1.24/_ping", "1.24", "/_ping"),
    ("/containers/json", "", "/containers/json"),
    ("/v4.0.0/libpod/pods/json", "", "/libpod/pods/json"),
    ("/v5.8.0/libpod/play/kube", "", "/libpod/play/kube"),
])
def test_versions(path: str, version: str, bare: str) -> None:
    assert routes.split_version(path) == (version, bare)


@pytest.mark.parametrize("path", ["/v1.99/version", "/v1.12/version"])
def test_versions_out_of_range(path: str) -> None:
    with pytest.raises(routes.NoRoute) as err:
        routes.split_version(path)
    assert err.value.status == 400


def test_match_image_names_with_slashes_and_methods() -> None:
    r, params, _ = routes.match("GET", "/v1.41/images/localhost/busybox:latest/json")
    assert r.handler.__name__ == "inspect" and params == {"name": "localhost/busybox:latest"}
    r, params, _ = routes.match("DELETE", "/images/docker.io/library/x:1")
    assert params == {"name": "docker.io/library/x:1"}
    r, _, _ = routes.match("GET", "/images/json")
    assert r.handler.__name__ == "list_images"
    r, _, _ = routes.match("HEAD", "/_ping")
    assert r.method == "HEAD"
    with pytest.raises(routes.NoRoute) as err:
        routes.match("PATCH", "/containers/abc/json")
    assert err.value.status == 405
    with pytest.raises(routes.NoRoute) as err:
        routes.match("GET", "/nope")
    assert err.value.status == 404


def _req(query: dict[str, list[str]]) -> Request:
    return Request("GET", "/", query, {}, b"")


def test_query_parsing() -> None:
    assert _req({"all": ["1"]}).flag("all") is True
    assert _req({"all": ["false"]}).flag("all") is False
    assert _req({}).flag("all", True) is True
    with pytest.raises(ApiError):
        _req({"all": ["maybe"]}).flag("all")
    with pytest.raises(ApiError):
        _req({"t": ["x"]}).int_arg("t")
    assert _req({"filters": ['{"label": ["a=b", "c"], "status": {"running": true}}']}).filters() == [
        ("label", "a=b"), ("label", "c"), ("status", "running")]
    with pytest.raises(ApiError):
        _req({"filters": ['{"nope": ["x"]}']}).filters(("label",))
    with pytest.raises(ApiError):
        _req({"filters": ["[1]"]}).filters()


def test_create_body_to_spec() -> None:
    body = {
        "Image": "busybox", "Cmd": ["sh", "-c", "true"], "Entrypoint": None, "Env": ["A=1", "B=x=y"],
        "Labels": {"l": "v"}, "WorkingDir": "/w", "User": "1000", "StopSignal": "SIGINT", "StopTimeout": 3,
        "Volumes": {"/anon": {}}, "OpenStdin": True, "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2_000_000_000, "Retries": 2},
        "HostConfig": {"Binds": ["/tmp:/host:ro"], "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                                                     "53/udp": [{"HostPort": ""}]},
                       "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": False,
                       "Memory": 64 * 1024 * 1024, "NanoCpus": 500_000_000, "PidsLimit": -1, "CapAdd": ["NET_ADMIN"],
                       "Tmpfs": {"/run": "size=1m"}, "Init": True, "Dns": ["10.0.0.53"], "MemorySwappiness": None,
                       "ExtraHosts": ["db:10.0.0.9"], "GroupAdd": ["10"], "MemoryReservation": 32 * 1024 * 1024,
                       "SecurityOpt": ["no-new-privileges:true", "label=disable", "seccomp=unconfined"],
                       "LogConfig": {"Type": "json-file", "Config": {}}, "NetworkMode": "mynet",
                       "Mounts": [{"Type": "volume", "Source": "data", "Target": "/data", "ReadOnly": True}]},
        "NetworkingConfig": {"EndpointsConfig": {"mynet": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.1.0.5"}}}},
    }
    check(body, create.CREATE_SCHEMA)
    spec = create.to_spec(body, "n1")
    assert spec.name == "n1" and spec.image == "busybox"
    assert spec.command == ["sh", "-c", "true"] and spec.entrypoint is None
    assert spec.env == {"A": "1", "B": "x=y"}
    assert spec.volumes == ["/tmp:/host:ro", "/anon"]
    assert sorted(spec.ports) == ["127.0.0.1:8080:80/tcp", "53/udp"]
    assert spec.restart == "on-failure:3"
    assert spec.memory == 64 * 1024 * 1024 and spec.cpus == 0.5 and spec.pids_limit is None
    assert spec.network == "mynet" and spec.network_aliases == ["web"] and spec.ip == "10.1.0.5"
    assert spec.tmpfs == {"/run": "size=1m"} and spec.init and spec.interactive
    assert spec.mounts[0]["volume"] == "data" and spec.mounts[0]["rw"] is False
    assert spec.health == {"cmd": ["CMD", "true"], "interval": "2000000000ns", "retries": 2}
    assert spec.stop_signal == "SIGINT" and spec.stop_timeout == 3
    assert spec.dns == ["10.0.0.53"] and spec.dns_search is None and spec.add_hosts == ["db:10.0.0.9"]
    assert spec.groups == ["10"] and spec.memory_reservation == 32 * 1024 * 1024
    assert spec.no_new_privileges is True and spec.seccomp_profile == "unconfined"


@pytest.mark.parametrize("hc, field", [
    ({"Links": ["a:b"]}, "Links"), ({"PidMode": "host"}, "PidMode"), ({"Devices": [{"PathOnHost": "/dev/x"}]}, "Devices"),
    ({"SecurityOpt": ["apparmor=x"]}, "SecurityOpt"), ({"LogConfig": {"Type": "syslog"}}, "Type"),
])
def test_create_refuses_what_it_cannot_honour(hc: dict, field: str) -> None:
    with pytest.raises(ApiError) as err:
        create.to_spec({"Image": "x", "HostConfig": hc}, None)
    assert err.value.status == 400 and field in err.value.message


def test_create_schema_names_unknown_fields() -> None:
    with pytest.raises(ApiError) as err:
        check({"Image": "x", "HostConfig": {"Bogus": 1}}, create.CREATE_SCHEMA)
    assert "HostConfig.Bogus" in err.value.message
    with pytest.raises(ApiError):
        check({"Image": "x", "Env": "A=1"}, create.CREATE_SCHEMA)


def test_network_modes() -> None:
    assert create.to_spec({"Image": "x", "HostConfig": {"NetworkMode": "default"}}, None).network is None
    assert create.to_spec({"Image": "x", "HostConfig": {"NetworkMode": "none"}}, None).network == "none"
    assert create.to_spec({"Image": "x", "HostConfig": {"NetworkMode": "bridge"}}, None).network == "bridge"
    assert create.to_spec({"Image": "x", "NetworkDisabled": True}, None).network == "none"
    with pytest.raises(ConfigError):
        create.to_spec({"Image": "x", "HostConfig": {"Mounts": [{"Type": "weird", "Target": "/x"}]}}, None)


def test_frames() -> None:
    f = streams.frame(streams.STDERR, b"abc")
    assert f == struct.pack(">BxxxL", 2, 3) + b"abc"
    big = streams.frame(streams.STDOUT, b"x" * (streams.MAX_FRAME + 1))
    assert len(big) == 2 * 8 + streams.MAX_FRAME + 1
    assert streams.rfc3339nano("2026-11-28T18:27:15.087844246+00:00") == "2026-11-28T18:27:15.087844246Z"
