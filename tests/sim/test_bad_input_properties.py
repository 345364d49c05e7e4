"""Property-based attack on the ``d1core`` command line (issue 16): random and malformed
arguments, vector files, npz files and ELF files fed to every command in-process through
:func:`sim.cli.main`. Nothing here builds or simulates: the functions that would start work are
replaced by a sentinel that ends the command with status :data:`WORK` (99), so an input either is
refused (status 2, a message, no traceback) or was valid enough to start (99). Inputs that are
made invalid on purpose must be refused; no input may end in 1 (a failed check), 3 (a crash) or
a traceback. Derandomized: the same examples on every run, a few seconds per property."""

import contextlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from verif.scalar import riscv

#: The status of a command that got past its checks and started work (the sentinel's).
WORK = 99

SETTINGS = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _work(*args, **kwargs):
    raise SystemExit(WORK)


#: Where each command starts a build, a simulation or a long computation.
WORK_FUNCTIONS = (
    "sim.commands.gemm.run_gemm", "sim.commands.sim.run_convert",
    "sim.commands.sim.run_core_program", "sim.commands.sim.train_program",
    "sim.commands.sim.run_mesh_program",
    "sim.commands.vectors.run_convert", "sim.commands.vectors.run_fma",
    "sim.commands.vectors.run_vector", "sim.commands.vectors.convert_requests",
    "sim.commands.vectors.model_vector", "sim.commands.vectors.fma_tb.expected",
    "sim.commands.run.run_iss", "sim.commands.run._run_rtl", "sim.flow.synth.run",
    "sim.flow.lint.run", "sim.commands.bench.run", "sim.bench.noc.run_cocotb",
    "sim.bench.noc._design", "sim.bench.noc.draw", "sim.commands.noc_prove.prove",
    "sim.commands.noc_prove.Router", "sim.commands.fuzz.fuzz", "sim.flow.mutate.run",
    "sim.flow.coverage.run",
)


@contextlib.contextmanager
def _no_work():
    with pytest.MonkeyPatch.context() as mp:
        for target in WORK_FUNCTIONS:
            mp.setattr(target, _work)
        # Every simulation, whichever way a command gets there (one the list above misses: the
        # D1 core demo of `d1core sim` took 100 s an example before it was listed).
        mp.setattr("cocotb_tools.runner.get_runner", _work)
        mp.setenv("WAVES", "0")
        yield mp


def _call(argv, env=None):
    """``(status, stdout, stderr)`` of ``d1core argv`` with no work allowed."""
    out, err = io.StringIO(), io.StringIO()
    with _no_work() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for k, v in (env or {}).items():
            mp.setenv(k, v)
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def _assert_clean(status, err, *, refused):
    """Status 2 with an error message (or, unless ``refused``, 0 for --help and WORK)."""
    assert "Traceback" not in err
    allowed = (2,) if refused else (0, 2, WORK)
    assert status in allowed, (status, err)
    if status == 2:
        assert "error:" in err and err.endswith("\n"), err
        assert len(err) < 4000


# --- arguments --------------------------------------------------------------------------------

COMMANDS = {
    "sim": ["--sim", "--waves", "--demo", "--n", "--seed", "--force", "--steps"],
    "vectors": ["--unit", "--op", "--in", "--sim", "--waves", "--format", "--bias", "--round",
                "--seed"],
    "gemm": ["--m", "--n", "--k", "--a-format", "--b-format", "--a-bias", "--b-bias", "--seed",
             "--in", "--out", "--preset", "--sim", "--force"],
    "synth": [],
    "bench": ["--only", "--n", "--sim", "--no-write", "--force"],
    "noc-bench": ["--mesh", "--traffic", "--rate", "--vcs", "--depth", "--cycles", "--seed",
                  "--json", "--plot", "--write", "--force"],
    "noc-plot": ["--out"],
    "noc-prove": ["--mesh", "--vcs", "--depth", "--groups", "--k", "--bmc-depth", "--write"],
    "lint": [],
    "run": ["--threads", "--sim", "--trace", "--max-cycles"],
    "fuzz": ["--seconds", "--seed", "--core", "--sim", "--kind", "--commands", "--write"],
    "mutate": ["--count", "--seed", "--sim", "--jobs", "--write"],
    "coverage": ["--jobs", "--report-only", "--no-write"],
}

_values = st.one_of(
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.sampled_from(["0", "-1", "4294967296", "1e9", "0x10", "nan", "inf", "", " ", "-",
                     "bf16", "cfp8-143", "cfp8_152", "fp32", "D1", "SMALL", "iss", "verilator",
                     "icarus", "model", "convert", "fma", "vector", "f32_to_bf16", "8x8",
                     "0x0", "1x1", "17x1", "0.1,0.2", "0,1", "1.5", "uniform", "/", "fp.convert",
                     "/nonexistent/x", "x.npz", "x.json", "x.png", "a\x00b", "é", "--", "-h"]),
    st.text(max_size=12),
)


@st.composite
def _argv(draw):
    command = draw(st.sampled_from(sorted(COMMANDS)))
    options = COMMANDS[command]
    tokens = [command]
    for _ in range(draw(st.integers(0, 6))):
        if options and draw(st.booleans()):
            tokens.append(draw(st.sampled_from(options)))
        tokens.append(draw(_values))
    return tokens


@SETTINGS
@given(_argv())
def test_random_arguments(argv):
    """Random options and values: refused cleanly (2) or valid enough to start; never 1 or 3."""
    status, _, err = _call(argv)
    _assert_clean(status, err, refused=False)


#: Valid command lines, each of which a bad element below must turn into a refusal.
BASES = {
    "sim": ["sim"],
    "convert": ["sim", "--demo", "convert", "--n", "64"],
    "gemm": ["gemm", "--m", "4", "--n", "4", "--k", "4"],
    "noc-bench": ["noc-bench", "--mesh", "2x2", "--rate", "0.1", "--cycles", "200"],
    "bench": ["bench", "--only", "convert", "--n", "100"],
    "fuzz": ["fuzz", "--seconds", "1", "--commands", "4"],
}

_bad_seed = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)).map(str)


@st.composite
def _bad_argv(draw):
    base = draw(st.sampled_from(sorted(BASES)))
    argv = list(BASES[base])
    kind = draw(st.sampled_from(["seed", "size", "unknown", "out", "format", "waves"]))
    env = {}
    if kind == "seed" and base != "bench":
        argv += ["--seed", draw(_bad_seed)]
    elif kind == "size" and base in ("convert", "bench"):
        argv += ["--n", str(draw(st.one_of(st.integers(max_value=0),
                                           st.integers(min_value=10**10))))]
    elif kind == "size" and base == "gemm":
        which = draw(st.sampled_from(["--m", "--n", "--k"]))
        argv[argv.index(which) + 1] = str(draw(st.one_of(st.integers(max_value=0),
                                                         st.integers(min_value=10**9))))
    elif kind == "size" and base == "fuzz":
        which = draw(st.sampled_from(["--seconds", "--commands"]))
        argv[argv.index(which) + 1] = str(draw(st.one_of(st.integers(max_value=-1),
                                                         st.integers(min_value=41))))
    elif kind == "size" and base == "noc-bench":
        argv[argv.index("--cycles") + 1] = str(draw(st.one_of(st.integers(max_value=99),
                                                              st.integers(min_value=10**9))))
    elif kind == "out" and base == "gemm":
        argv += ["--out", draw(st.sampled_from(["/nonexistent/r.npz", "/", "/proc/r.npz"]))]
    elif kind == "out" and base == "noc-bench":
        option = draw(st.sampled_from(["--json", "--plot"]))
        argv += [option, draw(st.sampled_from(["/nonexistent/r.png", "/", "/proc/r.png"]
                                              + (["r.pdf"] if option == "--plot" else [])))]
    elif kind == "format" and base == "gemm":
        argv += ["--a-format", draw(st.text(max_size=8).filter(
            lambda s: s not in ("bf16", "cfp8-143", "cfp8_143", "cfp8-152", "cfp8_152")))]
    elif kind == "waves":
        env["WAVES"] = draw(st.text(min_size=1, max_size=6).filter(
            lambda s: s.strip().lower() not in ("", "0", "1", "on", "off", "yes", "no", "true",
                                                "false") and "\x00" not in s))
    else:
        argv += ["--" + draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8))
                 + "-bogus"]
    return argv, env


@SETTINGS
@given(_bad_argv())
def test_bad_arguments_refused_before_work(case):
    """A valid command line with one bad seed, size, output path, format, WAVES value or
    option: exit 2 with a message, before any work."""
    argv, env = case
    status, _, err = _call(argv, env)
    _assert_clean(status, err, refused=True)


# --- vector files ---------------------------------------------------------------------------

_hexish = st.text("0123456789abcdefABCDEFxX+-_ #g\t", min_size=0, max_size=12)


@st.composite
def _vector_file(draw):
    """Vector-file bytes with at least one malformed line (random bytes, a bad token, a wrong
    field count or an oversized field), among well-formed ones."""
    good = [f"{draw(st.integers(0, 2**32 - 1)):08x} {draw(st.integers(0, 2**16 - 1)):04x}"
            for _ in range(draw(st.integers(0, 3)))]
    bad = draw(st.one_of(
        st.binary(min_size=1, max_size=40).filter(lambda b: any(c > 127 for c in b)),
        st.lists(_hexish, min_size=1, max_size=4).map(" ".join).filter(_malformed).map(
            str.encode),
        st.just(b"3F800000 13F80"),
        st.just(b"3F800000 3F80 08 1"),
    ))
    at = draw(st.integers(0, len(good)))
    lines = [g.encode() for g in good]
    lines.insert(at, bad)
    return b"\n".join(lines) + b"\n"


def _malformed(line):
    """A line the parser must refuse (not blank, not a comment, and not two or three fields
    of plain hex digits that fit)."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return False
    ok = (len(fields) in (2, 3) and all(f and all(c in "0123456789abcdefABCDEF" for c in f)
                                        for f in fields)
          and int(fields[0], 16) < 2**32 and int(fields[1], 16) < 2**16
          and (len(fields) == 2 or int(fields[2], 16) < 2**8))
    return not ok


@SETTINGS
@given(_vector_file(), st.sampled_from(["model", "verilator"]))
def test_malformed_vector_files(content, sim):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.txt"
        path.write_bytes(content)
        status, _, err = _call(["vectors", "--unit", "convert", "--op", "f32_to_bf16",
                                "--in", path, "--sim", sim])
    _assert_clean(status, err, refused=True)
    assert "v.txt" in err


# --- npz files ------------------------------------------------------------------------------

_dtypes = st.sampled_from([np.uint8, np.uint16, np.uint32, np.int16, np.float32, np.float64,
                           np.bool_, np.complex64, "U3", "S2"])
_shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


@st.composite
def _npz(draw):
    """npz-file bytes: random bytes, or arrays of random names, dtypes and shapes (at least one
    of a, b missing, or a shape or dtype the GEMM cannot take), possibly truncated."""
    kind = draw(st.sampled_from(["bytes", "arrays", "truncated", "zip"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name in draw(st.lists(st.sampled_from(["a.npy", "b.npy", "c.npy", "x"]),
                                      max_size=3, unique=True)):
                z.writestr(name, draw(st.binary(max_size=64)))
        return buf.getvalue()
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4, unique=True))
    arrays = {n: np.zeros(draw(_shapes), dtype=draw(_dtypes)) for n in names}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    if kind == "truncated":
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    return data


def _valid_operands(data):
    """Whether ``data`` is an npz the GEMM takes (BF16 a MxK, b KxN, optional c MxN uint32)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            a, b = f["a"], f["b"]
            c = f["c"] if "c" in f.files else None
    except Exception:  # noqa: BLE001 - anything unreadable is invalid
        return False
    if not all(isinstance(x, np.ndarray) for x in (a, b, c) if x is not None):
        return False
    return (a.ndim == 2 and b.ndim == 2 and a.dtype == np.uint16 and b.dtype == np.uint16
            and min(a.shape + b.shape) > 0 and a.shape[1] == b.shape[0]
            and (c is None or (c.dtype == np.uint32 and c.shape == (a.shape[0], b.shape[1]))))


@SETTINGS
@given(_npz())
def test_malformed_npz_files(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.npz"
        path.write_bytes(data)
        status, _, err = _call(["gemm", "--in", path])
    _assert_clean(status, err, refused=not _valid_operands(data))


# --- ELF files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def elf_bytes():
    return Path(riscv.isa_test("add")).read_bytes()


@settings(SETTINGS, suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_malformed_elf_files(elf_bytes, data):
    """Random bytes, a truncated ELF, or an ELF with random bytes overwritten in its headers:
    refused (2) or, if still a loadable program, started (the sentinel)."""
    kind = data.draw(st.sampled_from(["bytes", "truncated", "mutated"]))
    if kind == "bytes":
        blob = data.draw(st.binary(max_size=256))
    elif kind == "truncated":
        blob = elf_bytes[:data.draw(st.integers(0, len(elf_bytes) - 1))]
    else:
        blob = bytearray(elf_bytes)
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, min(len(blob), 512) - 1))
            blob[at] = data.draw(st.integers(0, 255))
        blob = bytes(blob)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.elf"
        path.write_bytes(blob)
        status, _, err = _call(["run", path, "--sim", data.draw(st.sampled_from(
            ["iss", "verilator"]))])
    _assert_clean(status, err, refused=blob[:4] != b"\x7fELF" or kind == "truncated"
                  and len(blob) < 64)


def test_work_sentinel_is_reached_by_valid_input(tmp_path):
    """The sentinel stands where the work starts: a valid command reaches it."""
    assert _call(["gemm", "--m", "4", "--n", "4", "--k", "4"])[0] == WORK
    assert _call(["run", riscv.isa_test("add"), "--sim", "iss"])[0] == WORK
    path = tmp_path / "v.txt"
    path.write_text("3F800000 3F80\n")
    assert _call(["vectors", "--unit", "convert", "--op", "f32_to_bf16", "--in", path])[0] == WORK
    assert os.environ.get("WAVES") != "maybe"
