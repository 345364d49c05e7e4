"""What the ``d1core`` commands share: the command line as run, the simulator options, and the
checks of every input before any build or simulation starts (seeds, sizes, input files, output
paths, ``WAVES``); a failed check raises :class:`UsageError` (exit status 2)."""

import argparse
import os
import shlex
import sys
from pathlib import Path

from sim.flow import toolchain

__all__ = ["SEED_MAX", "UsageError", "check_estimate", "check_input_file", "check_output_path",
           "check_waves_env", "command_line", "count", "seed_arg", "sim_option", "waves_of"]

#: Seeds are 32-bit everywhere: 0..SEED_MAX.
SEED_MAX = 2**32 - 1

#: The longest run a command starts without ``--force`` (seconds, estimated).
TIME_LIMIT = 3600

#: ``WAVES`` values that turn waveforms on and off (case-insensitive).
WAVES_ON = ("1", "on", "yes", "true")
WAVES_OFF = ("", "0", "off", "no", "false")


class UsageError(ValueError):
    """Bad usage or input: the message says what is wrong (exit status 2)."""


def command_line():
    """The command as the user ran it, for the sections it writes into docs/results.md."""
    return "d1core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def waves_of(args):
    """The ``waves`` argument of a run: True with ``--waves``, else None (``WAVES`` decides)."""
    return True if args.waves else None


def check_waves_env():
    """Refuse a ``WAVES`` value that is neither on (1, on, yes, true) nor off (0, off, no,
    false, empty)."""
    value = os.environ.get("WAVES", "").strip().lower()
    if value not in WAVES_ON + WAVES_OFF:
        raise UsageError(f"WAVES must be one of {', '.join(WAVES_ON)} (on) or "
                         f"{', '.join(v for v in WAVES_OFF if v)} (off), not "
                         f"{os.environ['WAVES']!r}")


def _integer(text, what):
    try:
        return int(text, 10)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{what} must be an integer, not {text!r}") from None


def seed_arg(text):
    """argparse type of a seed: an integer in 0..2**32 - 1."""
    v = _integer(text, "the seed")
    if not 0 <= v <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"the seed must be in 0..{SEED_MAX}, not {v}")
    return v


def count(lo, hi=None):
    """argparse type of an integer in ``lo..hi`` (no upper bound if ``hi`` is None)."""
    def parse(text):
        v = _integer(text, "the value")
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(
                f"must be at least {lo}, not {v}" if hi is None else
                f"must be in {lo}..{hi}, not {v}")
        return v
    parse.__name__ = "integer"
    return parse


def _human_seconds(s):
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} minutes"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:.1f} days"


def _memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def check_estimate(what, *, seconds=None, memory=None, force=False):
    """Refuse a run of ``what`` estimated to need more than this machine's memory (always) or
    more than :data:`TIME_LIMIT` seconds (unless ``force``); the message gives the estimate."""
    if memory is not None and memory > _memory_bytes() // 2:
        raise UsageError(f"{what} needs about {memory / 2**30:,.1f} GiB of memory, more than half "
                         f"of this machine's {_memory_bytes() / 2**30:,.1f} GiB")
    if seconds is not None and seconds > TIME_LIMIT and not force:
        raise UsageError(f"{what} would take about {_human_seconds(seconds)} (more than "
                         f"{_human_seconds(TIME_LIMIT)}); give --force to run it anyway")


def check_input_file(path, what="the input"):
    """Refuse an input ``path`` that is not a readable regular file."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file ({what})")
    if not p.is_file():
        raise UsageError(f"{path}: not a regular file ({what})")
    if not os.access(p, os.R_OK):
        raise UsageError(f"{path}: not readable ({what})")


def check_output_path(path, option, suffixes=None):
    """Refuse an output ``path`` (of ``option``) that cannot be written: a directory, a
    directory that does not exist or cannot be written, a read-only file, a wrong suffix."""
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise UsageError(f"{option} {str(path)!r}: is a directory, not a file name")
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} writes {' or '.join(s[1:].upper() for s in suffixes)}: "
                         f"give a {' or '.join(suffixes)} file, not {str(path)!r}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable")
    # Permissions do not tell everything (root, read-only or special file systems): open it.
    existed = p.exists()
    try:
        with open(p, "ab"):
            pass
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write: {e.strerror}") from None
    if not existed:
        p.unlink(missing_ok=True)


def sim_option(q, *, model=False):
    """Add ``--sim`` (a simulator, or also ``model`` with ``model``) and ``--waves`` to ``q``."""
    choices = list(toolchain.SIMULATORS) + (["model"] if model else [])
    q.add_argument("--sim", choices=choices, default="verilator",
                   help="simulator (default verilator)" +
                   ("; 'model' runs the reference model instead, to check the file" if model
                    else ""))
    q.add_argument("--waves", action="store_true",
                   help="record a waveform (also WAVES=1, on, yes or true) and print its path")
