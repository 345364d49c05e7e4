"""Tests of code coverage (``sim/flow/coverage.py``, ``d1core coverage``).

Layers: Verilator's coverage.dat read, merged and written back (escapes, hierarchies); the map
from Yosys's Verilog lines to Amaranth lines on a hand-written module (every rule of the
module's docstring, and what is left out); a block's figures, its lcov tracefile and its
markdown, exactly; the runner's normal path left as it was without ``D1CORE_COVERAGE`` (and
Icarus with it), with a recording stand-in for cocotb's runner; the Verilog with source
attributes; and one real coverage run on Verilator of a tiny design whose ``m.Elif`` the test
never takes, mapped back to the lines of this file.
"""

import inspect
from pathlib import Path

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.commands import coverage as coverage_command
from sim.flow import coverage, runner, toolchain
from sim.flow.build import Design, source_attributes

ROOT = toolchain.ROOT

# --- coverage.dat ------------------------------------------------------------------------------


def _key(**fields):
    return "".join(f"\x01{k}\x02{v}" for k, v in fields.items())


def _record(count, *, hier="top", **fields):
    return f"C '{_key(**fields)}\x01h\x02{hier}' {count}\n"


def test_read_dat_drops_hierarchy_and_undoes_escapes(tmp_path):
    path = tmp_path / "a.dat"
    path.write_text("# SystemC::Coverage-3\n"
                    + _record(3, f="/x/a%25b.v", l=7, o="block", page="v_line/top")
                    + _record(4, hier="top.u1", f="/x/a.v", l=9, page="v_toggle/m", o="x:0->1")
                    + _record(5, hier="top.u2", f="/x/a.v", l=9, page="v_toggle/m", o="x:0->1"))
    points = coverage.read_dat(path)
    # The two instances' records of one point are one point (hierarchy dropped), summed.
    assert points == {_key(f="/x/a%25b.v", l=7, o="block", page="v_line/top"): 3,
                      _key(f="/x/a.v", l=9, page="v_toggle/m", o="x:0->1"): 9}
    first = coverage.Point.of(*next(iter(points.items())))
    assert first == coverage.Point("/x/a%b.v", 7, "line", "block", 3)


def test_merge_sums_every_point_and_write_dat_round_trips(tmp_path):
    a, b = tmp_path / "a.dat", tmp_path / "b.dat"
    a.write_text("# SystemC::Coverage-3\n" + _record(1, f="f.v", l=1, page="v_line/m")
                 + _record(0, f="f.v", l=2, page="v_line/m"))
    b.write_text("# SystemC::Coverage-3\n" + _record(2, hier="other", f="f.v", l=1,
                                                     page="v_line/m")
                 + _record(7, f="g.v", l=5, page="v_toggle/m", o="y[3]:1->0"))
    merged = coverage.merge([a, b])
    assert merged == {_key(f="f.v", l=1, page="v_line/m"): 3,
                      _key(f="f.v", l=2, page="v_line/m"): 0,
                      _key(f="g.v", l=5, page="v_toggle/m", o="y[3]:1->0"): 7}
    out = tmp_path / "merged.dat"
    coverage.write_dat(merged, out)
    assert coverage.read_dat(out) == merged


def test_read_dat_refuses_other_files(tmp_path):
    path = tmp_path / "x.dat"
    path.write_text("hello\n")
    with pytest.raises(ValueError, match=r"x\.dat: not a Verilator coverage file"):
        coverage.read_dat(path)
    path.write_text("# SystemC::Coverage-3\nC 'broken\n")
    with pytest.raises(ValueError, match=r"x\.dat:2: not a coverage record"):
        coverage.read_dat(path)


def test_toggle_signal_names_are_unescaped():
    def signal(comment):
        return coverage.Point("f.v", 1, "toggle", comment, 0).signal

    assert signal("port__02487__0240[3]:1->0") == "port$87$0"
    assert signal("__0241:0->1") == "$1"
    assert signal("data[12]:0->1") == "data"
    assert coverage.Point("f.v", 1, "line", "if", 0).signal is None


# --- Verilog lines to Amaranth lines -----------------------------------------------------------

SRC = f"{ROOT}/hw/x.py"
LIB = "/venv/lib/python3.11/site-packages/amaranth/lib/fifo.py"

#: A module as Yosys writes Amaranth's Verilog (with simulation_verilog's time-0 lines), line by
#: line; the numbers are what the points below name.
VERILOG = [
    '(* top =  1  *)',                                                      # 1
    f'(* src = "{SRC}:10" *)',                                              # 2
    'module top(a, o);',                                                    # 3
    "  reg \\d1c$time0 = 1'h0;",                                           # 4
    "  initial #0 \\d1c$time0 = 1'h1;",                                    # 5
    f'  (* src = "{SRC}:11" *)',                                            # 6
    '  input [3:0] a;',                                                     # 7
    '  wire [3:0] a;',                                                      # 8
    '  (* enum_base_type = "E" *)',                                         # 9
    f'  (* src = "{SRC}:12" *)',                                            # 10
    '  output [1:0] o;',                                                    # 11
    '  reg [1:0] o;',                                                       # 12
    '  wire \\$1 ;',                                                        # 13
    '  wire \\$2 ;',                                                        # 14
    '  wire copy;',                                                         # 15
    f"  assign \\$1  = a == (* src = \"{SRC}:20\" *) 4'h3;",                # 16
    f"  assign \\$2  = a == (* src = \"{LIB}:22|{SRC}:5\" *) 4'h5;",         # 17
    '  assign copy = \\$1 ;',                                               # 18
    f'  (* src = "{SRC}:30" *)',                                            # 19
    '  \\top.sub  sub (',                                                   # 20
    '    .a(a)',                                                            # 21
    '  );',                                                                 # 22
    '  always @* begin',                                                    # 23
    '    if (\\d1c$time0 ) begin end',                                      # 24
    "    (* full_case = 32'd1 *)",                                          # 25
    '    if (\\$1 ) begin',                                                 # 26
    "      o = 2'h1;",                                                      # 27
    '    end else if (\\$2 ) begin',                                        # 28
    "      o = 2'h2;",                                                      # 29
    '    end else begin',                                                   # 30
    "      o = 2'h0;",                                                      # 31
    '    end',                                                              # 32
    '  end',                                                                # 33
    'endmodule',                                                            # 34
    '',                                                                     # 35
    f'(* src = "{SRC}:40" *)',                                              # 36
    'module \\top.sub (a);',                                                # 37
    f'  (* src = "{SRC}:41" *)',                                            # 38
    '  input [3:0] a;',                                                     # 39
    '  wire [3:0] a;',                                                      # 40
    'endmodule',                                                            # 41
    f'(* src = "{SRC}:50" *)',                                              # 42
    'module topper(b);',                                                    # 43
    f'  (* src = "{SRC}:51" *)',                                            # 44
    '  input b;',                                                           # 45
    'endmodule',                                                            # 46
]

FILE = "/build/rtl/top.sim.v"


def _point(line, count, comment, kind="line"):
    page = "v_toggle/top" if kind == "toggle" else "v_line/top"
    return _key(f=FILE, l=line, page=page, o=comment), count


POINTS = dict([
    _point(7, 2, "a[0]:0->1", "toggle"),      # a port: its declaration's attribute
    _point(7, 0, "a[2]:0->1", "toggle"),
    _point(13, 1, "__0241:0->1", "toggle"),   # $1: no attribute; its assign's operator
    _point(15, 0, "copy:1->0", "toggle"),     # copy = $1: followed to $1's operator
    _point(4, 1, "d1c__024time0:0->1", "toggle"),  # the flow's own: left out
    _point(23, 5, "block"),                   # the always block: o's declaration
    _point(24, 9, "if"),                      # the flow's own: left out
    _point(26, 3, "elsif"),                   # if ($1): $1's operator
    _point(28, 0, "if"),                      # else if ($2): $2's operator, first location
    _point(28, 2, "else"),
    _point(39, 1, "a[0]:0->1", "toggle"),     # the submodule top.sub: the block's too
    _point(45, 0, "b:0->1", "toggle"),        # module topper: another block (not top.*)
])


def _block():
    return coverage.block_coverage(POINTS, "top", read={FILE: "\n".join(VERILOG)}.__getitem__)


def test_points_find_their_amaranth_lines():
    got = {where: (sorted(c.lines), sorted(c.toggles)) for where, c in _block().items()}
    assert got == {
        ("hw/x.py", 11): ([], [("a", "a[0]:0->1", 2), ("a", "a[2]:0->1", 0)]),
        ("hw/x.py", 12): ([5], []),
        ("hw/x.py", 20): ([3], [("$1", "__0241:0->1", 1), ("copy", "copy:1->0", 0)]),
        (LIB, 22): ([0, 2], []),  # a library's path kept
        ("hw/x.py", 41): ([], [("a", "a[0]:0->1", 1)]),
    }


def test_a_line_without_a_rule_takes_the_nearest_attribute_above():
    source = coverage.VerilogSource("\n".join(VERILOG))
    assert source.module_of(21) == "top" and source.module_of(39) == "top.sub"
    assert source.module_of(35) is None
    # A point on the instance's port line: no rule applies, the instance's attribute is nearest.
    assert source.locate(coverage.Point(FILE, 21, "line", "block", 1)) == ("hw/x.py", 30)
    assert source.locate(coverage.Point(FILE, 35, "line", "block", 1)) is None


def test_a_flip_flops_block_takes_its_own_attribute():
    text = "\n".join([
        'module m(clk, d);',                                 # 1
        '  input clk;',                                      # 2
        f'  (* src = "{SRC}:7" *)',                          # 3
        '  reg q;',                                          # 4
        f'  (* src = "{SRC}:9" *)',                          # 5
        '  always @(posedge clk)',                           # 6
        '    q <= d;',                                       # 7
        '  always @(posedge clk)',                           # 8
        '    q <= d;',                                       # 9
        'endmodule'])
    source = coverage.VerilogSource(text)
    assert source.locate(coverage.Point(FILE, 6, "line", "block", 1)) == ("hw/x.py", 9)
    # Without an attribute of its own: the declaration of what it assigns.
    assert source.locate(coverage.Point(FILE, 8, "line", "block", 1)) == ("hw/x.py", 7)


def test_summary_markdown_and_lcov_of_a_block(tmp_path):
    cov = _block()
    figures = coverage.summary(cov)
    assert figures == {
        "lines": 3, "lines_hit": 2, "toggles": 5, "toggles_hit": 3, "toggles_constant": 0,
        "files": {
            LIB: {"lines": 1, "lines_hit": 0, "toggles": 0, "toggles_hit": 0,
                  "toggles_constant": 0, "uncovered": [22], "untoggled": []},
            "hw/x.py": {"lines": 2, "lines_hit": 2, "toggles": 5, "toggles_hit": 3,
                        "toggles_constant": 0, "uncovered": [], "untoggled": [11, 20]}}}
    text = coverage.markdown(figures, module="top", tests="`pytest t.py -k verilator`")
    assert "Line coverage **66.7 %** (2 of 3 Amaranth lines" in text
    assert "toggle coverage **60.0 %** (3 of 5 points" in text
    assert "| `amaranth/lib/fifo.py` | 1 | 0.0 % | 0 | - | 22 | - |" in text
    assert "| `hw/x.py` | 2 | 100.0 % | 5 | 60.0 % | - | 11, 20 |" in text
    info = tmp_path / "top.info"
    coverage.write_info(cov, info, test="blk.top")
    records = info.read_text().split("end_of_record\n")
    assert records[0] == ("TN:blk_top\nSF:" + LIB
                          + "\nBRF:0\nBRH:0\nDA:22,0\nLF:1\nLH:0\n")
    assert records[1] == ("TN:blk_top\nSF:" + str(ROOT / "hw/x.py") + "\n"
                          "BRDA:11,0,0,2\nBRDA:11,0,1,0\nBRDA:20,0,0,1\nBRDA:20,0,1,0\n"
                          "BRDA:41,0,0,1\nBRF:5\nBRH:3\nDA:12,5\nDA:20,3\nLF:2\nLH:2\n")
    assert records[2] == ""
    coverage.write_info(cov, info, test="blk.top", number=3)
    assert "BRDA:11,3,0,2\nBRDA:11,3,1,0\n" in info.read_text()


def test_ranges_of_uncovered_lines():
    assert coverage._ranges([9, 3, 4, 5, 12, 13]) == "3-5, 9, 12-13"
    assert coverage._ranges([]) == ""


def test_unknown_block_is_refused():
    with pytest.raises(ValueError, match=r"^no coverage tests for block 'fp\.nope'; expected "
                       r"one of fp\.convert, "):
        coverage.check_blocks(["fp.nope"])
    assert coverage.check_blocks([]) == list(coverage.blocks())
    assert coverage.check_blocks(["sram.ecc_decoder", "fp.fma", "fp.fma"]) == [
        "sram.ecc_decoder", "fp.fma"]


def test_command_refuses_an_unknown_block_and_a_report_without_counts(monkeypatch, tmp_path):
    from sim.commands._common import UsageError

    parser = coverage_command.add_parser(__import__("argparse").ArgumentParser()
                                         .add_subparsers())
    with pytest.raises(UsageError, match=r"^no coverage tests for block 'x\.y'"):
        coverage_command.main(parser.parse_args(["x.y"]))
    monkeypatch.setattr(coverage, "OUT", tmp_path)
    with pytest.raises(UsageError, match=r"^no coverage counts in .*dat: run the tests first$"):
        coverage_command.main(parser.parse_args(["fp.fma", "--report-only", "--no-write"]))


# --- the runner: the normal path unchanged; the coverage build -------------------------------

class Classify(wiring.Component):
    """o = 1 when a == 3, 2 when a == 5, else 0 (tests/sim/tb_coverage.py never gives 5);
    k = a & 3, so that k[2] and k[3] are constant 0 by construction."""

    def __init__(self):
        super().__init__({"a": In(4), "o": Out(2), "k": Out(4)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.k.eq(self.a & 0b0011)
        with m.If(self.a == 3):
            m.d.comb += self.o.eq(1)
        with m.Elif(self.a == 5):
            m.d.comb += self.o.eq(2)
        with m.Else():
            m.d.comb += self.o.eq(0)
        return m


DESIGN = Design.of("cov_classify", Classify)


class _Recorder:
    """Stands for cocotb's runner: records the build's and the test's arguments, and writes a
    passing results file."""

    def __init__(self):
        self.build_kw = self.test_kw = None

    def build(self, **kw):
        self.build_kw = kw

    def test(self, **kw):
        self.test_kw = kw
        Path(kw["results_xml"]).write_text(
            '<testsuites><testsuite><testcase name="t"/></testsuite></testsuites>')
        return kw["results_xml"]


def _record_run(monkeypatch, tmp_path, sim):
    from cocotb_tools import runner as cocotb_runner

    rec = _Recorder()
    monkeypatch.setattr(cocotb_runner, "get_runner", lambda name: rec)
    runner.run_cocotb(DESIGN, "tests.sim.tb_coverage", sim, test_dir=tmp_path / "run",
                      quiet=True)
    return rec


def test_without_coverage_the_runner_is_unchanged(monkeypatch, tmp_path):
    monkeypatch.delenv(coverage.COVERAGE_ENV, raising=False)
    rec = _record_run(monkeypatch, tmp_path, "verilator")
    assert rec.build_kw["build_dir"] == toolchain.BUILD / "sim" / f"{DESIGN.stem}-verilator"
    assert rec.build_kw["build_args"] is runner.VERILATOR_ARGS
    assert rec.build_kw["build_args"] == [
        "-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial",
        "fast", "--no-public-flat-rw", "--hierarchical", "--no-timing"]
    assert rec.build_kw["sources"][-1] == str(toolchain.BUILD / "rtl" / f"{DESIGN.stem}.sim.v")
    assert rec.test_kw["plusargs"] == []


def test_with_coverage_verilator_builds_apart_and_writes_counts(monkeypatch, tmp_path):
    monkeypatch.setenv(coverage.COVERAGE_ENV, str(tmp_path / "cov"))
    rec = _record_run(monkeypatch, tmp_path, "verilator")
    assert rec.build_kw["build_dir"] == (toolchain.BUILD / "sim" /
                                         f"{DESIGN.stem}-verilator-cov")
    # Without --hierarchical: its blocks' points come out wrong (coverage.verilator_args).
    assert rec.build_kw["build_args"] == [
        "-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial",
        "fast", "--no-public-flat-rw", "--no-timing", "--coverage-line", "--coverage-toggle"]
    assert rec.build_kw["sources"][-1] == str(toolchain.BUILD / "rtl" /
                                              f"{DESIGN.stem}.src.sim.v")
    [plusarg] = rec.test_kw["plusargs"]
    prefix = "+verilator+coverage+file+"
    assert plusarg.startswith(prefix)
    counts = Path(plusarg[len(prefix):])
    assert counts.parent == tmp_path / "cov" and counts.name.startswith(f"{DESIGN.stem}-")
    # Each run its own file.
    again = _record_run(monkeypatch, tmp_path, "verilator")
    assert again.test_kw["plusargs"] != rec.test_kw["plusargs"]


def test_with_coverage_icarus_is_unchanged(monkeypatch, tmp_path):
    monkeypatch.setenv(coverage.COVERAGE_ENV, str(tmp_path / "cov"))
    rec = _record_run(monkeypatch, tmp_path, "icarus")
    assert rec.build_kw["build_dir"] == toolchain.BUILD / "sim" / f"{DESIGN.stem}-icarus"
    assert rec.build_kw["sources"] == [str(toolchain.BUILD / "rtl" / f"{DESIGN.stem}.sim.v")]
    assert rec.test_kw["plusargs"] == []
    assert not (tmp_path / "cov").exists()


def test_source_attributes_only_in_the_src_verilog():
    plain, src = DESIGN.verilog(), DESIGN.verilog(src=True)
    assert plain.name == f"{DESIGN.stem}.v" and src.name == f"{DESIGN.stem}.src.v"
    assert "(* src =" not in plain.read_text()
    assert f'(* src = "{Path(__file__).resolve()}:' in src.read_text()
    assert DESIGN.simulation_verilog() == plain.with_suffix(".sim.v")
    with source_attributes():
        assert DESIGN.simulation_verilog() == src.with_suffix(".sim.v")
    assert DESIGN.simulation_verilog() == plain.with_suffix(".sim.v")
    # The same design but for the attributes: the ports and the modules agree.
    assert DESIGN.verilog(src=True).read_text().count("module ") == \
        plain.read_text().count("module ")


def _line_of(text):
    source, start = inspect.getsourcelines(Classify)
    [offset] = [i for i, line in enumerate(source) if text in line]
    return ("tests/sim/test_coverage.py", start + offset)


def test_coverage_run_on_verilator_maps_to_these_lines(monkeypatch, tmp_path):
    monkeypatch.setenv(coverage.COVERAGE_ENV, str(tmp_path / "cov"))
    runner.run_cocotb(DESIGN, "tests.sim.tb_coverage", "verilator", test_dir=tmp_path / "run",
                      quiet=True)
    [dat] = (tmp_path / "cov").glob("*.dat")
    cov = coverage.block_coverage(coverage.merge([dat]), DESIGN.name)
    taken, never = _line_of("m.If(self.a == 3)"), _line_of("m.Elif(self.a == 5)")
    assert cov[taken].count > 0
    assert cov[never].count == 0  # its "if" arm never taken
    figures = coverage.summary(cov)["files"]["tests/sim/test_coverage.py"]
    assert figures["uncovered"] == [never[1]]
    # a[2] and a[3] never rise, so neither does o[1]: untoggled bits on the ports' line.
    ports = _line_of('super().__init__({"a": In(4), "o": Out(2), "k": Out(4)})')
    assert ports[1] in figures["untoggled"]
    # k[2] and k[3] are proved constant: their four points are left out, and only those.
    constant = coverage.constant_bits(DESIGN, workdir=toolchain.BUILD / "tests" / "constants")
    assert constant[(DESIGN.name, "k")] == {2, 3}
    assert (DESIGN.name, "a") not in constant and (DESIGN.name, "o") not in constant
    kept = coverage.block_coverage(coverage.merge([dat]), DESIGN.name, constant=constant)
    left_out = [t for c in kept.values() for t in c.constant]
    assert sorted(t[1] for t in left_out) == ["k[2]:0->1", "k[2]:1->0", "k[3]:0->1",
                                              "k[3]:1->0"]
    with_k = coverage.summary(kept)
    assert with_k["toggles_constant"] == 4
    assert with_k["toggles"] == coverage.summary(cov)["toggles"] - 4
    assert with_k["toggles_hit"] == coverage.summary(cov)["toggles_hit"]


def test_a_constant_bit_that_toggled_is_kept():
    """Only untoggled points are left out: Verilator counts a bit that is constant 1 as rising
    once at time 0, and that point stays a hit."""
    text = "\n".join(["module top(q);", '  (* src = "hw/x.py:3" *)', "  output q;",
                      "  wire q;", "  assign q = 1'h1;", "endmodule"])
    points = dict([_point(3, 1, "q:0->1", "toggle"), _point(3, 0, "q:1->0", "toggle")])
    cov = coverage.block_coverage(points, "top", read={FILE: text}.__getitem__,
                                  constant={("top", "q"): frozenset({0})})
    [line] = cov.values()
    assert [t[1] for t in line.toggles] == ["q:0->1"]
    assert [t[1] for t in line.constant] == ["q:1->0"]
