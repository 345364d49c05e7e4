"""The measured figures the model stands on: read from the benches' JSON, or their tables.

Every bench part writes its section of ``docs/results.md`` and, since the model exists, the same
figures as JSON in ``docs/results.json`` (``sim.flow.report.update_section``'s ``figures``; one
entry per section key: ``title``, ``date``, ``machine``, ``command``, ``figures``). A section
measured before that has no JSON entry yet: its tables are then parsed from ``docs/results.md``
(the same numbers, as printed, so to their printed precision). :func:`load` returns one
:class:`Section` per key with its ``source`` (``"results.json"`` or ``"results.md"``) and the
figures normalized to one shape whichever the source (the ``normalize_*`` functions), so the
model never sees the difference.

:func:`staleness` compares a section's date with the last commit of the block package it
measures (``git log``): a figure older than its block's code is *stale*.
"""

import datetime
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROOT", "RESULTS_MD", "RESULTS_JSON", "Section", "REQUIRED", "PROGRAMS", "block_of",
           "load",
           "parse_sections", "markdown_tables", "staleness", "FiguresError"]

ROOT = Path(__file__).resolve().parents[2]
RESULTS_MD = ROOT / "docs" / "results.md"
RESULTS_JSON = ROOT / "docs" / "results.json"

#: The sections the model reads, and what it takes from each.
REQUIRED = {
    "bench-matmul": "matrix engine cycles against K (D1 and SMALL): the GEMM check",
    "bench-vector": "vector unit requests per cycle per operation class, latency",
    "bench-sram": "scratchpad port rates and random-address bank-conflict rates",
    "bench-scalar": "scalar core IPC, one and four threads",
    "noc-4x4-uniform-v1": "zero-load latency fit point (4x4 uniform, 1 VC)",
    "noc-4x4-uniform-v2": "router zero-load latency, saturation (4x4 uniform, 2 VCs)",
    "noc-4x4-transpose-v2": "router saturation under transpose (4x4, 2 VCs)",
    "noc-8x8-uniform-v1": "load-latency curve, 8x8 uniform, 1 VC, depth 4",
    "noc-8x8-uniform-v2": "load-latency curve, 8x8 uniform, 2 VCs, depth 4 (the default)",
    "noc-8x8-uniform-v2-d8": "load-latency curve, 8x8 uniform, 2 VCs, depth 8",
    "noc-8x8-uniform-v2-d16": "load-latency curve, 8x8 uniform, 2 VCs, depth 16",
    "noc-8x8-transpose-v2": "load-latency curve, 8x8 transpose, 2 VCs",
    "bench-core": "GEMM kernels on one D1 core (engine layout, row-major, epilogue)",
    "bench-core-layernorm": "layer normalisation on the D1 core's vector unit",
    "bench-mesh-gemm": "SUMMA on meshes of D1 cores",
    "bench-mesh-allreduce": "all-reduce on the 2x2 SMALL mesh (piece sizes, a dead core)",
    "bench-mesh-train": "the data-parallel training step on the 2x2 SMALL mesh",
}

#: The sections of whole programs (:mod:`.kernels`): read from ``docs/results.json`` only (their
#: benches wrote it from their first run), each a list of runs under one key.
PROGRAMS = {"bench-core": ("gemm", "gemm_rm"), "bench-core-layernorm": ("layernorm",),
            "bench-mesh-gemm": ("gemm",), "bench-mesh-allreduce": ("allreduce",),
            "bench-mesh-train": ("train",)}


class FiguresError(ValueError):
    """A section the model needs is missing or cannot be read."""


@dataclass
class Section:
    """One measured section: ``key``, ``date`` (``YYYY-MM-DD HH:MM UTC``), ``command``,
    ``source`` (the file it came from) and ``figures`` (normalized, see the module doc)."""
    key: str
    date: str
    command: str
    source: str
    figures: dict = field(repr=False)

    @property
    def when(self):
        return datetime.datetime.strptime(self.date, "%Y-%m-%d %H:%M UTC").replace(
            tzinfo=datetime.UTC)


def block_of(key):
    """The hw package a section measures (for staleness)."""
    if key.startswith("noc-"):
        return "hw/noc"
    if key.startswith("bench-core"):
        return "hw/core"
    if key.startswith("bench-mesh"):
        return "verif/mesh/programs"
    return {"bench": "hw/fp", "bench-matmul": "hw/matmul", "bench-vector": "hw/vector",
            "bench-sram": "hw/sram", "bench-scalar": "hw/scalar"}.get(key)


# --- results.md --------------------------------------------------------------------------------

_SECTION = re.compile(r"<!-- BEGIN ([a-z0-9][a-z0-9_.-]*) -->\n(.*?)<!-- END \1 -->", re.S)
_DATE = re.compile(r"_Measured (\d{4}-\d\d-\d\d \d\d:\d\d UTC) on ")
_COMMAND = re.compile(r"_Command: `([^`]*)`")


def parse_sections(text):
    """``{key: (date, command, body)}`` of every section of a results page."""
    out = {}
    for m in _SECTION.finditer(text):
        body = m.group(2)
        date, command = _DATE.search(body), _COMMAND.search(body)
        out[m.group(1)] = (date.group(1) if date else None,
                           command.group(1) if command else None, body)
    return out


def markdown_tables(body):
    """Every table of a markdown ``body``: a list of lists of row dicts (header -> cell)."""
    tables, lines = [], body.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head = [c.strip() for c in lines[i].strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip("|").split("|")]
                rows.append(dict(zip(head, cells, strict=False)))
                i += 1
            tables.append(rows)
        else:
            i += 1
    return tables


def _num(cell):
    """The first number of a table cell (thousands separators and bold removed)."""
    m = re.search(r"-?\d[\d,]*\.?\d*", cell.replace("*", ""))
    if not m:
        raise FiguresError(f"no number in table cell {cell!r}")
    return float(m.group(0).replace(",", ""))


def _md_matmul(body):
    rows = markdown_tables(body)[0]
    d1, small = [], []
    for r in rows:
        k = int(_num(r["K"]))
        c2, c4 = (int(_num(c)) for c in r["engine cycles 2 / 4 groups"].split("/"))
        d1.append({"k": k, "cycles": [c2, c4], "whole": _num(r["engine whole %"]) / 100,
                   "steady": _num(r["engine steady %"]) / 100})
        small.append({"k": k, "whole": _num(r["unit whole %"]) / 100,
                      "steady": _num(r["unit steady %"]) / 100})
    return {"D1": d1, "SMALL": small}


def _md_vector(body):
    classes = {r["class"]: {"per_cycle": _num(r["requests per cycle"]),
                            "lane_ops": _num(r["lane operations per cycle"])}
               for r in markdown_tables(body)[0]}
    lat = re.search(r"Latency of one request: \*\*(\d+) cycles", body)
    return {"classes": classes, "latency": int(lat.group(1)) if lat else None}


def _md_sram(body):
    tables = markdown_tables(body)
    per_port = {r["port"]: _num(r["line-stride: requests/cycle"]) for r in tables[0]}
    random = {int(_num(r["banks"])): {"measured": _num(r["measured (RTL)"]),
                                       "estimate": _num(r["estimate (model)"]),
                                       "preset": r["preset"]} for r in tables[2]}
    return {"per_port": per_port, "random": random}


def _md_scalar(body):
    runs = []
    for r in markdown_tables(body)[0]:
        runs.append({"program": r["program"], "workers": int(_num(r["workers"])),
                     "threads": int(_num(r["core threads"])), "cycles": int(_num(r["cycles"])),
                     "ipc": _num(r["IPC"])})
    return {"runs": runs}


_NOC_HEAD = re.compile(r"(\d+x\d+) mesh, (\w+) traffic, (\d+) virtual channel\(s\) per class, "
                       r"buffers of (\d+) flits")


def _md_noc(body):
    head = _NOC_HEAD.search(body)
    if not head:
        raise FiguresError("noc section without its mesh/traffic/VC/depth line")
    points = [{"offered": _num(r["offered"]), "accepted": _num(r["accepted"]),
               "latency_avg": _num(r["avg latency"]), "latency_p99": _num(r["p99 latency"]),
               "complete": r["all measured arrived"] == "yes"}
              for r in markdown_tables(body)[0]]
    return _noc(head.group(1), head.group(2), int(head.group(3)), int(head.group(4)), points)


# --- normalization (the shapes the model reads) ------------------------------------------------

def _saturation(points):
    """The noc bench's saturation rule (``sim.bench.noc.saturation``, docs/noc.md "Measuring"):
    the highest offer up to which every rate has all packets arrived, average latency at most 3×
    the lowest rate's and at least 95 % of the offer accepted."""
    points = sorted(points, key=lambda p: p["offered"])
    last = None
    for p in points:
        if not (p["complete"] and p["latency_avg"] <= 3 * points[0]["latency_avg"]
                and p["accepted"] >= 0.95 * p["offered"]):
            break
        last = p
    return {"saturation_rate": last["offered"] if last else None,
            "saturation_throughput": last["accepted"] if last else 0.0,
            "peak_accepted": max(p["accepted"] for p in points)}


def _noc(mesh, traffic, vcs, depth, points):
    width, height = (int(v) for v in mesh.split("x"))
    points = sorted(points, key=lambda p: p["offered"])
    return {"mesh": mesh, "width": width, "height": height, "traffic": traffic, "vcs": vcs,
            "depth": depth, "points": points, **_saturation(points)}


def _json_matmul(f):
    return {preset: [{"k": r["k"], "cycles": list(r["cycles"]), "whole": r["whole"],
                      "steady": r["steady"]} for r in f[preset]] for preset in ("D1", "SMALL")}


def _json_vector(f):
    return {"classes": {n: {"per_cycle": c["per_cycle"], "lane_ops": c["lane_ops"]}
                        for n, c in f["classes"].items()}, "latency": f.get("latency")}


def _json_sram(f):
    return {"per_port": f["streaming"]["streaming"]["per_port"],
            "random": {int(b): v for b, v in f["random"].items()}}


def _json_scalar(f):
    return {"runs": [{"program": r["program"], "workers": r["workers"], "threads": r["threads"],
                      "cycles": r["cycles"], "ipc": sum(r["instret"]) / r["cycles"]}
                     for r in f["ipc"]]}


def _json_noc(f):
    return _noc(f["mesh"], f["traffic"], f["vcs_per_class"], f["depth"], f["points"])


def _json_program(key):
    def read(f):
        return {name: list(f.get(name, [])) for name in PROGRAMS[key]}
    return read


def _kind(key):
    if key in PROGRAMS:
        return key
    if key.startswith("noc-prove"):
        return None
    if key.startswith("noc-"):
        return "noc"
    return {"bench-matmul": "matmul", "bench-vector": "vector", "bench-sram": "sram",
            "bench-scalar": "scalar"}.get(key)


_FROM_MD = {"matmul": _md_matmul, "vector": _md_vector, "sram": _md_sram, "scalar": _md_scalar,
            "noc": _md_noc}
_FROM_JSON = {"matmul": _json_matmul, "vector": _json_vector, "sram": _json_sram,
              "scalar": _json_scalar, "noc": _json_noc,
              **{key: _json_program(key) for key in PROGRAMS}}


def load(md_path=RESULTS_MD, json_path=RESULTS_JSON):
    """Every section the model can read: ``{key: Section}``. A key in the JSON file wins over
    its table in the page; a section the model has no reader for is left out."""
    md_path, json_path = Path(md_path), Path(json_path)
    sections = {}
    if json_path.exists():
        for key, entry in json.loads(json_path.read_text()).items():
            kind = _kind(key)
            if kind:
                sections[key] = Section(key, entry["date"], entry["command"], "results.json",
                                        _FROM_JSON[kind](entry["figures"]))
    if md_path.exists():
        for key, (date, command, body) in parse_sections(md_path.read_text()).items():
            kind = _kind(key)
            if kind in _FROM_MD and date and key not in sections:
                try:
                    figures = _FROM_MD[kind](body)
                except (FiguresError, KeyError, IndexError) as e:
                    raise FiguresError(f"{md_path.name}, section {key}: cannot read the "
                                       f"table ({e})") from e
                sections[key] = Section(key, date, command or "", "results.md", figures)
    return sections


def _git_last_change(package, root=ROOT):
    """``(datetime, short hash, subject)`` of the last commit touching ``package``, or None."""
    try:
        out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%cI%x09%h%x09%s",
                              "--", package], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode or not out.stdout.strip():
        return None
    when, short, subject = out.stdout.strip().split("\t", 2)
    return datetime.datetime.fromisoformat(when), short, subject


def staleness(section, root=ROOT):
    """``(status, detail)`` of a section: ``"current"``, ``"stale"`` (its block's package changed
    after the measurement: detail names the commit) or ``"unknown"`` (no git history)."""
    package = block_of(section.key)
    change = _git_last_change(package, root) if package else None
    if change is None:
        return "unknown", f"no git history for {package}"
    when, short, subject = change
    if when > section.when:
        return "stale", (f"{package} changed at {short} ({when:%Y-%m-%d %H:%M} UTC, "
                         f"{subject[:60]}) after the measurement ({section.date})")
    return "current", f"{package} last changed {when:%Y-%m-%d %H:%M} UTC at {short}"
