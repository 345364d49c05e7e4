"""Die, training tile and ExaPOD: peak figures, GEMMs, the transformer training step, an H100.

Systems nest: an ExaPOD is ``exapod_tiles`` tiles, a tile 5 × 5 dies, a die ``live`` cores of a
18 × 20 array (6 spares by default; :data:`.params.CHOICES`). Every figure comes from the
parameters (:mod:`.params`): nothing here is a measured number.

**GEMM.** A level splits C into a pr × pc grid of its parts (the split that finishes first is
taken); each part computes its block with the whole K and receives its A rows and B columns
from the others: cores over the on-die mesh (row and column multicast, into each core's
64-byte local port at the measured saturation share), dies over the die-edge links (2 TB/s each
way, AID21), tiles over the tile edges (9 TB/s, HC34 system talk). Operands and results come from
and go to the DIPs' HBM once (800 GB/s each, ``dips_per_tile`` a tile). A core keeps 75 % of
its SRAM for the blocks (the rest for code, stacks and transfer lists; the project's choice);
when a block does not fit, C is computed in passes and K in chunks, re-reading operands.
Compute and data movement overlap (compute threads and communication threads, HC34): a level's
time is the largest of its parts plus the multicast's fill latency.

**Transformer step** (one block of ``layers`` layers: sequence s, width h, heads a, batch b):
Megatron-style model parallelism over ``tp`` dies (two all-reduces of the activations forward
and two backward per layer) and data parallelism over ``dp`` (an all-reduce of the gradients);
the six GEMMs of a layer (QKV, scores, context, projection, MLP up and down) run on each die
through the die GEMM model, backward twice the forward; softmax, layer norms and the rest on
the vector unit. Weights, gradients and Adam state (16 B per parameter) and the activations
(s·b·h·(10 + 24/t) + 5·a·s²·b/t bytes per layer, Korthikanti et al. 2022) live in SRAM; what
does not fit goes to HBM and back once per step.
"""

import math
from dataclasses import dataclass, field

from . import core, network
from .core import ModelError, format_bytes

__all__ = ["SYSTEMS", "live_cores", "peak_flops", "gemm", "transformer", "allreduce", "h100_gemm",
           "h100_transformer", "Result", "parse_workload", "power_w", "chips"]

SYSTEMS = ("core", "die", "tile", "exapod")
ARRAY = (18, 20)
#: Share of a core's SRAM the blocks may take.
SRAM_SHARE = 0.75


@dataclass
class Result:
    """A prediction: ``seconds`` per run, ``flops`` done, the ``breakdown`` (compute, network,
    d2d, hbm in seconds, each the component's own time; the total overlaps them as the module
    says), ``notes``."""
    system: str
    workload: str
    seconds: float
    flops: float
    peak: float
    breakdown: dict
    notes: list = field(default_factory=list)
    detail: dict = field(default_factory=dict)

    @property
    def utilisation(self):
        return self.flops / self.seconds / self.peak

    def as_dict(self):
        return {"system": self.system, "workload": self.workload, "seconds": self.seconds,
                "flops": self.flops, "peak_flops": self.peak,
                "sustained_flops": self.flops / self.seconds, "utilisation": self.utilisation,
                "breakdown": self.breakdown, "notes": self.notes, "detail": self.detail}


def live_cores(p):
    """Live cores of a die: the array's sites less the dead fraction (6 of 360 by default:
    354, AID21)."""
    sites = ARRAY[0] * ARRAY[1]
    return sites - round(sites * p.dead_fraction)


def chips(p, system):
    """D1 dies in a system (a core counts as 1/live of a die)."""
    return {"core": 1 / live_cores(p), "die": 1, "tile": p.pub("tile_dies"),
            "exapod": p.pub("tile_dies") * p.pub("exapod_tiles")}[system]


def peak_flops(p, system):
    """Peak BF16/CFP8 FLOP/s from the model's own arithmetic: cores × MACs × 2 × clock."""
    _check_system(system)
    if system == "core":
        return p.core_flops
    return chips(p, system) * live_cores(p) * p.core_flops


def power_w(p, system):
    """Published power: 400 W a die (AID21), 15 kW a tile (HC34 system talk); an ExaPOD as its
    tiles' (none published for the whole); a core as a die's share."""
    return {"core": p.pub("die_power_w") / live_cores(p), "die": p.pub("die_power_w"),
            "tile": p.pub("tile_power_w"),
            "exapod": p.pub("tile_power_w") * p.pub("exapod_tiles")}[system]


def _check_system(system):
    if system not in SYSTEMS:
        raise ModelError(f"system must be one of {', '.join(SYSTEMS)}, not {system!r}")


def _hbm_bytes_s(p, system):
    tile = p.pub("dips_per_tile") * p.pub("dip_hbm_bytes_s") * p.hbm_scale
    return {"core": tile / p.pub("tile_dies") / live_cores(p), "die": tile / p.pub("tile_dies"),
            "tile": tile, "exapod": tile * p.pub("exapod_tiles")}[system]


def _splits(parts, m, n):
    """Candidate (pr, pc) grids of at most ``parts`` parts."""
    out = set()
    for pr in range(1, parts + 1):
        pc = parts // pr
        if pc:
            out.add((min(pr, m), min(pc, n)))
    return sorted(out)


# --- one core ----------------------------------------------------------------------------------

def _core_block(p, m, n, k, fmt):
    """Seconds of one core computing an m×n×k block already in (or streamed into) its SRAM:
    (compute seconds, passes, chunks)."""
    b = format_bytes(fmt)
    cap = p.sram_bytes * p.sram_scale * SRAM_SHARE
    passes, mc, nc = 1, m, n
    while mc * nc * 4 > cap / 2 and (mc > p.tile_rows or nc > p.tile_cols):
        if mc >= nc:
            mc = math.ceil(mc / 2)
        else:
            nc = math.ceil(nc / 2)
        passes = math.ceil(m / mc) * math.ceil(n / nc)
    room = max(cap - mc * nc * 4, cap / 4)
    kb = max(16, min(k, int(room / (2 * (mc + nc) * b))))
    chunks = math.ceil(k / kb)
    slow = core.gemm_sram(p, mc, nc, kb, fmt)["slowdown"]
    last = k - (chunks - 1) * kb
    cycles = ((chunks - 1) * core.gemm_cycles(p, mc, nc, kb, fmt)
              + core.gemm_cycles(p, mc, nc, last, fmt))
    return cycles * passes * slow / p.clock_hz, passes, chunks


def _hbm_traffic(p, system, m, n, k, b):
    """HBM bytes of the GEMM: C read and D written once; A and B once per block of C that the
    system's SRAM holds (half of its share for C, square blocks), so A is read ⌈N / nb⌉ times and
    B ⌈M / mb⌉ times."""
    sram = (live_cores(p) * chips(p, system) * p.sram_bytes * p.sram_scale * SRAM_SHARE
            if system != "core" else p.sram_bytes * p.sram_scale * SRAM_SHARE)
    side = max(16, int(math.sqrt(sram / 2 / 4)))
    mb, nb = min(m, side), min(n, max(16, int(sram / 2 / 4 / min(m, side))))
    return 8 * m * n + m * k * b * math.ceil(n / nb) + k * n * b * math.ceil(m / mb)


# --- GEMM, level by level ----------------------------------------------------------------------

_CACHE = {}


def _key(p):
    return (p.engine, p.vcs, p.depth, p.dead_fraction, p.link_scale, p.sram_scale, p.hbm_scale,
            p.d2d_scale, p.spares)


def _die_gemm(p, m, n, k, fmt):
    """Seconds of an m×n×k GEMM on one die with operands in its SRAM: (total, breakdown,
    core grid); cached per parameter set."""
    key = (_key(p), m, n, k, fmt)
    if key not in _CACHE:
        _CACHE[key] = _die_gemm_uncached(p, m, n, k, fmt)
    return _CACHE[key]


def _die_gemm_uncached(p, m, n, k, fmt):
    b = format_bytes(fmt)
    live = live_cores(p)
    stretch = network.hop_stretch(*ARRAY, ARRAY[0] * ARRAY[1] - live, p.spares)
    best, seen = None, set()
    for pr, pc in _splits(live, m, n):
        mc, nc = math.ceil(m / pr), math.ceil(n / pc)
        if (mc, nc) in seen:
            continue
        seen.add((mc, nc))
        comp, passes, _ = _core_block(p, mc, nc, k, fmt)
        # every core takes its A rows and B columns through its local port (one flit a cycle)
        # at the mesh's saturation share; operands are re-read once per pass
        nbytes = (mc + nc) * k * b * max(1, passes ** 0.5)
        if pr * pc == 1:
            net = 0.0
        else:
            net = nbytes / (p.link_bytes_per_cycle() * p.saturation_share()) / p.clock_hz
        fill = network.multicast_cycles(p, pc, pr, 64) * stretch / p.clock_hz
        total = max(comp, net) + fill
        if best is None or total < best[0]:
            best = (total, {"compute": comp, "network": net + fill}, (pr, pc))
    return best


def gemm(p, system, m, n, k, fmt="bf16"):
    """The GEMM on ``system``: a :class:`Result`."""
    _check_system(system)
    for name, v in (("M", m), ("N", n), ("K", k)):
        if not isinstance(v, int) or v < 1:
            raise ModelError(f"{name} must be a positive integer, not {v!r}")
    b = format_bytes(fmt)
    flops = 2 * m * n * k
    notes = []
    hbm_bytes = _hbm_traffic(p, system, m, n, k, b)
    if system == "core":
        comp, passes, chunks = _core_block(p, m, n, k, fmt)
        if passes > 1 or chunks > 1:
            notes.append(f"does not fit in one core's SRAM: {passes} passes, {chunks} K chunks "
                         "(operands assumed streamed in by DMA, not counted)")
        bd = {"compute": comp, "network": 0.0, "d2d": 0.0, "hbm": 0.0}
        return Result(system, f"gemm:{m},{n},{k},{fmt}", comp, flops, peak_flops(p, system), bd,
                      notes, {"passes": passes, "chunks": chunks})
    if system == "die":
        total, bd, grid = _die_gemm(p, m, n, k, fmt)
        hbm = hbm_bytes / _hbm_bytes_s(p, "die")
        d2d = hbm_bytes / (p.pub("die_edge_bytes_s") * p.d2d_scale)
        bd = {**bd, "d2d": d2d, "hbm": hbm}
        return Result(system, f"gemm:{m},{n},{k},{fmt}", max(total, d2d, hbm), flops,
                      peak_flops(p, system), bd, notes, {"core_grid": grid})
    # tile: dies of a 5 x 5 grid; exapod: tiles
    parts = p.pub("tile_dies") if system == "tile" else p.pub("exapod_tiles")
    link = (2 * p.pub("die_edge_bytes_s") if system == "tile"
            else 2 * p.pub("tile_edge_bytes_s")) * p.d2d_scale   # a row and a column edge in
    best = None
    for pr, pc in _splits(parts, m, n):
        md, nd = math.ceil(m / pr), math.ceil(n / pc)
        sub = gemm(p, "die" if system == "tile" else "tile", md, nd, k, fmt)
        inner = {key: v for key, v in sub.breakdown.items() if key in ("compute", "network")}
        below = max(inner.values())
        d2d = ((md * (pc > 1) + nd * (pr > 1)) * k * b) / link + sub.breakdown["d2d"] * (
            system == "exapod")
        hbm = hbm_bytes / _hbm_bytes_s(p, system)
        total = max(below, d2d, hbm)
        if best is None or total < best[0]:
            best = (total, {**inner, "d2d": d2d, "hbm": hbm}, (pr, pc), sub.detail)
    total, bd, grid, sub_detail = best
    return Result(system, f"gemm:{m},{n},{k},{fmt}", total, flops, peak_flops(p, system), bd,
                  notes, {"grid": grid, "below": sub_detail})


# --- transformer -------------------------------------------------------------------------------

_DEFAULT_SPLIT = {"core": (1, 1), "die": (1, 1), "tile": (5, 5), "exapod": (25, 120)}


def _layer_gemms(s, h, a, b, tp):
    """The six forward GEMMs of a layer on one model-parallel shard: (name, M, N, K)."""
    d = h // a
    heads = math.ceil(a / tp)     # a shard that does not divide evenly takes the larger part
    return [("qkv", b * s, math.ceil(3 * h / tp), h), ("scores", b * heads * s, s, d),
            ("context", b * heads * s, d, s), ("proj", b * s, h, math.ceil(h / tp)),
            ("mlp_up", b * s, math.ceil(4 * h / tp), h),
            ("mlp_down", b * s, h, math.ceil(4 * h / tp))]


def _ring(nbytes, parts, bw, latency_s):
    """Ring all-reduce of ``nbytes`` over ``parts``: 2(p-1)/p × bytes over the link, 2(p-1)
    latencies."""
    if parts <= 1:
        return 0.0
    return 2 * (parts - 1) / parts * nbytes / bw + 2 * (parts - 1) * latency_s


def transformer(p, system, *, seq, width, heads, batch, layers=1, tp=None, dp=None,
                fmt="bf16"):
    """One training step of a transformer block on ``system``: a :class:`Result`."""
    _check_system(system)
    if system == "core":
        raise ModelError("transformer workloads run on a die, a tile or an exapod, not a core")
    tp0, dp0 = _DEFAULT_SPLIT[system]
    tp, dp = tp or tp0, dp or dp0
    n_dies = chips(p, system)
    if tp * dp != n_dies:
        raise ModelError(f"tp × dp must be the system's {n_dies} dies, not {tp} × {dp}")
    if width % heads:
        raise ModelError(f"width must be a multiple of heads, not {width} and {heads}")
    if batch % dp:
        raise ModelError(f"batch must be a multiple of dp ({dp}), not {batch}")
    bl = batch // dp
    s, h, a = seq, width, heads
    flops_layer = 24 * batch * s * h * h + 4 * batch * s * s * h   # forward, whole batch
    flops = 3 * flops_layer * layers
    comp = net = 0.0
    for _, m, n, k in _layer_gemms(s, h, a, bl, tp):
        _, bd, _ = _die_gemm(p, m, n, k, fmt)
        comp += bd["compute"]
        net += bd["network"]
    # elementwise work (softmax, norms, GELU, residuals), FP32 on the vector unit
    elems = (5 * a * s * s * bl + 20 * s * bl * h) / tp
    vec = core.vector_cycles(p, "FP32 FMA", elems / live_cores(p)) / p.clock_hz
    comp, net = 3 * layers * (comp + vec), 3 * layers * net
    # model parallel: 4 all-reduces of the activations a layer; data parallel: the gradients
    act = bl * s * h * 2
    d2d_bw = p.pub("die_edge_bytes_s") * p.d2d_scale
    lat = 2e-6   # per ring step across dies (a few hundred cycles of DMA set-up); a choice
    tp_bw = d2d_bw if tp <= p.pub("tile_dies") else p.pub("tile_edge_bytes_s") * p.d2d_scale
    tp_t = 4 * layers * _ring(act, tp, tp_bw, lat)
    grads = 12 * h * h * layers / tp * 2
    if system == "exapod" and dp > 1:
        per_tile = max(1, p.pub("tile_dies") // tp)
        dp_bw = min(d2d_bw, p.pub("tile_edge_bytes_s") * p.d2d_scale / per_tile)
    else:
        dp_bw = d2d_bw
    dp_t = _ring(grads, dp, dp_bw, lat)
    # memory: state and activations against the die's SRAM
    state = 16 * 12 * h * h * layers / tp
    acts = layers * (s * bl * h * (10 + 24 / tp) + 5 * a * s * s * bl / tp)
    sram = live_cores(p) * p.sram_bytes * p.sram_scale * SRAM_SHARE
    spill = max(0.0, state + acts - sram)
    hbm = 2 * spill / _hbm_bytes_s(p, "die")
    notes = []
    if spill:
        notes.append(f"{(state + acts) / 1e9:.2f} GB per die against {sram / 1e9:.2f} GB of "
                     f"SRAM: {spill / 1e9:.2f} GB to HBM and back each step")
    d2d = tp_t + dp_t
    total = max(comp, net, hbm) + d2d   # the all-reduces wait for the layer's results
    bd = {"compute": comp, "network": net, "d2d": d2d, "hbm": hbm}
    wl = f"transformer:seq={s},width={h},heads={a},batch={batch},layers={layers},tp={tp},dp={dp}"
    return Result(system, wl, total, flops, peak_flops(p, system), bd, notes,
                  {"tp": tp, "dp": dp, "tp_allreduce_s": tp_t, "dp_allreduce_s": dp_t,
                   "state_bytes_per_die": state, "activation_bytes_per_die": acts})


# --- all-reduce -------------------------------------------------------------------------------

def allreduce(p, system, nbytes):
    """All-reduce of ``nbytes`` of FP32 held by every core of ``system``: a :class:`Result`.

    Hierarchical rings: a reduce-scatter over the die's cores (a snake through the mesh, one hop
    a step: 2(p - 1) contention-free transfers of nbytes/p each, the adds on the vector unit),
    then the dies' (and tiles') rings of each core's shard in parallel over the die edges (tile
    edges across tiles), then the all-gather back over the cores."""
    _check_system(system)
    if not isinstance(nbytes, int) or nbytes < 1:
        raise ModelError(f"bytes must be a positive integer, not {nbytes!r}")
    cores = live_cores(p) if system != "core" else 1
    share = nbytes / cores
    # a snake through the live cores: one hop a step, longer around dead cores off the edge
    stretch = network.hop_stretch(*ARRAY, ARRAY[0] * ARRAY[1] - cores, p.spares) \
        if system != "core" else 1.0
    step = network.transfer_cycles(p, stretch, share)
    adds = core.vector_cycles(p, "FP32 add/sub/mul", share / 4)
    on_die = ((cores - 1) * (step + adds) + (cores - 1) * step) / p.clock_hz
    lat = 2e-6   # per ring step across dies (DMA set-up); a choice until the mesh runs
    d2d = 0.0
    if system in ("tile", "exapod"):
        d2d += _ring(nbytes, p.pub("tile_dies"), p.pub("die_edge_bytes_s") * p.d2d_scale, lat)
    if system == "exapod":
        d2d += _ring(nbytes, p.pub("exapod_tiles"), p.pub("tile_edge_bytes_s") * p.d2d_scale,
                     lat)
    bd = {"compute": (cores - 1) * adds / p.clock_hz, "network": on_die, "d2d": d2d,
          "hbm": 0.0}
    flops = nbytes / 4 * (chips(p, system) * cores - 1) if system != "core" else 0
    return Result(system, f"allreduce:{nbytes}", on_die + d2d, max(flops, 1),
                  peak_flops(p, system), bd,
                  ["the on-die ring's time (network) includes the adds (compute); the FLOP/s "
                   "are the adds'"], {"cores": cores})


# --- H100 roofline -----------------------------------------------------------------------------

def _h100(p):
    return (p.pub("h100_tflops") * 1e12, p.pub("h100_hbm_bytes_s"), p.pub("h100_nvlink_bytes_s"),
            p.pub("h100_power_w"))


def h100_gemm(p, n_chips, m, n, k, fmt="bf16"):
    """Roofline of the GEMM split over ``n_chips`` H100s (published peak and HBM; CFP8 as FP8 at
    twice the rate): seconds."""
    peak, hbm, nvlink, _ = _h100(p)
    b = format_bytes(fmt)
    peak *= 2 if b == 1 else 1
    flops = 2 * m * n * k / n_chips
    nbytes = ((m * k + k * n) * b + 2 * m * n * 4) / n_chips
    comm = (m * k + k * n) * b / n_chips / nvlink if n_chips > 1 else 0.0
    return max(flops / peak, nbytes / hbm) + comm


def h100_transformer(p, n_chips, *, seq, width, heads, batch, layers=1, tp, dp):
    """Roofline of the same training step on ``n_chips`` H100s with the same tp × dp: compute at
    peak, state and activations through HBM (written and read once), both all-reduces over
    NVLink (450 GB/s each way, as if every chip had it): (seconds, breakdown)."""
    peak, hbm, nvlink, _ = _h100(p)
    s, h, a = seq, width, heads
    bl = batch // dp
    flops = 3 * layers * (24 * batch * s * h * h + 4 * batch * s * s * h) / n_chips
    state = 16 * 12 * h * h * layers / tp
    acts = layers * (s * bl * h * (10 + 24 / tp) + 5 * a * s * s * bl / tp)
    mem = (2 * state + 2 * acts) / hbm
    comm = (4 * layers * _ring(bl * s * h * 2, tp, nvlink, 2e-6)
            + _ring(12 * h * h * layers / tp * 2, dp, nvlink, 2e-6))
    bd = {"compute": flops / peak, "hbm": mem, "nvlink": comm}
    return max(bd["compute"], mem) + comm, bd


# --- workload strings --------------------------------------------------------------------------

def parse_workload(text):
    """``gemm:M,N,K[,format]``, ``transformer:seq=..,width=..,heads=..,batch=..[,layers=..]
    [,tp=..][,dp=..]`` or ``allreduce:BYTES`` -> (kind, dict); ``ModelError`` with the exact
    problem otherwise."""
    kind, sep, rest = text.partition(":")
    if not sep:
        raise ModelError(f"workload must be gemm:M,N,K[,format] or transformer:seq=..,width=..,"
                         f"heads=..,batch=.., not {text!r}")
    if kind == "gemm":
        parts = rest.split(",")
        if len(parts) not in (3, 4):
            raise ModelError(f"gemm workload needs M,N,K[,format], not {rest!r}")
        try:
            m, n, k = (int(v) for v in parts[:3])
        except ValueError:
            raise ModelError(f"gemm M, N and K must be integers, not {rest!r}") from None
        fmt = parts[3] if len(parts) == 4 else "bf16"
        format_bytes(fmt)
        for name, v in (("M", m), ("N", n), ("K", k)):
            if v < 1:
                raise ModelError(f"{name} must be a positive integer, not {v}")
        return "gemm", {"m": m, "n": n, "k": k, "fmt": fmt}
    if kind == "transformer":
        allowed = ("seq", "width", "heads", "batch", "layers", "tp", "dp")
        out = {}
        for item in filter(None, rest.split(",")):
            key, eq, value = item.partition("=")
            if not eq or key not in allowed:
                raise ModelError(f"transformer takes {', '.join(allowed)} as key=value, not "
                                 f"{item!r}")
            try:
                out[key] = int(value)
            except ValueError:
                raise ModelError(f"{key} must be an integer, not {value!r}") from None
            if out[key] < 1:
                raise ModelError(f"{key} must be at least 1, not {out[key]}")
        missing = [k for k in ("seq", "width", "heads", "batch") if k not in out]
        if missing:
            raise ModelError(f"transformer workload needs {', '.join(missing)}")
        return "transformer", out
    if kind == "allreduce":
        try:
            nbytes = int(rest)
        except ValueError:
            raise ModelError(f"allreduce takes a byte count, not {rest!r}") from None
        if nbytes < 1:
            raise ModelError(f"allreduce bytes must be at least 1, not {nbytes}")
        return "allreduce", {"nbytes": nbytes}
    raise ModelError(f"workload kind must be gemm, transformer or allreduce, not {kind!r}")
