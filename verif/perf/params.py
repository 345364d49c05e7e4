"""The model's parameters: measured (the benches' figures), structural (the RTL's own
configuration) or published (``../shared/reference/d1.md``, cited by its source tags).

:func:`build` makes a :class:`Params` from the loaded sections (:func:`verif.perf.figures.load`);
nothing measured is typed in here. :data:`PUBLISHED` holds the system figures Tesla (and NVIDIA)
published, each with its source tag as d1.md gives it; :data:`CHOICES` the project's own choices
where nothing is published. ``Params.with_overrides`` applies a user's ``--set name=value``.
"""

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from hw.matmul.config import PRESETS as MATMUL_PRESETS
from hw.sram.config import PRESETS as SRAM_PRESETS

from .figures import FiguresError

__all__ = ["PUBLISHED", "CHOICES", "Params", "build", "ParamError", "mean_hops"]


class ParamError(ValueError):
    """A bad ``--set`` (unknown name or value out of range)."""


#: Published figures: (value, unit, source tag in d1.md).
PUBLISHED = {
    "clock_hz": (2e9, "Hz", "AID21, H"),
    "core_gflops": (1024, "GFLOPS BF16/CFP8", "AID21, MICRO, H"),
    "die_cores": (354, "cores", "AID21, MICRO, H"),
    "die_tflops": (362, "TFLOPS BF16/CFP8", "AID21, MICRO, H"),
    "die_power_w": (400, "W", "AID21, H"),
    "core_sram_bytes": (1.25 * 2**20, "B", "HC34, AID21, H"),
    "flit_bytes": (64, "B per link per direction per cycle", "TNP, M"),
    "die_edge_bytes_s": (2e12, "B/s each way per die edge", "AID21, M"),
    "tile_dies": (25, "dies (5 x 5)", "HC34 system talk, AID21, H"),
    "tile_pflops": (9, "PFLOPS", "HC34 system talk, AID21, H"),
    "tile_bisection_bytes_s": (10e12, "B/s", "HC34 system talk, H"),
    "tile_edge_bytes_s": (9e12, "B/s per tile edge (36 TB/s off-tile)", "HC34 system talk, H"),
    "tile_power_w": (15e3, "W", "HC34 system talk, AID21, H"),
    "dips_per_tile": (5, "DIPs (up to 5 per tile edge; one edge)", "TNP, HC34 system talk, C"),
    "dip_hbm_bytes": (32e9, "B HBM per DIP", "HC34 system talk, M-H"),
    "dip_hbm_bytes_s": (800e9, "B/s per DIP", "HC34 system talk, M-H"),
    "exapod_tiles": (120, "tiles (3,000 D1)", "AID21, HC34, H"),
    "exapod_eflops": (1.1, "EFLOPS", "AID21, H (HC34 rounds to 1)"),
    "h100_tflops": (989, "TFLOPS dense BF16", "NVIDIA datasheet, H"),
    "h100_hbm_bytes_s": (3.35e12, "B/s", "NVIDIA datasheet, H"),
    "h100_nvlink_bytes_s": (450e9, "B/s each way (900 GB/s both)", "NVIDIA datasheet, H"),
    "h100_power_w": (700, "W", "NVIDIA datasheet, H"),
    "h100_hbm_capacity": (80e9, "B", "NVIDIA datasheet, H"),
}

#: The project's choices where nothing is published (d1.md, "What is not published").
CHOICES = {
    "die_array": ((18, 20), "physical core array (360 sites, 6 spares); not published"),
    "spares": ("edge", "where the disabled cores sit: 'edge' (last row), 'random' or a list"),
    "dp_tp": (None, "data/model parallel split of a transformer step (default per system)"),
}


def mean_hops(width, height):
    """Mean XY hop count between two uniformly drawn nodes (the source included) of a
    width x height mesh: (w² - 1)/(3w) + (h² - 1)/(3h)."""
    return (width**2 - 1) / (3 * width) + (height**2 - 1) / (3 * height)


@dataclass
class Params:
    """Every parameter of the model, with where it came from (``sources``: name -> text)."""
    # structural: the RTL's configuration (hw.matmul.config, hw.sram.config)
    engine: str = "D1"
    macs_per_cycle: int = 0
    tile_rows: int = 0
    tile_cols: int = 0
    interleave: int = 0
    fma_latency: int = 0
    fma_c_delay: int = 0
    sram_bytes: float = 0.0
    sram_banks: int = 0
    # measured
    vector_rate: dict = field(default_factory=dict)      # class -> requests per cycle
    vector_lanes: dict = field(default_factory=dict)     # class -> lane ops per request
    vector_latency: int = 0
    sram_port_rate: float = 1.0                          # streaming requests/port/cycle
    sram_random: dict = field(default_factory=dict)      # banks -> fraction of 7 served
    scalar_ipc_1: float = 0.0
    scalar_ipc_4: float = 0.0
    hop_cycles: float = 0.0                              # fitted zero-load latency per hop
    fixed_cycles: float = 0.0                            # and its constant part
    saturation: dict = field(default_factory=dict)       # (vcs, depth) -> share of bisection
    curves: dict = field(default_factory=dict)           # (vcs, depth) -> (load, latency) arrays
    transpose_share: float = 0.0                         # 8x8 transpose saturation / bound
    # what-if knobs (default: the RTL's configuration and the published figures)
    vcs: int = 2
    depth: int = 4
    dead_fraction: float = 6 / 360
    link_scale: float = 1.0       # multiplies on-die link bandwidth
    d2d_scale: float = 1.0        # multiplies die-to-die and tile-edge bandwidth
    sram_scale: float = 1.0       # multiplies SRAM per core
    hbm_scale: float = 1.0        # multiplies DIP bandwidth
    spares: str = "edge"          # where the dead cores sit: "edge" (last row) or "random"
    sources: dict = field(default_factory=dict)

    # --- published, as attributes ---
    def pub(self, name):
        return PUBLISHED[name][0]

    @property
    def clock_hz(self):
        return self.pub("clock_hz")

    #: The knobs ``--set`` accepts, with their ranges.
    KNOBS = {"vcs": (int, 1, 2), "depth": (int, 4, 16), "dead_fraction": (float, 0.0, 0.5),
             "link_scale": (float, 0.01, 100.0), "d2d_scale": (float, 0.01, 100.0),
             "sram_scale": (float, 0.01, 100.0), "hbm_scale": (float, 0.01, 100.0)}

    def with_overrides(self, overrides):
        """A copy with ``overrides`` (``{name: text or value}``) applied; ``ParamError`` on an
        unknown name or a value out of range."""
        out = dataclasses.replace(self)
        for name, text in overrides.items():
            if name == "spares":
                if text not in ("edge", "random"):
                    raise ParamError(f"spares must be 'edge' or 'random', not {text!r}")
                out.spares = text
                continue
            if name not in self.KNOBS:
                raise ParamError(f"unknown parameter {name!r}; expected one of "
                                 f"{', '.join(sorted([*self.KNOBS, 'spares']))}")
            kind, lo, hi = self.KNOBS[name]
            try:
                value = kind(text)
            except (TypeError, ValueError):
                raise ParamError(f"{name} must be {'an integer' if kind is int else 'a number'}"
                                 f", not {text!r}") from None
            if not lo <= value <= hi:
                raise ParamError(f"{name} must be in {lo}..{hi}, not {value}")
            setattr(out, name, value)
        out.saturation_share()  # a router configuration with no measured curve is refused
        return out

    # --- derived ---
    @property
    def core_flops(self):
        """Peak FLOP/s of one core: MACs per cycle × 2 × clock."""
        return self.macs_per_cycle * 2 * self.clock_hz

    def link_bytes_per_cycle(self):
        return self.pub("flit_bytes") * self.link_scale

    def saturation_share(self):
        """Saturation throughput of uniform traffic as a share of the bisection bound, for the
        router's (vcs, depth): the measured point, or interpolated in log2(depth)."""
        table = {d: s for (v, d), s in self.saturation.items() if v == self.vcs}
        if not table:
            raise ParamError(f"no measured curve for vcs={self.vcs}")
        depths = sorted(table)
        return float(np.interp(math.log2(self.depth), [math.log2(d) for d in depths],
                               [table[d] for d in depths]))

    def load_latency(self, load):
        """Average latency (cycles) at ``load`` (offered / saturation, 0..) over the zero-load
        latency, from the measured curve of the nearest (vcs, depth): 1 at no load; beyond the
        last measured point an M/D/1-like growth."""
        key = min(self.curves, key=lambda k: (k[0] != self.vcs, abs(math.log2(k[1])
                                                                      - math.log2(self.depth))))
        x, y = self.curves[key]
        if load <= x[-1]:
            return float(np.interp(load, x, y))
        return float(y[-1] / max(1e-3, 1 - min(load, 0.999)) * (1 - min(x[-1], 0.999)))


def _scalar(sections, p):
    runs = sections["bench-scalar"].figures["runs"]
    one = [r["ipc"] for r in runs if r["workers"] == 1 and r["threads"] == 1]
    four = [r["ipc"] for r in runs if r["workers"] == 4 and r["threads"] == 4]
    p.scalar_ipc_1 = float(np.mean(one))
    p.scalar_ipc_4 = float(np.mean(four))
    p.sources["scalar_ipc"] = "bench-scalar (mean over the C programs)"


_VECTOR_LANES = {"FP32 FMA": 16, "BF16 FMA": 32, "FP32 add/sub/mul": 16,
                 "FP32 min/max/compare/convert": 16, "FP32 reductions": 15,
                 "INT8 add/mul/logic": 64, "data movement": 64, "WIDEN/NARROW": 16}


def _noc(sections, p):
    # Zero-load latency per hop: a line through the lowest-rate latencies of 4x4 and 8x8
    # uniform (the same router) against their mean hop counts.
    pts = []
    for key in ("noc-4x4-uniform-v1", "noc-8x8-uniform-v1"):
        if key not in sections:
            raise FiguresError(f"section {key} is missing: run d1core bench --only noc")
        f = sections[key].figures
        pts.append((mean_hops(f["width"], f["height"]), f["points"][0]["latency_avg"]))
    (h0, l0), (h1, l1) = pts
    p.hop_cycles = (l1 - l0) / (h1 - h0)
    p.fixed_cycles = l0 - p.hop_cycles * h0
    p.sources["hop_cycles"] = "fit of noc-4x4-uniform-v1 and noc-8x8-uniform-v1, lowest rate"
    for key, s in sections.items():
        f = s.figures
        if key.startswith("noc-8x8-uniform") and f["saturation_rate"] is not None:
            bound = 4 / 8
            p.saturation[(f["vcs"], f["depth"])] = f["saturation_throughput"] / bound
            sat = f["saturation_throughput"]
            zero = f["points"][0]["latency_avg"]
            x = [0.0] + [q["accepted"] / sat for q in f["points"] if q["complete"]
                         and q["offered"] <= f["saturation_rate"]]
            y = [1.0] + [q["latency_avg"] / zero for q in f["points"] if q["complete"]
                         and q["offered"] <= f["saturation_rate"]]
            order = np.argsort(x)
            p.curves[(f["vcs"], f["depth"])] = (np.asarray(x)[order], np.asarray(y)[order])
    if "noc-8x8-transpose-v2" in sections:
        f = sections["noc-8x8-transpose-v2"].figures
        p.transpose_share = f["saturation_throughput"] / (1 / 7)
    p.sources["saturation"] = "noc-8x8-uniform-* sections (saturation / bisection bound 0.5)"


def build(sections, *, engine="D1"):
    """The parameters from the loaded ``sections`` (``FiguresError`` if one is missing)."""
    for key in ("bench-matmul", "bench-vector", "bench-sram", "bench-scalar"):
        if key not in sections:
            raise FiguresError(f"section {key} is missing: run d1core bench")
    p = Params(engine=engine)
    cfg = MATMUL_PRESETS[engine]
    p.macs_per_cycle, p.tile_rows, p.tile_cols = cfg.macs_per_cycle, cfg.tile_rows, cfg.tile_cols
    p.interleave, p.fma_latency, p.fma_c_delay = cfg.interleave, cfg.fma_latency, cfg.fma_c_delay
    p.sources["engine"] = f"hw.matmul.config preset {engine} (the RTL's configuration)"
    sram = SRAM_PRESETS["D1"]
    p.sram_bytes, p.sram_banks = sram.lines * 64, sram.banks
    p.sources["sram_bytes"] = "hw.sram.config preset D1 (= 1.25 MB, HC34/AID21)"
    v = sections["bench-vector"].figures
    p.vector_rate = {n: c["per_cycle"] for n, c in v["classes"].items()}
    p.vector_lanes = {n: _VECTOR_LANES.get(n, round(c["lane_ops"] / c["per_cycle"]))
                      for n, c in v["classes"].items()}
    p.vector_latency = v["latency"] or 0
    p.sources["vector"] = "bench-vector"
    s = sections["bench-sram"].figures
    p.sram_port_rate = float(min(s["per_port"].values()))
    p.sram_random = {int(b): r["measured"] for b, r in s["random"].items()}
    p.sources["sram"] = "bench-sram (line-stride port rates; random-address rates per banks)"
    _scalar(sections, p)
    _noc(sections, p)
    return p
