"""``d1core vectors``: check an RTL unit against a file of test vectors in Berkeley TestFloat's
text format.

Each line holds the operands in hex, then the expected result, then optionally the expected flags
(TestFloat's bits: 0x10 invalid, 0x04 overflow, 0x02 underflow, 0x01 inexact). A line without
flags checks the value only. Blank lines and lines starting with ``#`` are skipped. The Denormal
flag (0x20) is d1core's own and not part of TestFloat's format, so it is not compared.

Every op of every unit is one entry of :data:`OPS`: a conversion (:class:`Op`, one operand) or
an FMA op (:class:`FMAOp`: ``f32_mulAdd``, ``f32_mul``, ``f32_add``, ``bf16_f32_mulAdd``, with
two or three operands, all computed by the fused multiply-add unit; the vector unit's
``f32_mulAdd``, ``f32_mul`` and ``f32_add`` run on its 16 FP32 lanes, a file's lines ``16r ..
16r + 15`` in lanes 0..15 of request ``r`` (the vector ops ``fma``, ``mul``, ``add``). The vector
unit reports one set of flags per request, the OR over its lanes, so its flags are checked per
request: the OR of the expected flags of its lines, where all of them state flags).

NaN results: TestFloat files generated with SoftFloat carry x86 NaN payloads (the default NaN
0xFFC00000 and propagated operand payloads), while every d1core NaN is 0x7FC00000. For the FMA
ops a line whose expected result is a NaN therefore passes when the unit returns any NaN; its
flags are still compared.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.fp.formats import FP32, TESTFLOAT_FLAG_MASK, Round, get_format
from verif.fp import fma_tb
from verif.fp import stimulus as st
from verif.fp.convert import convert_requests
from verif.fp.convert_run import run_convert
from verif.fp.fma_run import run_fma
from verif.fp.formats import decode
from verif.scoreboard import flags_str
from verif.vector.unit_run import LANES, fma_line_requests, fp32_lanes, model_vector, run_vector

from ._common import (
    SEED_MAX,
    UsageError,
    check_input_file,
    seed_arg,
    sim_option,
    waves_of,
)

__all__ = ["Op", "FMAOp", "OPS", "VectorError", "add_parser", "main", "parse_vectors", "run"]


class VectorError(UsageError):
    """The vector file or the options are wrong (reported with the line number)."""


@dataclass(frozen=True)
class Op:
    """One op a vector file can name: its unit, operand and result formats, and how it is run.

    ``fmt`` is the converted format (``None``: given by ``--format``). ``widen`` is True for
    ``x_to_f32`` ops.
    """
    unit: str
    name: str
    fmt: str | None
    widen: bool
    formats: tuple = ()

    def destination(self, fmt_option):
        if fmt_option is not None:  # cfp8-143 and cfp8_143 alike, as in every command
            fmt_option = fmt_option.replace("-", "_")
        if self.fmt is not None:
            if fmt_option not in (None, self.fmt):
                raise VectorError(f"{self.name} converts {self.fmt}; --format {fmt_option} "
                                  "does not apply")
            return get_format(self.fmt)
        if fmt_option is None:
            raise VectorError(f"{self.name} needs --format ({' or '.join(self.formats)})")
        if fmt_option not in self.formats:
            raise VectorError(f"{self.name} takes --format {' or '.join(self.formats)}, "
                              f"not {fmt_option}")
        return get_format(fmt_option)

    def widths(self, fmt):
        """Bit widths of (operand, result)."""
        return (fmt.width, FP32.width) if self.widen else (FP32.width, fmt.width)


@dataclass(frozen=True)
class FMAOp:
    """An op of the FMA unit: the formats of the file's operand fields, and how they become
    ``a·b + c`` (``"mulAdd"``: the three operands; ``"mul"``: ``a·b + (-0)``; ``"add"``:
    ``a·1 + b``). The result is FP32."""
    unit: str
    name: str
    operands: tuple
    kind: str

    def widths(self):
        """Bit widths of the operand fields and of the result."""
        return tuple(get_format(f).width for f in self.operands) + (FP32.width,)

    def requests(self, operands):
        """The unit's requests for the operand columns of a file."""
        cols = [operands[:, k] for k in range(operands.shape[1])]
        fmt = self.operands[0]
        if self.kind == "mulAdd":
            return fma_tb.requests(cols[0], cols[1], cols[2], fmt, 0, fmt, 0)
        if self.kind == "mul":
            return fma_tb.requests(cols[0], cols[1], _NEG_ZERO, fmt, 0, fmt, 0)
        return fma_tb.requests(cols[0], _ONE, cols[1], fmt, 0, fmt, 0)

    def formula(self, values):
        """The line's operation, written out with its operands."""
        if self.kind == "mulAdd":
            return f"{values[0]} * {values[1]} + {values[2]}"
        return f"{values[0]} {'*' if self.kind == 'mul' else '+'} {values[1]}"


_NEG_ZERO = 1 << FP32.sign_shift
_ONE = FP32.bias << FP32.man_bits
_CFP8 = ("cfp8_143", "cfp8_152")
OPS = {(op.unit, op.name): op for op in (
    Op("convert", "f32_to_bf16", "bf16", False),
    Op("convert", "bf16_to_f32", "bf16", True),
    Op("convert", "f32_to_cfp8", None, False, _CFP8),
    Op("convert", "cfp8_to_f32", None, True, _CFP8),
    Op("convert", "f32_to_shp", "shp", False),
    Op("convert", "shp_to_f32", "shp", True),
    Op("convert", "f32_to_uhp", "uhp", False),
    Op("convert", "uhp_to_f32", "uhp", True),
    FMAOp("fma", "f32_mulAdd", ("fp32", "fp32", "fp32"), "mulAdd"),
    FMAOp("fma", "f32_mul", ("fp32", "fp32"), "mul"),
    FMAOp("fma", "f32_add", ("fp32", "fp32"), "add"),
    FMAOp("fma", "bf16_f32_mulAdd", ("bf16", "bf16", "fp32"), "mulAdd"),
    FMAOp("vector", "f32_mulAdd", ("fp32", "fp32", "fp32"), "mulAdd"),
    FMAOp("vector", "f32_mul", ("fp32", "fp32"), "mul"),
    FMAOp("vector", "f32_add", ("fp32", "fp32"), "add"),
)}


_HEX = re.compile(r"[0-9A-Fa-f]+")


def parse_vectors(path, n_operands, widths):
    """Read a vector file. Returns ``(lineno, operands (n x k), expected, flags, has_flags)``.

    ``widths`` are the bit widths of the operands and the result; a field with too many digits,
    a non-hex field or a wrong field count raises :class:`VectorError` naming the line.
    """
    rows, linenos, flags, has_flags = [], [], [], []
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise VectorError(f"cannot read {path}: {e.strerror}") from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        lineno = data[:e.start].count(b"\n") + 1
        raise VectorError(f"{path}:{lineno}: byte {data[e.start]:#04x} is not ASCII text (a "
                          "vector file holds hex digits, spaces and # comments)") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) not in (n_operands + 1, n_operands + 2):
            raise VectorError(f"{path}:{lineno}: expected {n_operands} operand(s), a result and "
                              f"optional flags, got {len(fields)} fields: {line.strip()!r}")
        values = []
        for k, field in enumerate(fields):
            width = widths[k] if k < len(widths) else 8
            # Hex digits only: int(x, 16) would also take a sign, a 0x prefix and underscores.
            if not _HEX.fullmatch(field):
                raise VectorError(f"{path}:{lineno}: {field!r} is not hexadecimal")
            v = int(field, 16)
            if v >> width:
                raise VectorError(f"{path}:{lineno}: {field!r} does not fit {width} bits")
            values.append(v)
        rows.append(values[:n_operands + 1])
        has_flags.append(len(values) == n_operands + 2)
        flags.append(values[n_operands + 1] if len(values) == n_operands + 2 else 0)
        linenos.append(lineno)
    if not rows:
        raise VectorError(f"{path}: no vectors")
    rows = np.array(rows, dtype=np.uint64)
    return (np.array(linenos), rows[:, :n_operands], rows[:, n_operands],
            np.array(flags, dtype=np.uint64), np.array(has_flags))


def run(*, unit, op, path, sim="verilator", fmt=None, bias=None, rnd="rne", seed=1,
        waves=None, limit=10, out=None):
    """Check every vector of ``path``; print counts and the first mismatches.

    Returns the number of failing lines (0 = all pass). Raises :class:`VectorError` for bad
    options or a malformed file.
    """
    out = sys.stdout if out is None else out
    if not 0 <= seed <= SEED_MAX:
        raise VectorError(f"--seed must be in 0..{SEED_MAX}, not {seed}")
    if (unit, op) not in OPS:
        names = ", ".join(o.name for o in OPS.values() if o.unit == unit)
        raise VectorError(f"unit {unit!r} has no op {op!r}" +
                          (f"; its ops are {names}" if names else f"; units are "
                           f"{', '.join(sorted({o.unit for o in OPS.values()}))}"))
    spec = OPS[(unit, op)]
    check_input_file(path, "--in")
    if isinstance(spec, FMAOp):
        return _run_fma(spec, path=path, sim=sim, fmt=fmt, bias=bias, rnd=rnd, waves=waves,
                        limit=limit, out=out)
    f = spec.destination(fmt)
    try:
        b = f.check_bias(bias)
    except ValueError as e:
        raise VectorError(str(e) + (" (give --bias)" if bias is None else "")) from None
    try:
        rounding = Round[rnd.upper()]
    except KeyError:
        raise VectorError(f"--round must be rne or sr, not {rnd!r}") from None
    if spec.widen and rounding == Round.SR:
        raise VectorError(f"{op} is exact: --round sr does not apply")
    in_w, out_w = spec.widths(f)
    linenos, operands, expected, exp_flags, has_flags = parse_vectors(path, 1, (in_w, out_w))
    req = st.requests(operands[:, 0], st.WIDEN if spec.widen else st.NARROW, f, b & 63,
                      rounding)
    n = len(linenos)
    print(f"{path}: {n} vectors, {op} ({f.title}{'' if f.bias is not None else f' bias {b}'}"
          f", {rounding.name}) on {sim}", file=out)
    if sim == "model":
        data, flags = convert_requests(req["data"], req["op"], req["fmt"], req["bias"],
                                       req["rnd"], seed=seed)
        data, flags = data.astype(np.uint64), flags.astype(np.uint64)
        rate = ""
    else:
        (got,), summary, info = run_convert([{"req": req, "seed": seed, "label": op}], sim,
                                            waves=waves)
        data, flags = got["data"], got["flags"]
        rate = (f" in {summary[0]['cycles']} cycles, {summary[0]['seconds']:.2f} s "
                f"({n / max(summary[0]['seconds'], 1e-9):,.0f} vectors/s)")
    mask = np.uint64(TESTFLOAT_FLAG_MASK)
    value_bad = data != expected
    flag_bad = has_flags & ((flags & mask) != (exp_flags & mask))
    bad = np.flatnonzero(value_bad | flag_bad)
    print(f"{n - len(bad)} pass, {len(bad)} fail (value {int(value_bad.sum())}, flags "
          f"{int(flag_bad.sum())}){rate}", file=out)
    def show(v, fm):
        return _show(v, fm, b if fm.configurable else None, digits=6)
    src, dst = (f, FP32) if spec.widen else (FP32, f)
    for i in bad[:limit]:
        print(f"  line {linenos[i]}: {show(operands[i, 0], src)} -> expected "
              f"{show(expected[i], dst)}"
              + (f" [{flags_str(exp_flags[i])}]" if has_flags[i] else "")
              + f", got {show(data[i], dst)} [{flags_str(flags[i])}]", file=out)
    if len(bad) > limit:
        print(f"  ... and {len(bad) - limit} more", file=out)
    return len(bad)


def _show(code, fmt, bias=None, *, digits=9):
    """A code of ``fmt`` in hex and, in brackets, the value it stands for."""
    v = int(code)
    return f"{v:0{fmt.width // 4}x} ({float(decode(np.array([v]), fmt, bias)[0]):.{digits}g})"


def _is_nan(z):
    """FP32 codes that are NaNs (any sign, any payload)."""
    z = np.asarray(z, dtype=np.uint64)
    exp_ones = (z & np.uint64(FP32.inf_code)) == np.uint64(FP32.inf_code)
    return exp_ones & ((z & np.uint64((1 << FP32.man_bits) - 1)) != 0)


def _run_fma(spec, *, path, sim, fmt, bias, rnd, waves, limit, out):
    """:func:`run` for an op of the FMA unit."""
    if fmt is not None:
        raise VectorError(f"{spec.name} takes no --format (its operands are "
                          f"{', '.join(spec.operands)})")
    if bias is not None:
        raise VectorError(f"{spec.name} takes no --bias")
    if rnd.lower() != "rne":
        raise VectorError(f"{spec.name} rounds to nearest even only: --round {rnd} does not "
                          "apply")
    n_ops = len(spec.operands)
    linenos, operands, expected, exp_flags, has_flags = parse_vectors(path, n_ops, spec.widths())
    req = spec.requests(operands)
    n = len(linenos)
    print(f"{path}: {n} vectors, {spec.name} on {sim}", file=out)
    group = None          # lines per flags value: 1, or the vector unit's 16
    if spec.unit == "vector":
        vreq = fma_line_requests(spec.kind, operands.astype(np.uint32))
        if sim == "model":
            got, rate = model_vector(vreq), ""
        else:
            (got,), summary, info = run_vector([{"req": vreq, "label": spec.name}], sim,
                                               waves=waves)
            rate = (f" in {summary[0]['cycles']} cycles, {summary[0]['seconds']:.2f} s "
                    f"({n / max(summary[0]['seconds'], 1e-9):,.0f} vectors/s)")
        z = fp32_lanes(got["data"], n)
        group = LANES
        flags = np.repeat(got["flags"].astype(np.uint64), LANES)[:n]
        rows = np.arange(n) // LANES
        exp_flags = np.bitwise_or.reduceat(exp_flags, np.arange(0, n, LANES))[rows]
        has_flags = np.logical_and.reduceat(has_flags, np.arange(0, n, LANES))[rows]
    elif sim == "model":
        z, flags = fma_tb.expected(req)
        rate = ""
    else:
        (got,), summary, info = run_fma([{"req": req, "label": spec.name}], sim, waves=waves)
        z, flags = got["z"], got["flags"]
        rate = (f" in {summary[0]['cycles']} cycles, {summary[0]['seconds']:.2f} s "
                f"({n / max(summary[0]['seconds'], 1e-9):,.0f} vectors/s)")
    mask = np.uint64(TESTFLOAT_FLAG_MASK)
    exp_nan = _is_nan(expected)
    # A NaN expected result (an x86 payload, if the file comes from SoftFloat) matches any NaN.
    value_bad = np.where(exp_nan, ~_is_nan(z), z != expected)
    flag_bad = has_flags & ((flags & mask) != (exp_flags & mask))
    bad = np.flatnonzero(value_bad | flag_bad)
    print(f"{n - len(bad)} pass, {len(bad)} fail (value {int(value_bad.sum())}, flags "
          f"{int(flag_bad.sum())}){rate}", file=out)
    if exp_nan.any():
        print(f"{int(exp_nan.sum())} NaN results compared by NaN-ness (the unit's NaN is "
              f"{FP32.qnan_code:#010x}; TestFloat files carry x86 payloads)", file=out)
    def show(v, name):
        return _show(v, get_format(name))
    for i in bad[:limit]:
        values = [show(operands[i, k], spec.operands[k]) for k in range(n_ops)]
        lanes = "" if group is None else (f" (request {i // group}, lane {i % group}; flags "
                                          f"of lines {linenos[i - i % group]}.."
                                          f"{linenos[min(i - i % group + group, n) - 1]})")
        print(f"  line {linenos[i]}{lanes}: {spec.formula(values)} -> expected "
              f"{show(expected[i], 'fp32')}"
              + (f" [{flags_str(exp_flags[i])}]" if has_flags[i] else "")
              + f", got {show(z[i], 'fp32')} [{flags_str(flags[i])}]", file=out)
    if len(bad) > limit:
        print(f"  ... and {len(bad) - limit} more", file=out)
    return len(bad)


def main(args):
    """``d1core vectors`` with parsed ``args``; returns the exit status."""
    try:
        bad = run(unit=args.unit, op=args.op, path=args.input, sim=args.sim, fmt=args.format,
                  bias=args.bias, rnd=args.round, seed=args.seed, waves=waves_of(args))
    except VectorError as e:
        print(f"d1core vectors: error: {e}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def add_parser(sub):
    """Add the ``vectors`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    units = sorted({o.unit for o in OPS.values()})
    q = sub.add_parser("vectors", help="check an RTL unit against a TestFloat-format vector file",
                       description="Runs every line of FILE (hex operands, expected result, "
                       "optional TestFloat flags 0x10 invalid, 0x04 overflow, 0x02 underflow, "
                       "0x01 inexact) through the RTL unit; prints counts and the first "
                       "mismatches; exits 1 on any mismatch. Ops: " + ", ".join(
                           f"{o.unit}/{o.name}" for o in OPS.values()))
    q.add_argument("--unit", required=True, choices=units)
    q.add_argument("--op", required=True, choices=sorted({o.name for o in OPS.values()}))
    q.add_argument("--in", dest="input", required=True, metavar="FILE")
    sim_option(q, model=True)
    q.add_argument("--format", help="cfp8_143 or cfp8_152 (also cfp8-143, cfp8-152) for the "
                   "cfp8 ops")
    q.add_argument("--bias", type=int, help="bias of a configurable format (0..63)")
    q.add_argument("--round", default="rne", help="rne (default) or sr")
    q.add_argument("--seed", type=seed_arg, default=1,
                   help="SR generator seed, 0..2**32-1 (default 1)")
    q.set_defaults(func=main)
    return q
