"""``d1core bench --only regression`` (``sim.bench.regression``): its reading of pytest's output,
and a real run of a one-test tier in a fresh copy (the whole tiers are the bench's, half an hour
and more)."""

import pytest

from sim.bench import BenchError, regression

OUTPUT = """\
........                                                                 [100%]
============================== slowest durations ===============================
120.50s call     tests/core/test_core.py::test_isa_tests[verilator-add]@build-core-small-verilator
2.00s setup    tests/core/test_core.py::test_isa_tests[verilator-add]@build-core-small-verilator
0.50s call     tests/fp/test_model_formats.py::test_one
0.25s teardown tests/fp/test_model_formats.py::test_one

(5 durations < 0.005s hidden.  Use -vv to show these durations.)
================= 7 passed, 1 skipped, 2 warnings in 64.25s (0:01:04) ==================
"""


def test_parse_counts_wall_and_busy_per_test():
    """Busy time adds setup, call and teardown per test, with xdist's group suffix removed
    (one test, not two); the counts and the wall time are pytest's last line's."""
    summary, wall, busy = regression.parse(OUTPUT)
    assert summary == {"passed": 7, "skipped": 1, "warnings": 2}
    assert wall == 64.25
    assert busy == {"tests/core/test_core.py::test_isa_tests[verilator-add]": 122.5,
                    "tests/fp/test_model_formats.py::test_one": 0.75}


def test_quiet_summary_and_no_tests():
    assert regression.parse("....\n3 passed, 1 failed in 9.50s\n")[:2] == (
        {"passed": 3, "failed": 1}, 9.5)
    assert regression.parse("\n===== no tests ran in 0.50s =====\n")[:2] == ({}, 0.5)


def test_output_without_a_summary_is_an_error():
    with pytest.raises(BenchError, match="no summary line"):
        regression.parse("INTERNALERROR> something broke\n")


def test_a_tier_runs_in_a_fresh_copy(monkeypatch):
    """A one-test tier: run by pytest-xdist in a copy of the project, passed, timed (the
    test's setup, call and teardown, under the wall time of both workers); a tier that runs no
    test gives no figure."""
    monkeypatch.setitem(regression.TIERS, "one", ["-k", "test_random_arguments"])  # 0.3 s
    monkeypatch.setitem(regression.BUDGET, "one", 60)
    r = regression.run_tier("one")
    assert r["passed"] == 1 and r["jobs"] == regression.JOBS == 2
    assert 0 < r["busy_s"] <= r["wall_s"] * r["jobs"] and r["wall_s"] <= r["elapsed_s"]
    assert [t for t, _ in r["longest"]] == [
        "tests/sim/test_bad_input_properties.py::test_random_arguments"]
    monkeypatch.setitem(regression.TIERS, "none", ["-k", "no_test_has_this_name"])
    monkeypatch.setitem(regression.BUDGET, "none", 60)
    with pytest.raises(BenchError, match="the none tier did not pass"):
        regression.run_tier("none")


def test_section_says_whether_the_tier_is_within_budget():
    r = {"tier": "test", "passed": 2500, "wall_s": 1700.0, "busy_s": 3300.0, "jobs": 2,
         "budget_s": 1800, "longest": [("tests/a.py::t", 400.0)]}
    assert "| `make test` | 2,500 | 28 min 20 s | 3,300 s | 97% | 30 min 00 s | yes |" \
        in regression.section(r)
    assert "| `tests/a.py::t` | 400.0 |" in regression.section(r)
    r.update(tier="check", passed=300, wall_s=320.0, busy_s=600.0, budget_s=300)
    assert "| `make check` | 300 | 5 min 20 s | 600 s | 94% | 5 min 00 s | **no** |" \
        in regression.section(r)


def test_tier_is_an_option_of_the_regression_part_only(capsys):
    from sim.cli import main

    assert main(["bench", "--only", "core", "--tier", "check"]) == 2
    assert "--tier is an option of --only regression" in capsys.readouterr().err


def test_minutes_round_to_whole_seconds_first():
    assert regression._minutes(299.6) == "5 min 00 s"
    assert regression._minutes(1738.57) == "28 min 59 s"
    assert regression._minutes(59.4) == "0 min 59 s"


def test_fresh_env_keeps_nothing_of_this_tree(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", "/this/tree")
    monkeypatch.setenv("D1CORE_BUILD", "/this/build")
    monkeypatch.setenv("VIRTUAL_ENV", "/this/.venv")
    copy = regression.fresh_env(tmp_path)        # this interpreter on the copy's packages
    assert copy["PYTHONPATH"] == str(tmp_path) and "D1CORE_BUILD" not in copy
    assert copy["VIRTUAL_ENV"] == "/this/.venv"
    shell = regression.fresh_env()               # a user's shell in the copy (make)
    assert not {"PYTHONPATH", "D1CORE_BUILD", "VIRTUAL_ENV"} & set(shell)
