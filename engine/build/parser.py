"""Containerfile text -> a list of located instructions, grouped into stages.

This follows Docker's classic parser (moby/buildkit ``frontend/dockerfile/parser``):
parser directives (``# escape=``, ``# syntax=``) only at the very top; the
escape character (``\\`` or a backtick) at the end of a line continues it; comment
lines inside a continued instruction are dropped; instruction names are case
insensitive; ``--flag=value`` options come first. Every error is a ConfigError
that names ``file:line``. Variable substitution is not done here, because its
inputs (ARG values, ENV of the base image) are only known while the stages are
evaluated: see ``shellwords``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import ConfigError

INSTRUCTIONS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
                "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
                "WORKDIR")
# instructions whose JSON form is an exec list
JSON_FORM = ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME")
# the flags each instruction accepts (value-less flags map to None)
FLAGS: dict[str, dict[str, bool]] = {
    "FROM": {"platform": True},
    "COPY": {"from": True, "chown": True, "chmod": True, "link": False, "parents": False,
             "exclude": True},
    "ADD": {"chown": True, "chmod": True, "link": False, "checksum": True, "keep-git-dir": False},
    "RUN": {"network": True, "mount": True, "security": True},
    "HEALTHCHECK": {"interval": True, "timeout": True, "start-period": True, "start-interval": True,
                    "retries": True},
}
_HEREDOC = re.compile(r"(?<![<\d])<<(-?)(\"|'|)([A-Za-z_][A-Za-z0-9_]*)\2(?=\s|$)")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


@dataclass
class Heredoc:
    """``<<NAME`` ... ``NAME``: BuildKit's inline files and scripts."""

    name: str
    content: str                   # the lines in between, each ending with a newline
    expand: bool                   # unquoted marker: $VARS are substituted
    marker: str                    # as written: <<EOF, <<-"EOF"


@dataclass
class Instruction:
    """One instruction as written: its name, flags, raw arguments and where it starts."""

    cmd: str                       # upper case: RUN, COPY, ...
    args: str                      # the text after the name and flags, continuation joined
    line: int                      # 1-based line of the instruction's first line
    original: str                  # the instruction as written, continuations joined
    flags: dict[str, str | None] = field(default_factory=dict)
    json: list[str] | None = None  # the exec (JSON) form, when given so
    heredocs: list[Heredoc] = field(default_factory=list)

    def where(self, path: str) -> str:
        return f"{path}:{self.line}"


@dataclass
class Stage:
    """``FROM base [AS name]`` and the instructions up to the next FROM."""

    index: int
    base: str                      # unsubstituted: FROM may use ARGs declared before it
    name: str | None
    from_instr: Instruction
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Containerfile:
    path: str
    escape: str
    meta_args: list[Instruction]   # ARGs before the first FROM
    stages: list[Stage]


def _error(path: str, line: int, message: str) -> ConfigError:
    return ConfigError(message, where=f"{path}:{line}")


def _directives(lines: list[str], path: str) -> tuple[str, int]:
    """The escape character and the index of the first line after the directives."""
    escape, seen = "\\", set()
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip()) if lines[i].lstrip().startswith("#") else None
        if not m:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key in seen:
            raise _error(path, i + 1, f"only one {key} parser directive can be used")
        seen.add(key)
        if key == "escape":
            if value not in ("\\", "`"):
                raise _error(path, i + 1, f"invalid escape token {value!r} does not match "
                                          "[\\\\`] (use a backslash or a backtick)")
            escape = value
        elif key not in ("syntax", "check"):
            break  # an unknown directive is a comment, and ends the directives
        i += 1
    return escape, i


class _Lines:
    """The file's lines as logical instructions: continuations joined, comments and
    blank lines dropped, and heredoc bodies taken whole when an instruction asks."""

    def __init__(self, lines: list[str], start: int, escape: str, path: str) -> None:
        self.lines, self.i, self.escape, self.path = lines, start, escape, path

    def next(self) -> tuple[int, str] | None:
        buf: list[str] = []
        first = 0
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            self.i += 1
            stripped = raw.strip()
            if not buf:
                if not stripped or stripped.startswith("#"):
                    continue
                first = self.i
            elif stripped.startswith("#") or not stripped:
                continue  # comments and blank lines inside a continuation are dropped (Docker)
            text = raw.rstrip()
            if text.endswith(self.escape):  # Docker's rule: escape + trailing blanks
                buf.append(text[:-1])
                continue
            buf.append(text)
            return first, "".join(buf).strip() if len(buf) > 1 else text.strip()
        if buf:
            return first, "".join(buf).strip()
        return None

    def heredoc(self, name: str, strip_tabs: bool, line: int) -> str:
        body: list[str] = []
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            self.i += 1
            text = raw.lstrip("\t") if strip_tabs else raw
            if text == name:
                return "".join(b + "\n" for b in body)
            body.append(text)
        raise _error(self.path, line, f"heredoc <<{name} is not terminated: end it with a "
                                      f"line holding only {name}")


def _split_flags(cmd: str, rest: str, path: str, line: int) -> tuple[dict[str, str | None], str]:
    flags: dict[str, str | None] = {}
    allowed = FLAGS.get(cmd, {})
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        if word == "--":
            break
        name, eq, value = word[2:].partition("=")
        if name not in allowed:
            known = ", ".join("--" + f for f in allowed) or "none"
            raise _error(path, line, f"unknown flag --{name} for {cmd} (its flags: {known})")
        if allowed[name] and not eq:
            raise _error(path, line, f"{cmd} --{name} needs a value: --{name}=VALUE")
        if not allowed[name] and eq and value.lower() not in ("true", "false"):
            raise _error(path, line, f"{cmd} --{name} takes no value")
        if name in flags and name != "exclude":
            raise _error(path, line, f"{cmd} --{name} given twice")
        flags[name] = value if eq else None
        rest = after.lstrip()
    return flags, rest


def _json_list(args: str) -> list[str] | None:
    if not args.startswith("["):
        return None
    try:
        value = json.loads(args)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    return None


def parse_instruction(text: str, line: int, path: str = "Containerfile") -> Instruction:
    """One logical line -> an Instruction (used by ONBUILD triggers too)."""
    word, _, rest = text.partition(" ") if " " in text else (text, "", "")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    cmd = word.upper()
    if cmd not in INSTRUCTIONS:
        hint = ""
        if word and word[0].isalpha() and not any(c.isspace() for c in word):
            close = [i for i in INSTRUCTIONS if i.startswith(cmd[:2])]
            hint = f" (did you mean {close[0]}?)" if close else ""
        raise _error(path, line, f"unknown instruction: {word}{hint}")
    rest = rest.strip()
    flags, args = _split_flags(cmd, rest, path, line)
    exec_form = _json_list(args) if cmd in JSON_FORM else None
    instr = Instruction(cmd, args, line, text, flags, exec_form)
    _check(instr, path)
    return instr


def _check(i: Instruction, path: str) -> None:
    """The syntax errors Docker reports at parse time."""
    cmd, args = i.cmd, i.args
    # a bracketed argument that is not a JSON list of strings is shell form, as in Docker
    if cmd not in ("CMD", "ENTRYPOINT", "RUN") and not args:
        raise _error(path, i.line, f"{cmd} requires at least one argument")
    if cmd == "RUN" and not args:
        raise _error(path, i.line, "RUN requires at least one argument")
    if cmd == "SHELL" and (i.json is None or not i.json):
        raise _error(path, i.line, "SHELL requires the arguments to be in JSON form, e.g. "
                                   'SHELL ["/bin/sh", "-c"]')
    if cmd in ("COPY", "ADD"):
        words = i.json if i.json is not None else args.split()
        if len(words) < 2:
            raise _error(path, i.line, f"{cmd} requires at least two arguments: SOURCE... DEST")
    if cmd == "FROM":
        words = args.split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
            raise _error(path, i.line, "FROM requires either one or three arguments: "
                                       "FROM IMAGE [AS NAME]")
    if cmd == "ONBUILD":
        inner = args.split(None, 1)[0].upper() if args else ""
        if inner in ("ONBUILD", "FROM", "MAINTAINER"):
            raise _error(path, i.line, f"{inner} is not allowed as an ONBUILD trigger")
    if cmd == "HEALTHCHECK":
        rest = args
        word = rest.split(None, 1)[0].upper() if rest else ""
        if word not in ("CMD", "NONE"):
            raise _error(path, i.line, "HEALTHCHECK expects CMD COMMAND or NONE")
        if word == "NONE" and (len(rest.split()) > 1 or i.flags):
            raise _error(path, i.line, "HEALTHCHECK NONE takes no other arguments")
        if word == "CMD" and len(rest.split(None, 1)) < 2:
            raise _error(path, i.line, "HEALTHCHECK CMD requires a command")
    if cmd in ("ENV", "LABEL") and "=" not in args.split(None, 1)[0] and len(args.split(None, 1)) < 2:
        raise _error(path, i.line, f"{cmd} must have two arguments: {cmd} KEY=VALUE (or KEY VALUE)")


def parse(text: str, path: str = "Containerfile") -> Containerfile:
    """Parse a whole Containerfile; ConfigError (``file:line: ...``) on bad syntax."""
    lines = text.splitlines()
    escape, start = _directives(lines, path)
    meta: list[Instruction] = []
    stages: list[Stage] = []
    names: set[str] = set()
    src = _Lines(lines, start, escape, path)
    while True:
        got = src.next()
        if got is None:
            break
        line, logical = got
        instr = parse_instruction(logical, line, path)
        if instr.cmd in ("RUN", "COPY", "ADD") and instr.json is None:
            for m in _HEREDOC.finditer(instr.args):
                body = src.heredoc(m.group(3), m.group(1) == "-", line)
                instr.heredocs.append(Heredoc(m.group(3), body, not m.group(2), m.group(0)))
        if instr.cmd == "FROM":
            words = instr.args.split()
            name = None
            if len(words) == 3:
                name = words[2].lower()
                if not re.fullmatch(r"[a-z][a-z0-9_.-]*", name):
                    raise _error(path, line, f"invalid stage name {words[2]!r}: use letters, "
                                             "digits, '_', '.' and '-', starting with a letter")
                if name in names:
                    raise _error(path, line, f"duplicate stage name {words[2]!r}")
                names.add(name)
            stages.append(Stage(len(stages), words[0], name, instr))
        elif not stages:
            if instr.cmd != "ARG":
                raise _error(path, line, f"{instr.cmd} before the first FROM: only ARG may "
                                         "come before FROM")
            meta.append(instr)
        else:
            stages[-1].instructions.append(instr)
    if not stages:
        raise ConfigError("no FROM instruction: a Containerfile must start with FROM "
                          "(after optional ARGs)", where=path)
    return Containerfile(path, escape, meta, stages)
