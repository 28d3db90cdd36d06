"""Env files as Docker Compose reads them: quotes, export, comments, multi-line values, interpolation."""

from __future__ import annotations

import pytest

from podium.declare.compose.dotenv import parse_env_text, read_env_file
from podium.engine.errors import ConfigError


def parse(text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    return parse_env_text(text, filename="test.env", lookup=env or {})


def test_basic_forms() -> None:
    text = """
# a comment
   # an indented comment
PLAIN=value
SPACED = spaced value   
export EXPORTED=yes
EMPTY=
EQUALS=a=b=c
dotted.key=1
dash-key=2
COLON: yaml style
"""
    assert parse(text) == {
        "PLAIN": "value", "SPACED": "spaced value", "EXPORTED": "yes", "EMPTY": "", "EQUALS": "a=b=c",
        "dotted.key": "1", "dash-key": "2", "COLON": "yaml style",
    }


def test_inline_comments() -> None:
    text = "A=val # comment\nB=val#notacomment\nC=\"quoted # kept\" # dropped\nD='x' trailing words\nE=#\n"
    assert parse(text) == {"A": "val", "B": "val#notacomment", "C": "quoted # kept", "D": "x", "E": ""}


def test_single_quotes_are_literal() -> None:
    text = "A='$HOME ${X:-y} \\n'\nB='it\\'s'\n"
    assert parse(text, {"HOME": "/root"}) == {"A": "$HOME ${X:-y} \\n", "B": "it's"}


def test_double_quotes_escape_and_interpolate() -> None:
    text = 'A="tab\\there"\nB="line1\\nline2"\nC="say \\"hi\\""\nD="cost \\$5"\nE="$HOME/x"\nF="back\\\\slash"\n'
    assert parse(text, {"HOME": "/root"}) == {
        "A": "tab\there", "B": "line1\nline2", "C": 'say "hi"', "D": "cost $5", "E": "/root/x", "F": "back\\slash",
    }


def test_multiline_double_quoted() -> None:
    text = 'KEY="-----BEGIN-----\nabc\ndef\n-----END-----"\nNEXT=1\n'
    assert parse(text) == {"KEY": "-----BEGIN-----\nabc\ndef\n-----END-----", "NEXT": "1"}


def test_multiline_single_quoted() -> None:
    assert parse("K='a\nb'\n") == {"K": "a\nb"}


def test_unquoted_interpolation_uses_environment_then_earlier_keys() -> None:
    text = "BASE=/srv\nDATA=${BASE}/data\nLOGS=$BASE/logs\nDEF=${NOPE:-fallback}\nHOME_DIR=${HOME}\n"
    out = parse(text, {"HOME": "/root"})
    assert out == {"BASE": "/srv", "DATA": "/srv/data", "LOGS": "/srv/logs", "DEF": "fallback", "HOME_DIR": "/root"}


def test_environment_wins_over_earlier_keys_in_interpolation() -> None:
    assert parse("A=file\nB=$A\n", {"A": "env"}) == {"A": "file", "B": "env"}


def test_bare_key_inherits_from_environment() -> None:
    assert parse("INHERITED\nMISSING\nX=1\n", {"INHERITED": "from-env"}) == {"INHERITED": "from-env", "X": "1"}


def test_crlf_and_no_trailing_newline() -> None:
    assert parse("A=1\r\nB=2") == {"A": "1", "B": "2"}


def test_later_definition_wins() -> None:
    assert parse("A=1\nA=2\n") == {"A": "2"}


@pytest.mark.parametrize("text, line, message", [
    ('A=1\nB="never closed\n\n', 2, "unterminated quoted value"),
    ("A=1\nBAD KEY=1\n", 2, "unexpected character"),
    ("=value\n", 1, "unexpected character"),
    ("A=${X:?must be set}\n", 1, "required variable X is missing a value: must be set"),
])
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.where == f"test.env:{line}"
    assert message in str(info.value)


def test_read_env_file(tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "x.env"
    p.write_text("A=1\n")
    assert read_env_file(str(p)) == {"A": "1"}
    with pytest.raises(ConfigError, match="not found"):
        read_env_file(str(tmp_path / "missing.env"))
