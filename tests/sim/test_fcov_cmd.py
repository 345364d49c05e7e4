"""Tests of ``d1core coverage --functional`` (``sim/commands/_fcov.py``): the blocks and their
test selection (code coverage's), the run (tests with ``D1CORE_FCOV`` set, the databases merged,
a section per block and its figures written), its printed lines and page, exactly, on a group
of this file's own with a stand-in for the pytest run; and its refusals of bad input, with
their exact messages: an unknown block, no database, a database that is not one.
"""

import argparse
import json
import os

import pytest

from sim.commands import _fcov
from sim.commands import coverage as coverage_command
from sim.commands._common import UsageError
from sim.flow import coverage
from verif import fcov


def _parser():
    return coverage_command.add_parser(argparse.ArgumentParser().add_subparsers())


def test_blocks_are_the_groups_with_code_coverage_selections():
    known = coverage.blocks()
    assert list(_fcov.blocks()) == ["fp.convert", "fp.fma", "vector.unit", "sram.slice",
                                    "sram.ecc_decoder", "scalar.core"]
    assert _fcov.blocks()["fp.convert"] == known["fp.convert"][1]
    # The vector unit's model is sampled by the tests of the block vector.lane.
    assert _fcov.blocks()["vector.unit"] == known["vector.lane"][1]
    assert _fcov.check_blocks([]) == list(_fcov.blocks())
    assert _fcov.check_blocks(["fp.fma", "fp.fma"]) == ["fp.fma"]


def test_command_refuses_an_unknown_block(monkeypatch, tmp_path):
    monkeypatch.setattr(_fcov, "OUT", tmp_path)
    with pytest.raises(UsageError, match=r"^no functional coverage for block 'noc\.router'; "
                                         r"expected one of fp\.convert, fp\.fma, vector\.unit, "
                                         r"sram\.slice, sram\.ecc_decoder, scalar\.core$"):
        coverage_command.main(_parser().parse_args(["--functional", "noc.router"]))


def test_command_refuses_a_report_without_databases_and_a_bad_database(monkeypatch, tmp_path):
    monkeypatch.setattr(_fcov, "OUT", tmp_path)
    args = _parser().parse_args(["--functional", "fp.fma", "--report-only", "--no-write"])
    with pytest.raises(UsageError, match=r"^no functional coverage databases in .*dat: run the "
                                         r"tests first$"):
        coverage_command.main(args)
    (tmp_path / "dat").mkdir()
    (tmp_path / "dat" / "fcov-x.yml").write_text("top: {size: 1}\n")
    with pytest.raises(UsageError, match=r"fcov-x\.yml: not a d1core functional coverage "
                                         r"database \(no 'd1core' items\)$"):
        coverage_command.main(args)


def _group():
    return fcov.Group(
        "t.cmd", "a test transaction",
        points=(fcov.Point("op", ("add", "sub"), "the operation"),
                fcov.Point("flags", ("none", "x"), "flags", multi=True)),
        crosses=(fcov.Cross("op_flags", ("op", "flags"), "op and flags",
                            lambda c: "sub always raises x" if c == {"op": "sub",
                                                                      "flags": "none"}
                            else None),))


def test_run_merges_the_databases_and_writes_a_section(monkeypatch, tmp_path):
    group = _group()
    selection = coverage.Selection(("tests/t/test_x.py",))
    monkeypatch.setitem(fcov.GROUPS, "t.cmd", group)
    monkeypatch.setattr(_fcov, "blocks", lambda: {"t.cmd": selection})
    monkeypatch.setattr(_fcov, "OUT", tmp_path / "out")
    page = tmp_path / "coverage.md"
    monkeypatch.setattr(coverage, "PAGE", page)
    runs = []

    def fake_run_tests(sel, dat, *, jobs, log, variable):
        # What a test process does with the variable set: sample, and save its database.
        runs.append((sel, jobs, variable))
        monkeypatch.setenv(variable, str(dat))
        fcov.record(group, [("add", frozenset({"none"})), ("sub", frozenset({"x"}))])
        monkeypatch.delenv(variable)
        return 0

    monkeypatch.setattr(coverage, "run_tests", fake_run_tests)
    lines = []
    reports, failed = _fcov.run(["t.cmd"], jobs=2, command="d1core coverage --functional t.cmd",
                                say=lines.append)
    assert runs == [(selection, 2, "D1CORE_FCOV")] and failed == []
    assert lines[1:] == ["t.cmd: 85.7 % of 7 bins hit", f"written: {page}"]
    assert reports["t.cmd"]["items"]["op_flags"]["holes"] == [("add", "x")]
    text = page.read_text()
    assert "## t.cmd: functional coverage" in text
    assert "_Command: `d1core coverage --functional t.cmd`._" in text
    assert ("A sample: a test transaction. Bins hit **85.7 %** (6 of 7). Tests: "
            "`pytest tests/t/test_x.py -k verilator`.") in text
    assert "| `op_flags` | cross | 3 | 2 | 66.7 % |" in text
    assert "- `op_flags`: add × x" in text
    assert "- `flags`: flags; several a sample: `none`, `x`" in text
    assert ("- `op_flags` = `op` × `flags`: op and flags; 3 bins, excluded: sub always raises x "
            "(1)") in text
    figures = json.loads(page.with_suffix(".json").read_text())["t-cmd-functional"]["figures"]
    assert figures["bins"] == 7 and figures["hit"] == 6
    assert figures["items"]["op_flags"] == {"bins": 3, "hit": 2, "holes": [["add", "x"]]}
    # --report-only reads the same databases again, running nothing.
    runs.clear()
    reports2, _ = _fcov.run(["t.cmd"], tests=False, write=False, command="x", say=lines.append)
    assert runs == [] and reports2 == reports
    assert os.environ.get("D1CORE_FCOV") is None
