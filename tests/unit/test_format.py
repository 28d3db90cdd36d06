"""Go-template-ish output formatting, as Podman users script it."""

from __future__ import annotations

import io

from podium.cli.format import align, emit, header_for, render

ROW = {"Names": "web", "ID": "abc", "Labels": {"app": "x"}, "State": {"Status": "running"}, "Ports": [1, 2]}


def test_fields_and_functions() -> None:
    assert render("{{.Names}} {{.ID}}", ROW) == "web abc"
    assert render("{{.State.Status}}", ROW) == "running"
    assert render('{{index .Labels "app"}}', ROW) == "x"
    assert render("{{json .Labels}}", ROW) == '{"app": "x"}'
    assert render("{{upper .Names}}\\t{{len .Ports}}", ROW) == "WEB\t2"


def test_table_header_and_alignment() -> None:
    assert header_for("{{.ID}}\\t{{.Names}}") == "ID\tNAMES"
    out = io.StringIO()
    emit([ROW, {**ROW, "ID": "abcdef"}], "table {{.ID}}\\t{{.Names}}", out=out)
    assert out.getvalue().splitlines() == ["ID      NAMES", "abc     web", "abcdef  web"]


def test_json_output() -> None:
    out = io.StringIO()
    emit([{"a": 1}], "json", out=out)
    assert '"a": 1' in out.getvalue()


def test_align_pads_columns() -> None:
    assert align(["a\tbb", "ccc\td"]) == "a    bb\nccc  d\n"
