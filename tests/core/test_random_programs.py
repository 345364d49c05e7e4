"""Random programs mixing the core's custom instructions across four threads
(``verif/core/random_programs.py``), against the core model.

* On the model alone, many seeds: each program ends with PASS (no deadlock, no trap), contains
  every kind of command, and every STATUS it reads answers the code of the refusal the
  generator meant (so the refused commands are refused, and for the reason intended).
* On the SMALL core's RTL (Verilator, a few seeds; Icarus, one): every retired instruction in
  lockstep with the model, the whole scratchpad equal to the model's at the end (results,
  everything each thread read, STATUS answers), the bench's stream checks, and the counters
  accounting for every cycle.

A failure names its seed; ``random_program(seed, commands=...)`` rebuilds the program.
"""

import pytest

from hw.core.config import SMALL
from hw.core.isa import Error
from tests.groups import core_cases
from verif.core.model import CoreModel
from verif.core.random_programs import random_program
from verif.core.run import run_core_program

MODEL_SEEDS = range(40)
#: ``(seed, commands per thread)``: Icarus runs the whole core at a few hundred cycles a second,
#: so its program is shorter.
VERILATOR_SEEDS = tuple((seed, 20) for seed in range(1, 9))
ICARUS_SEEDS = ((4, 6),)


def _model(prog):
    model = CoreModel(threads=SMALL.threads, sram=SMALL.sram, tohost=prog.tohost)
    for addr, blob in prog.image:
        model.memory.write(addr, bytes(blob))
    return model, model.run(2_000_000)


@pytest.mark.parametrize("seed", MODEL_SEEDS)
def test_on_the_model(seed):
    """The program passes on the model and each STATUS answers the refusal intended."""
    prog = random_program(seed)
    model, result = _model(prog)
    assert result.status == "pass", f"seed {seed}: {result.status} {result.deadlock}"
    for addr, code in prog.statuses:
        word = int.from_bytes(model.memory.read(addr, 8), "little")
        assert word & 0xFFFF_FFFF == code, f"seed {seed}: STATUS at {addr:#x}: {word:#x}"


def test_every_kind_is_generated():
    """Over the model's seeds, every kind of command and synchronisation appears, and the
    STATUS reads expect every error code (and NONE)."""
    totals = {}
    codes = set()
    for seed in MODEL_SEEDS:
        prog = random_program(seed)
        for k, n in prog.counts.items():
            totals[k] = totals.get(k, 0) + n
        codes |= {code for _, code in prog.statuses}
    assert all(totals.values()), totals
    assert codes == set(map(int, Error)), codes


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(threads=0), ValueError, "threads must be in 1..4, not 0"),
    (dict(threads="4"), TypeError, "threads must be an integer, not '4'"),
    (dict(commands=41), ValueError, "commands must be in 1..40, not 41"),
])
def test_parameters(kwargs, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        random_program(1, **kwargs)


def test_fewer_threads_and_most_commands():
    """One and two threads, and 40 actions a thread, pass on the model too."""
    for kw in (dict(threads=1), dict(threads=2), dict(commands=40)):
        prog = random_program(11, **kw)
        model = CoreModel(threads=kw.get("threads", 4), sram=SMALL.sram, tohost=prog.tohost)
        for addr, blob in prog.image:
            model.memory.write(addr, bytes(blob))
        assert model.run(2_000_000).status == "pass", kw


def test_same_seed_same_program():
    assert random_program(7).image == random_program(7).image
    assert random_program(7).image != random_program(8).image


@pytest.mark.parametrize("sim,seed,commands", core_cases(
    "SMALL", [("verilator", *s) for s in VERILATOR_SEEDS] + [("icarus", *s) for s in ICARUS_SEEDS]))
def test_on_the_rtl(sim, seed, commands):
    """Lockstep, the whole scratchpad and the counters against the model (``run.check()``)."""
    prog = random_program(seed, commands=commands)
    run = run_core_program(prog.image, config=SMALL, sim=sim, tohost=prog.tohost,
                           max_cycles=400_000, check=False)
    try:
        run.check()
    except Exception as e:
        raise AssertionError(f"random_program({seed}, commands={commands}) on {sim}: {e}") \
            from None
    assert run.status == "pass", \
        f"random_program({seed}, commands={commands}) on {sim}: {run.status}\n{run.watchdog}"
