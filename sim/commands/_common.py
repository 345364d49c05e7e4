"""What the ``d1core`` commands share: the command line as run, and the simulator options."""

import shlex
import sys

from sim.flow import toolchain

__all__ = ["command_line", "sim_option", "waves_of"]


def command_line():
    """The command as the user ran it, for the sections it writes into docs/results.md."""
    return "d1core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def waves_of(args):
    """The ``waves`` argument of a run: True with ``--waves``, else None (``WAVES=1`` decides)."""
    return True if args.waves else None


def sim_option(q, *, model=False):
    """Add ``--sim`` (a simulator, or also ``model`` with ``model``) and ``--waves`` to ``q``."""
    choices = list(toolchain.SIMULATORS) + (["model"] if model else [])
    q.add_argument("--sim", choices=choices, default="verilator",
                   help="simulator (default verilator)" +
                   ("; 'model' runs the reference model instead, to check the file" if model
                    else ""))
    q.add_argument("--waves", action="store_true",
                   help="record a waveform (also WAVES=1) and print its path")
