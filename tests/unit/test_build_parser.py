"""Containerfile parsing: continuations, directives, comments, exec vs shell form, located errors."""

from __future__ import annotations

import pytest

from podium.engine.build.parser import parse, parse_instruction
from podium.engine.errors import ConfigError


def test_stages_meta_args_and_lines() -> None:
    cf = parse("ARG BASE=scratch\n\n# a comment\nFROM $BASE AS Build\nRUN a\nFROM build\nCMD x\n")
    assert [a.args for a in cf.meta_args] == ["BASE=scratch"]
    assert [(s.base, s.name, s.from_instr.line) for s in cf.stages] == [
        ("$BASE", "build", 4), ("build", None, 6)]
    assert [(i.cmd, i.line) for i in cf.stages[0].instructions] == [("RUN", 5)]


def test_continuation_drops_comments_and_blank_lines() -> None:
    cf = parse("FROM x\nRUN echo a \\\n  # not part of it\n\n  && echo b\nUSER 1\n")
    run, user = cf.stages[0].instructions
    assert run.args == "echo a   && echo b"
    assert (run.line, user.line) == (2, 6)


def test_escape_directive_backtick() -> None:
    cf = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n")
    assert cf.escape == "`"
    assert cf.stages[0].instructions[0].args == "dir c:\\   && echo"


def test_directive_only_at_top() -> None:
    cf = parse("FROM x\n# escape=`\nRUN a \\\n b\n")
    assert cf.escape == "\\"
    assert cf.stages[0].instructions[0].args == "a  b"


def test_exec_and_shell_forms() -> None:
    assert parse_instruction('RUN ["echo", "a b"]', 1).json == ["echo", "a b"]
    assert parse_instruction("RUN echo [x]", 1).json is None
    assert parse_instruction("CMD ['single']", 1).json is None  # not JSON: shell form, as Docker
    assert parse_instruction('RUN ["a", 1]', 1).json is None
    assert parse_instruction('COPY ["a b", "/c/"]', 1).json == ["a b", "/c/"]


def test_flags() -> None:
    i = parse_instruction("COPY --from=build --chown=1:2 --chmod=644 a /b", 3)
    assert i.flags == {"from": "build", "chown": "1:2", "chmod": "644"}
    assert i.args == "a /b"
    h = parse_instruction("HEALTHCHECK --interval=5s CMD true", 1)
    assert h.flags == {"interval": "5s"}


@pytest.mark.parametrize("text, line, words", [
    ("FROM x\nRUNN a\n", 2, "unknown instruction: RUNN"),
    ("FROM x\nCOPY --frm=a b c\n", 2, "unknown flag --frm"),
    ("FROM x\nCOPY onlyone\n", 2, "at least two arguments"),
    ("FROM x\nSHELL /bin/bash -c\n", 2, "JSON form"),
    ("FROM x AS\n", 1, "FROM requires either one or three"),
    ("FROM x AS a\nFROM y AS a\n", 2, "duplicate stage name"),
    ("RUN a\nFROM x\n", 1, "before the first FROM"),
    ("FROM x\nHEALTHCHECK CMD\n", 2, "requires a command"),
    ("FROM x\nHEALTHCHECK NONE x\n", 2, "NONE takes no"),
    ("FROM x\nENV ONLYKEY\n", 2, "two arguments"),
    ("FROM x\nONBUILD FROM y\n", 2, "not allowed as an ONBUILD"),
    ("# escape=x\nFROM y\n", 1, "invalid escape"),
    ("FROM x\nRUN <<EOF\necho hi\n", 2, "heredoc <<EOF is not terminated"),
])
def test_syntax_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text, "dir/Containerfile")
    assert str(e.value).startswith(f"dir/Containerfile:{line}: ")
    assert words in str(e.value)


def test_not_heredocs() -> None:
    for text in ("RUN echo $((1<<2))", "RUN cat <<< word", "RUN echo '<<'"):
        cf = parse("FROM x\n" + text + "\nUSER 1\n")
        assert cf.stages[0].instructions[0].heredocs == []
        assert [i.cmd for i in cf.stages[0].instructions] == ["RUN", "USER"]


def test_heredocs() -> None:
    cf = parse("FROM x\nRUN <<EOF\n  echo a \\\n# kept\n\nEOF\n"
               "COPY <<-\"A\" <<B /d/\n\t\tx $V\n\tA\ny\nB\nUSER 1\n")
    run, copy, user = cf.stages[0].instructions
    (h,) = run.heredocs
    assert (h.name, h.content, h.expand, h.marker) == ("EOF", "  echo a \\\n# kept\n\n", True,
                                                       "<<EOF")
    a, b = copy.heredocs
    assert (a.name, a.content, a.expand, a.marker) == ("A", "x $V\n", False, '<<-"A"')
    assert (b.name, b.content, b.expand) == ("B", "y\n", True)
    assert user.line == 12
    assert parse_instruction('RUN ["a", "<<EOF"]', 1).heredocs == []


def test_empty_file() -> None:
    with pytest.raises(ConfigError, match="no FROM instruction"):
        parse("# nothing\n", "Containerfile")


def test_case_insensitive_names() -> None:
    cf = parse("from x as B\nrun echo\n")
    assert cf.stages[0].name == "b"
    assert cf.stages[0].instructions[0].cmd == "RUN"
