"""Interpolation: every form of the compose specification, nesting, $$, errors with file:line and path."""

from __future__ import annotations

import pytest

from podium.declare.compose.interpolate import InterpolationError, interpolate_tree, substitute
from podium.declare.compose.located import SourceFile
from podium.declare.compose.yamlpos import load_documents
from podium.engine.errors import ConfigError

ENV = {"SET": "value", "EMPTY": "", "PORT": "8080", "lower_case": "ok", "B": "bee"}


def sub(text: str, env: dict[str, str] | None = None) -> str:
    e = ENV if env is None else env
    return substitute(text, e.get)


@pytest.mark.parametrize("text, expected", [
    ("plain", "plain"),
    ("$SET", "value"),
    ("${SET}", "value"),
    ("pre-${SET}-post", "pre-value-post"),
    ("$SET$SET", "valuevalue"),
    ("${lower_case}", "ok"),
    ("$SET.txt", "value.txt"),
    ("a$SET/b", "avalue/b"),
    # :- unset or empty -> default
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${SET:-def}", "value"),
    # - unset only
    ("${UNSET-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${SET-def}", "value"),
    # :+ set and not empty -> alt
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${UNSET:+alt}", ""),
    # + set -> alt
    ("${SET+alt}", "alt"),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    # ? forms when satisfied
    ("${SET:?boom}", "value"),
    ("${EMPTY?boom}", ""),
    # defaults with spaces, colons, dashes
    ("${UNSET:-a b:c-d}", "a b:c-d"),
    ("${UNSET:-}", ""),
    # nesting
    ("${UNSET:-${B}}", "bee"),
    ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
    ("${UNSET:-$B}", "bee"),
    ("${SET:+${B}-x}", "bee-x"),
    ("${UNSET:-${B}}-tail", "bee-tail"),
    ("${UNSET-${UNSET2-${B}}}", "bee"),
    # escapes
    ("$$", "$"),
    ("$$SET", "$SET"),
    ("$${SET}", "${SET}"),
    ("cost: $$5", "cost: $5"),
    ("$$$SET", "$value"),
    ("echo $$HOME $$$$", "echo $HOME $$"),
    # unset plain variable -> empty
    ("${UNSET}", ""),
    ("x${UNSET}y", "xy"),
])
def test_forms(text: str, expected: str) -> None:
    assert sub(text) == expected


def test_defaults_expand_lazily() -> None:
    # the default holds a required variable that is missing, but the default is not needed
    assert sub("${SET:-${MISSING:?never}}") == "value"
    with pytest.raises(InterpolationError, match="required variable MISSING is missing a value: never"):
        sub("${UNSET:-${MISSING:?never}}")


@pytest.mark.parametrize("text, message", [
    ("${UNSET:?please set it}", "required variable UNSET is missing a value: please set it"),
    ("${EMPTY:?empty is not enough}", "required variable EMPTY is missing a value: empty is not enough"),
    ("${UNSET?gone}", "required variable UNSET is missing a value: gone"),
    ("${UNSET:?}", "required variable UNSET is missing a value"),
    ("${UNSET:?need $B}", "required variable UNSET is missing a value: need bee"),
])
def test_required(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as info:
        sub(text)
    assert str(info.value) == message


@pytest.mark.parametrize("text", ["$", "echo $1", "${}", "${1ABC}", "${SET/a/b}", "${SET:=x}", "${SET", "a $ b",
                                  "${SET:}", "$-"])
def test_invalid(text: str) -> None:
    with pytest.raises(InterpolationError, match="invalid interpolation format.*escape any \\$ with another \\$"):
        sub(text)


def test_unset_callback() -> None:
    seen: list[str] = []
    assert substitute("$A-${B}-${C:-x}", {}.get, on_unset=seen.append) == "--x"
    assert seen == ["A", "B"]


def _doc(text: str) -> tuple:
    (doc,) = load_documents(text, "compose.yaml")
    return doc, SourceFile("compose.yaml", doc.positions)


def test_tree_values_not_keys() -> None:
    doc, source = _doc("services:\n  web:\n    image: img:${TAG}\n    labels:\n      $KEY: $VAL\n"
                       "    ports: [\"${PORT}:80\"]\n    replicas_like: 3\n")
    out = interpolate_tree(doc.data, {"TAG": "1.2", "KEY": "k", "VAL": "v", "PORT": "9"}.get, source=source)
    web = out["services"]["web"]
    assert web["image"] == "img:1.2"
    assert web["labels"] == {"$KEY": "v"}
    assert web["ports"] == ["9:80"]
    assert web["replicas_like"] == 3


def test_tree_error_names_file_line_and_path() -> None:
    doc, source = _doc("services:\n  web:\n    image: busybox\n    environment:\n      - A=1\n"
                       "      - B=${NEEDED:?set NEEDED first}\n")
    with pytest.raises(ConfigError) as info:
        interpolate_tree(doc.data, {}.get, source=source)
    err = info.value
    assert err.where == "compose.yaml:6:9"
    assert err.field == "services.web.environment[1]"
    assert str(err) == ("compose.yaml:6:9: services.web.environment[1]: "
                        "required variable NEEDED is missing a value: set NEEDED first")


def test_tree_invalid_format_message() -> None:
    doc, source = _doc("services:\n  web:\n    command: echo $1\n")
    with pytest.raises(ConfigError) as info:
        interpolate_tree(doc.data, {}.get, source=source)
    assert info.value.where == "compose.yaml:3:5"
    assert "invalid interpolation format for services.web.command" in str(info.value)


def test_tree_warns_once_per_variable() -> None:
    doc, source = _doc("a: $X\nb: ${X}\nc: $Y\n")
    warnings: list[str] = []
    assert interpolate_tree(doc.data, {}.get, source=source, warnings=warnings) == {"a": "", "b": "", "c": ""}
    assert len(warnings) == 2 and '"X" variable is not set' in warnings[0]
