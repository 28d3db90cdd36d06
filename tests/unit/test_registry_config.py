"""References, registries.conf (search, aliases, mirrors, insecure, blocked) and auth files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from podium.engine.errors import ConfigError
from podium.engine.registry import auth, config
from podium.engine.registry.reference import Reference, is_short_name, parse, qualify


@pytest.mark.parametrize("ref, want", [
    ("quay.io/a/b", Reference("quay.io", "a/b", "latest")),
    ("127.0.0.1:5000/x:1", Reference("127.0.0.1:5000", "x", "1")),
    ("localhost:5000/x@sha256:" + "a" * 64, Reference("localhost:5000", "x", None, "sha256:" + "a" * 64)),
    ("docker.io/busybox", Reference("docker.io", "library/busybox", "latest")),
    ("docker://index.docker.io/x/y:2", Reference("docker.io", "x/y", "2")),
])
def test_parse(ref: str, want: Reference) -> None:
    assert parse(ref) == want


def test_reference_parts() -> None:
    r = parse("docker.io/busybox:1")
    assert (r.api_host, r.repo, r.manifest_ref, str(r)) == (
        "registry-1.docker.io", "docker.io/library/busybox", "1", "docker.io/library/busybox:1")
    d = parse("h.io/x:t@sha256:" + "b" * 64)
    assert d.manifest_ref == "sha256:" + "b" * 64
    assert qualify("busybox", "docker.io") == Reference("docker.io", "library/busybox", "latest")
    assert qualify("a/b:2", "r.example:1") == Reference("r.example:1", "a/b", "2")


@pytest.mark.parametrize("ref", ["busybox", "a/b:1", "library/busybox@sha256:" + "c" * 64])
def test_short_names(ref: str) -> None:
    assert is_short_name(ref)
    with pytest.raises(ConfigError, match="not a fully qualified reference"):
        parse(ref)


@pytest.mark.parametrize("ref", ["h.io/UPPER", "h.io/x:bad tag", "h.io/x@sha256:short", "h.io/"])
def test_bad_references(ref: str) -> None:
    with pytest.raises(ConfigError, match="invalid image name"):
        parse(ref)


def conf_of(tmp_path: Path, text: str, *more: str) -> config.RegistriesConf:
    files = []
    for i, t in enumerate((text,) + more):
        f = tmp_path / f"r{i}.conf"
        f.write_text(t)
        files.append(f)
    return config.load(files)


def test_short_name_without_search_registries_is_an_error(tmp_path: Path) -> None:
    conf = conf_of(tmp_path, "")
    with pytest.raises(ConfigError, match="short-name 'busybox' did not resolve to an alias and no "
                                          "unqualified-search registries are defined in .*r0.conf"):
        conf.candidates("busybox")
    assert conf.candidates("quay.io/x") == [parse("quay.io/x")]


def test_search_order_and_aliases(tmp_path: Path) -> None:
    conf = conf_of(tmp_path, """
unqualified-search-registries = ["first.example", "docker.io"]
[aliases]
"box" = "quay.io/team/box"
""")
    assert conf.candidates("alpine:3") == [parse("first.example/alpine:3"),
                                           parse("docker.io/library/alpine:3")]
    assert conf.candidates("box:7") == [parse("quay.io/team/box:7")]


def test_later_files_override_and_merge(tmp_path: Path) -> None:
    conf = conf_of(tmp_path, 'unqualified-search-registries = ["a.example"]\n'
                             '[[registry]]\nlocation = "a.example"\ninsecure = true\n',
                   'unqualified-search-registries = ["b.example"]\n')
    assert conf.search == ["b.example"]
    assert conf.insecure("a.example") and not conf.insecure("b.example")


def test_mirrors_prefix_rewrite_and_pull_from_mirror(tmp_path: Path) -> None:
    conf = conf_of(tmp_path, """
[[registry]]
prefix = "example.com/team"
location = "internal.example/mirror-of-team"
[[registry.mirror]]
location = "m1.example:5000/t"
insecure = true
[[registry.mirror]]
location = "m2.example"
pull-from-mirror = "digest-only"
[[registry]]
location = "example.com"
blocked = true
""")
    srcs = conf.sources(parse("example.com/team/app:1"))
    assert [str(s.ref) for s in srcs] == ["m1.example:5000/t/app:1",
                                         "internal.example/mirror-of-team/app:1"]
    assert [s.insecure for s in srcs] == [True, False] and srcs[0].mirror
    digest = "sha256:" + "d" * 64
    assert [str(s.ref) for s in conf.sources(parse(f"example.com/team/app@{digest}"))] == [
        f"m1.example:5000/t/app@{digest}", f"m2.example/app@{digest}",
        f"internal.example/mirror-of-team/app@{digest}"]
    # the longest prefix wins; a blocked registry is refused
    with pytest.raises(ConfigError, match="registry example.com is blocked"):
        conf.sources(parse("example.com/other:1"))
    assert conf.sources(parse("unrelated.example/x"))[0].ref == parse("unrelated.example/x")


@pytest.mark.parametrize("text, msg", [
    ("unqualified-search-registries = 'x'", "must be a list of strings"),
    ("[[registry]]\ninsecure = true\n", "needs a location or a prefix"),
    ("[[registry]]\nlocation='a'\n[[registry.mirror]]\ninsecure=true\n", "needs a location"),
    ("[[registry]]\nlocation='a'\n[[registry.mirror]]\nlocation='b'\npull-from-mirror='x'\n",
     "pull-from-mirror must be"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_registries_conf(tmp_path: Path, text: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        conf_of(tmp_path, text)


def test_env_points_at_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "mine.conf"
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(f))
    assert config.conf_files() == [f]
    f.write_text('unqualified-search-registries = ["only.example"]\n')
    assert config.load().search == ["only.example"]


# ---- auth files ----------------------------------------------------------------------------

def test_auth_default_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert auth.default_authfile() == tmp_path / "run" / "containers" / "auth.json"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert str(auth.default_authfile()).startswith("/run/containers/")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "a.json"))
    assert auth.default_authfile() == tmp_path / "a.json"


def test_auth_store_lookup_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(f))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    auth.store("r.example:5000", "u", "p:w")
    auth.store("r.example:5000/team", "t", "tp")
    data = json.loads(f.read_text())
    assert base64.b64decode(data["auths"]["r.example:5000"]["auth"]) == b"u:p:w"
    assert f.stat().st_mode & 0o777 == 0o600
    assert auth.lookup("r.example:5000/other/x") == ("u", "p:w")
    assert auth.lookup("r.example:5000/team/x") == ("t", "tp")  # the most specific key wins
    assert auth.lookup("elsewhere.example/x") is None
    assert auth.remove("r.example:5000") == ["r.example:5000"]
    assert auth.lookup("r.example:5000/other/x") is None
    assert auth.remove("r.example:5000") == []
    assert auth.remove(None) == ["r.example:5000/team"]


def test_docker_config_keys_are_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "none.json"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "docker").mkdir()
    tok = base64.b64encode(b"hub:pw").decode()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": tok},
        "http://h.example:5000": {"username": "plain", "password": "x"}}}))
    assert auth.lookup("docker.io/library/busybox") == ("hub", "pw")
    assert auth.lookup("h.example:5000/x") == ("plain", "x")


def test_broken_auth_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable auth file"):
        auth.lookup("r.example/x", authfile=str(f))
    f.write_text(json.dumps({"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}))  # "nocolon"
    with pytest.raises(ConfigError, match="not user:password"):
        auth.lookup("r.example/x", authfile=str(f))
