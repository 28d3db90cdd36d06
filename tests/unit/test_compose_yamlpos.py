"""The compose YAML reader: positions, anchors, merge keys, YAML 1.2 scalars, merge tags, errors."""

from __future__ import annotations

import pytest

from podium.declare.compose.yamlpos import load_documents
from podium.engine.errors import ConfigError

TEXT = """\
x-defaults: &defaults
  image: busybox
  environment:
    A: "1"
  restart: "no"

x-labels: &labels
  team: core

services:
  web:
    <<: *defaults
    image: nginx
    labels:
      <<: [*labels, {tier: front}]
      team: web
  worker:
    <<: *defaults
    command: [sleep, "1"]
"""


def test_anchors_and_merge_keys() -> None:
    (doc,) = load_documents(TEXT, "c.yaml")
    web = doc.data["services"]["web"]
    worker = doc.data["services"]["worker"]
    assert web["image"] == "nginx"  # own key wins over the merged one
    assert web["environment"] == {"A": "1"} and web["restart"] == "no"
    assert web["labels"] == {"team": "web", "tier": "front"}
    assert worker["image"] == "busybox" and worker["command"] == ["sleep", "1"]
    # aliases are copies, not shared objects
    worker["environment"]["B"] = "2"
    assert web["environment"] == {"A": "1"}


def test_positions() -> None:
    (doc,) = load_documents(TEXT, "c.yaml")
    pos = doc.positions
    assert pos[()] == (1, 1)
    assert pos[("services",)] == (10, 1)
    assert pos[("services", "web")] == (11, 3)
    assert pos[("services", "web", "image")] == (13, 5)
    assert pos[("services", "worker", "command", 1)] == (19, 22)
    # merged-in keys point at where their value is written (the anchor)
    assert pos[("services", "worker", "image")] == (2, 3)


def test_yaml_1_2_scalars() -> None:
    (doc,) = load_documents("a: no\nb: yes\nc: on\nd: true\ne: 0644\nf: 0o17\ng: 0x1F\nh: 1.5\ni: ~\nj: 2001-12-14\n"
                            "k: '0644'\nl: 012\nm: 089\nn: .inf\n", "c.yaml")
    d = doc.data
    assert d["a"] == "no" and d["b"] == "yes" and d["c"] == "on" and d["d"] is True
    assert d["e"] == 0o644 and d["f"] == 0o17 and d["g"] == 31 and d["h"] == 1.5 and d["i"] is None
    assert d["j"] == "2001-12-14" and d["k"] == "0644" and d["l"] == 0o12 and d["m"] == 89
    assert d["n"] == float("inf")


def test_keys_are_strings() -> None:
    (doc,) = load_documents("1: a\ntrue: b\nnull: c\n", "c.yaml")
    assert doc.data == {"1": "a", "true": "b", "null": "c"}


def test_duplicate_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_documents("services:\n  web:\n    image: a\n    image: b\n", "c.yaml")
    assert info.value.where == "c.yaml:4:5"
    assert info.value.field == "services.web.image"
    assert "duplicate key 'image' (first defined on line 3)" in str(info.value)


def test_syntax_error_is_located() -> None:
    with pytest.raises(ConfigError) as info:
        load_documents("services:\n  web:\n    ports: [80,\n", "c.yaml")
    assert info.value.where.startswith("c.yaml:4:")
    assert "invalid YAML" in str(info.value)


def test_bad_indentation() -> None:
    with pytest.raises(ConfigError) as info:
        load_documents("services:\n  web:\n    image: a\n   bad: b\n", "c.yaml")
    assert info.value.where.startswith("c.yaml:")


def test_multiple_documents_and_empty_ones() -> None:
    docs = load_documents("---\na: 1\n---\n---\nb: 2\n", "c.yaml")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert load_documents("", "c.yaml") == []
    assert load_documents("# nothing\n", "c.yaml") == []


def test_reset_and_override_tags() -> None:
    (doc,) = load_documents("services:\n  web:\n    ports: !reset []\n    environment:\n      A: !reset null\n"
                            "    command: !override [a, b]\n    volumes: !override\n      - x:/x\n", "c.yaml")
    web = doc.data["services"]["web"]
    assert "ports" not in web and web["environment"] == {}
    assert web["command"] == ["a", "b"] and web["volumes"] == ["x:/x"]
    assert doc.resets == [("services", "web", "ports"), ("services", "web", "environment", "A")]
    assert doc.overrides == [("services", "web", "command"), ("services", "web", "volumes")]


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="recursive alias"):
        load_documents("a: &x [1, *x]\n", "c.yaml")


def test_alias_bomb_is_refused(monkeypatch) -> None:  # noqa: ANN001
    import podium.declare.compose.yamlpos as yp

    monkeypatch.setattr(yp, "MAX_NODES", 1000)
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    with pytest.raises(ConfigError, match="too many nodes"):
        load_documents(text, "c.yaml")


def test_merge_key_needs_mappings() -> None:
    with pytest.raises(ConfigError, match="merge key"):
        load_documents("a: &s scalar\nb:\n  <<: *s\n", "c.yaml")
