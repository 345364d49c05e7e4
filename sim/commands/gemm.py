"""``d1core gemm``: one GEMM ``D = A·B + C`` on the matrix engine in RTL simulation, every bit
checked against the reference model.

The operands come from a seed (random values around the middle of each format's range) or from a
``.npz`` file; the GEMM is tiled onto the engine of a preset (``verif.matmul.tiling``: M and N
padded to whole tiles, any K from 1), streamed through the bulk harness in one batch, and every
element of D and of its sticky flags is compared with ``verif.matmul.model.matmul``. The report
gives the cycles from the first input word to the last output row, the MACs per cycle achieved
(M·N·K over those cycles; padding does not count) and their share of the preset's peak.
"""

import sys
import time
import zipfile

import numpy as np

from hw.fp.formats import get_format
from hw.matmul.config import PRESETS
from verif.matmul import tiling
from verif.matmul.engine_tb import check_result, format_bias, operands
from verif.matmul.gemm_run import GEMM_DESIGNS, gemm_batch
from verif.matmul.model import check_operands, matmul
from verif.scoreboard import Mismatch
from verif.stream_run import run_stream

from ._common import (
    SEED_MAX,
    UsageError,
    check_estimate,
    check_input_file,
    check_output_path,
    count,
    seed_arg,
    sim_option,
    waves_of,
)

__all__ = ["CLI_FORMATS", "DEFAULT_BIAS", "GemmError", "add_parser", "check_size", "estimate",
           "load_operands", "main", "run", "run_gemm", "timing_line"]

#: Format names on the command line (both spellings, as in every command), and the model's
#: names for them.
CLI_FORMATS = {"bf16": "bf16", "cfp8-143": "cfp8_143", "cfp8-152": "cfp8_152",
               "cfp8_143": "cfp8_143", "cfp8_152": "cfp8_152"}

#: The bias a CFP8 operand gets when none is given (values around 1, as ml_dtypes' e4m3/e5m2).
DEFAULT_BIAS = {"cfp8_143": 7, "cfp8_152": 15}

#: Simulated engine cycles per second, by (preset, simulator), for the estimate that refuses
#: a run too long to finish in reason (measured on the development machine, rounded down).
CYCLES_PER_SECOND = {("D1", "verilator"): 1500, ("D1", "icarus"): 5,
                     ("SMALL", "verilator"): 20000, ("SMALL", "icarus"): 200}

#: Bytes of memory per input word (a Python int of ~1000 bits, its hex line, its response) and
#: per operand or result element (the arrays and the model's copies), for the memory estimate.
BYTES_PER_WORD, BYTES_PER_ELEMENT = 1024, 64


class GemmError(UsageError):
    """Bad usage or input: the message says what is wrong (exit status 2)."""


def _format(name, which):
    """The format table's :class:`~hw.fp.formats.Format` for ``--{which}-format name``: the one
    look-up of the name; the engine, the tiling and the model below take the object."""
    if name in CLI_FORMATS:
        return get_format(CLI_FORMATS[name])
    raise GemmError(f"--{which}-format must be one of bf16, cfp8-143 (or cfp8_143), cfp8-152 "
                    f"(or cfp8_152), not {name!r}")


def _bias(fmt, bias, which):
    """The bias ``--{which}-bias`` gives ``fmt``: the default of a CFP8 format if None; None
    for a fixed-bias format (whose fixed value alone is accepted: the engine takes no bias)."""
    if bias is None:
        bias = DEFAULT_BIAS.get(fmt.name)
    try:
        fmt.check_bias(bias)
    except ValueError as e:
        if fmt.bias is not None:
            raise GemmError(f"--{which}-bias: {fmt.title} has a fixed bias; give --{which}-bias "
                            "only with a CFP8 format") from None
        raise GemmError(f"--{which}-bias: {e}") from None
    return None if fmt.bias is not None else bias


def estimate(m, n, k, *, preset, sim):
    """``(seconds, bytes)``: the estimated simulation time and memory of an MxNxK GEMM."""
    config = PRESETS[preset]
    tm, tn = -(-m // config.tile_rows), -(-n // config.tile_cols)
    words = tm * tn * k
    seconds = words / CYCLES_PER_SECOND[(preset, sim)]
    memory = BYTES_PER_WORD * words + BYTES_PER_ELEMENT * (m * k + k * n + m * n)
    return seconds, memory


def check_size(m, n, k, *, preset, sim, force):
    """Refuse a GEMM that would not fit in memory or finish within the time limit."""
    seconds, memory = estimate(m, n, k, preset=preset, sim=sim)
    check_estimate(f"a {m}x{n}x{k} GEMM on {preset} in {sim}", seconds=seconds, memory=memory,
                   force=force)


def _npz_members(path):
    """The arrays of an npz file ``path`` and their uncompressed sizes, read from the zip
    directory without loading anything; :class:`GemmError` if it is not an npz file."""
    check_input_file(path, "--in")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return {i.filename.removesuffix(".npy"): i.file_size for i in z.infolist()}
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        raise GemmError(f"cannot read {path}: {e}") from None
    raise GemmError(f"{path} is not an .npz file (not a zip archive): give arrays a, b and "
                    "optionally c saved with numpy.savez")


def load_operands(path):
    """``(a, b, c)`` from a ``.npz`` file with arrays ``a``, ``b`` and optionally ``c``."""
    members = _npz_members(path)
    missing = [k for k in ("a", "b") if k not in members]
    if missing:
        raise GemmError(f"{path} has no array {' or '.join(repr(k) for k in missing)} "
                        f"(it holds {', '.join(sorted(members)) or 'nothing'})")
    check_estimate(f"reading {path}", memory=2 * sum(members.values()))
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as f:
            for key in ("a", "b", "c"):
                if key in f.files:
                    arrays[key] = f[key]
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise GemmError(f"{path}: an array holds Python objects; the operands must be "
                            "arrays of integer codes (uint16 BF16, uint8 CFP8, uint32 C)") from None
        raise GemmError(f"cannot read {path}: {e}") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise GemmError(f"cannot read {path}: {e}") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):  # numpy returns a member without .npy magic raw
            raise GemmError(f"{path}: {key!r} is not a numpy array (no .npy header)")
    return arrays["a"], arrays["b"], arrays.get("c")


def run_gemm(a, b, c, *, a_fmt, a_bias, b_fmt, b_bias, sim="verilator", preset="D1",
             waves=None, progress=True):
    """Run one GEMM on the engine of ``preset`` in ``sim``; ``a_fmt`` and ``b_fmt`` are
    :class:`~hw.fp.formats.Format` objects. Returns ``(d, flags, figures)``; ``figures`` holds
    the cycles, MACs per cycle, utilisation and the run's timing."""
    config = PRESETS[preset]
    plan, batch = gemm_batch(config, a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt,
                             b_bias=b_bias)
    responses, summary, info = run_stream(GEMM_DESIGNS[preset], [batch], sim, seed_port="cfg",
                                          waves=waves, progress=progress)
    d, flags, cycles = tiling.gemm_output(plan, responses[0], summary[0]["cycles"])
    figures = {
        "preset": preset, "sim": sim, "m": plan.m, "n": plan.n, "k": plan.k,
        "a_format": a_fmt.name, "a_bias": -1 if a_bias is None else a_bias,
        "b_format": b_fmt.name, "b_bias": -1 if b_bias is None else b_bias,
        "cycles": cycles, "macs": plan.macs, "macs_per_cycle": plan.macs / cycles,
        "peak_macs_per_cycle": config.macs_per_cycle,
        "utilisation": plan.macs / cycles / config.macs_per_cycle,
        "words": len(batch["words"]), "tiles": len(plan.tiles),
        "convert_seconds": info["convert_seconds"], "build_seconds": info["build_seconds"],
        "test_seconds": info["test_seconds"], "sim_seconds": summary[0]["seconds"],
        "sim_cycles_per_second": summary[0]["cycles"] / max(summary[0]["seconds"], 1e-9),
    }
    return d, flags, figures


def run(*, m=None, n=None, k=None, a_format="bf16", a_bias=None, b_format="bf16", b_bias=None,
        seed=None, inp=None, out=None, sim="verilator", preset="D1", waves=None, force=False):
    """The ``d1core gemm`` command: print the report; return the number of mismatching
    elements. Raises :class:`GemmError` for bad usage or input, before any simulation."""
    if preset not in PRESETS:
        raise GemmError(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    a_fmt, b_fmt = _format(a_format, "a"), _format(b_format, "b")
    a_bias, b_bias = _bias(a_fmt, a_bias, "a"), _bias(b_fmt, b_bias, "b")
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise GemmError(f"--seed must be in 0..{SEED_MAX}, not {seed}")
    for x, v in (("m", m), ("n", n), ("k", k)):
        if v is not None and v < 1:
            raise GemmError(f"--{x} must be at least 1, not {v}")
    if out is not None:
        check_output_path(out, "--out")
    if inp is not None:
        if seed is not None:
            raise GemmError("give --seed or --in, not both")
        a, b, c = load_operands(inp)
    else:
        missing = [f"--{x}" for x, v in (("m", m), ("n", n), ("k", k)) if v is None]
        if missing:
            raise GemmError(f"{', '.join(missing)} required (or --in FILE.npz)")
        check_size(m, n, k, preset=preset, sim=sim, force=force)
        rng = np.random.default_rng(1 if seed is None else seed)
        a, b, c = operands(rng, m, n, k, a_fmt=a_fmt, a_bias=format_bias(a_fmt, a_bias),
                           b_fmt=b_fmt, b_bias=format_bias(b_fmt, b_bias))
    try:
        gm, gk, gn = check_operands(a, b, c, a_fmt, a_bias, b_fmt, b_bias)
    except ValueError as e:
        raise GemmError(str(e)) from None
    for x, given, actual in (("m", m, gm), ("n", n, gn), ("k", k, gk)):
        if inp is not None and given is not None and given != actual:
            raise GemmError(f"--{x} {given} disagrees with {inp}, whose operands have "
                            f"{x.upper()}={actual}")
    if inp is not None:
        check_size(gm, gn, gk, preset=preset, sim=sim, force=force)

    t_start = time.perf_counter()
    config = PRESETS[preset]
    a_text = a_fmt.name + ("" if a_bias is None else f" bias {a_bias}")
    b_text = b_fmt.name + ("" if b_bias is None else f" bias {b_bias}")
    print(f"d1core gemm: {gm}x{gn}x{gk} D = A·B + C, A {a_text}, B {b_text}"
          f"{'' if c is not None else ' (C = 0)'}, on the {preset} engine ({config.units} "
          f"array{'s' if config.units > 1 else ''} of {config.unit_rows}x{config.unit_cols}, "
          f"{config.macs_per_cycle} MACs/cycle) "
          f"in {sim}", file=sys.stderr)
    d, flags, fig = run_gemm(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                             sim=sim, preset=preset, waves=waves)
    t_check = time.perf_counter()
    exp_d, exp_f = matmul(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias)
    bad = int(((d != exp_d) | (flags != exp_f)).sum())
    checking = time.perf_counter() - t_check
    if bad:
        try:
            check_result(d, flags, exp_d, exp_f, c=c)
        except Mismatch as e:
            print(str(e), file=sys.stderr)
    print(f"{gm}x{gn}x{gk}: {fig['macs']} MACs in {fig['cycles']} cycles: "
          f"{fig['macs_per_cycle']:.1f} MACs/cycle, {100 * fig['utilisation']:.1f} % of the "
          f"{config.macs_per_cycle}-MAC peak ({fig['tiles']} tiles of "
          f"{config.tile_rows}x{config.tile_cols})")
    print(timing_line(time.perf_counter() - t_start, convert=fig["convert_seconds"],
                      build=fig["build_seconds"], simulation=fig["sim_seconds"],
                      checking=checking, cycles=fig["cycles"]))
    if out is not None:
        # Through a file object: numpy would append .npz to a name without it.
        with open(out, "wb") as f:
            np.savez(f, d=d, flags=flags, **{k: np.asarray(v) for k, v in fig.items()})
        print(f"wrote {out}")
    print("PASS: every element (value and flags) matches the reference model" if not bad else
          f"FAIL: {bad} of {gm * gn} elements differ from the reference model (first ones above)")
    return bad


def timing_line(total, *, convert, build, simulation, checking, cycles):
    """Where the ``total`` seconds of a run went: the build (conversion to Verilog and the
    simulator's build, both about 0 when cached), the simulation itself (the simulator's
    seconds for the cycles, and its rate), checking against the model, and the rest (operands,
    the simulator's start-up, stimulus and response files); the parts add up to the total."""
    other = max(total - convert - build - simulation - checking, 0.0)
    return (f"time {total:.1f} s: build {convert + build:.1f} s (Verilog {convert:.1f} s, "
            f"simulator {build:.1f} s), simulation {simulation:.1f} s ({cycles:,} cycles, "
            f"{cycles / max(simulation, 1e-9):,.0f} cycles/s), checking {checking:.1f} s, other "
            f"{other:.1f} s (operands, simulator start-up, stimulus and responses)")


def main(args):
    """``d1core gemm`` with parsed ``args``; returns the exit status."""
    try:
        bad = run(m=args.m, n=args.n, k=args.k, a_format=args.a_format, a_bias=args.a_bias,
                  b_format=args.b_format, b_bias=args.b_bias, seed=args.seed, inp=args.input,
                  out=args.output, sim=args.sim, preset=args.preset, waves=waves_of(args),
                  force=args.force)
    except GemmError as e:
        print(f"d1core gemm: error: {e}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def add_parser(sub):
    """Add the ``gemm`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("gemm", help="a GEMM D = A·B + C on the matrix engine, checked bit for bit",
                       description="Tiles D = A·B + C (M, N any size, padded to the engine's "
                       "tile; K from 1) onto the matrix engine of a preset, runs it in RTL "
                       "simulation and compares every element and its flags with the reference "
                       "model; prints cycles, MACs per cycle and the utilisation of the peak. "
                       "Operands: random (--seed) or --in FILE.npz with arrays a (MxK) and b (KxN) "
                       "of raw codes (uint16 BF16, uint8 CFP8) and optionally c (MxN uint32 FP32 "
                       "codes; absent means C = 0). Exit 1 on a mismatch, 2 on bad input "
                       "(checked before the simulation: formats, biases, files, sizes).")
    q.add_argument("--m", type=count(1), help="rows of A and D (from --in if omitted)")
    q.add_argument("--n", type=count(1), help="columns of B and D (from --in if omitted)")
    q.add_argument("--k", type=count(1), help="columns of A, rows of B (from --in if omitted)")
    for x in ("a", "b"):
        q.add_argument(f"--{x}-format", default="bf16", metavar="FMT",
                       help=f"{x.upper()}'s format: bf16 (default), cfp8-143 or cfp8-152 (also "
                       "written cfp8_143, cfp8_152)")
        q.add_argument(f"--{x}-bias", type=int, metavar="B",
                       help=f"{x.upper()}'s bias, CFP8 only (0..63; default 7 for 1-4-3, 15 "
                       "for 1-5-2)")
    src = q.add_mutually_exclusive_group()
    src.add_argument("--seed", type=seed_arg,
                     help="random operands from this seed, 0..2**32-1 (default 1)")
    src.add_argument("--in", dest="input", metavar="FILE.npz", help="operands from a file")
    q.add_argument("--out", dest="output", metavar="FILE.npz",
                   help="write d (MxN uint32), flags (MxN uint8) and the figures (npz) to FILE, "
                   "the name as given; checked before the run")
    q.add_argument("--preset", default="D1", choices=["D1", "SMALL"],
                   help="engine preset (default D1: 256 MACs/cycle; SMALL: one 8x8 array)")
    sim_option(q)
    q.add_argument("--force", action="store_true",
                   help="run even if the estimated simulation time exceeds an hour")
    q.set_defaults(func=main)
    return q
