"""The D1 core's RTL (``hw.core.core.Core``) running programs, checked by ``verif.core.run``:
every retired instruction in lockstep with the core model, every byte of the scratchpad equal to
the model's at the end, every load accepted, no stream rule broken.

* The scalar core's programs run unchanged on the integrated core: the ISA tests (all on
  Verilator, a selection on Icarus; built for the scratchpad's size, which ``traps`` probes)
  and the C programs on four threads (Verilator: their tens of thousands of cycles take
  minutes on Icarus).
* The core's C programs (``verif/core/programs``): every kind of custom instruction, its errors
  and an illegal one, ending as they end on the model (the same ``tohost``), on both simulators.
* The GEMM kernel at shapes that are not multiples of the tile, BF16 and CFP8: D equal to the
  SoftFloat-based reference, the counters adding up.
* The row-major GEMM kernel (the layout by the vector unit, double-buffered; the head split with
  the DMA's staging) and with the fused epilogue (RNE, SR): D and the BF16 output bit for bit
  equal to the references, on both simulators.
* The layer-normalisation kernel at three shapes (one on Icarus): its BF16 rows equal to the
  same operations in numpy, the vector unit busy for exactly its lines.
* The host stops a thread for a while (``Core.halt``) and it goes on where it was.
* A program that waits forever is stopped by the bench's watchdog, which reports every thread and
  every semaphore.
* The counters the bench reads after every run (``verif.core.counters``) account for every
  cycle (``run.check()``); a program's unit is busy, the units it does not use idle throughout.

All on the SMALL core; the D1 core runs in ``test_core_d1.py``.
"""

import pytest

from hw.core.config import SMALL
from hw.core.counters import UNIT_CAUSES
from tests.groups import core_cases
from verif.core import programs
from verif.core.kernels import gemm_kernel, gemm_rm_kernel
from verif.core.kernels.layernorm import layernorm_kernel
from verif.core.model import CoreModel
from verif.core.run import run_core_program
from verif.scalar import elf, riscv
from verif.scalar import programs as scalar_programs
from verif.scalar.core_tb import parse_trace

SIMS = ("verilator", "icarus")
#: The ISA tests also run on Icarus (each is a whole core on Icarus, about half a minute; the
#: scalar core's own tests run every ISA test on Icarus). ``add`` runs there in
#: ``test_host_halts_a_thread``.
ICARUS_ISA = ("csr",)


def _elf(path_fn, *args, **kw):
    try:
        return elf.load(path_fn(*args, **kw))
    except riscv.CompilerMissing as e:
        pytest.skip(str(e))


def _run(program, sim, image=None, **kw):
    return run_core_program(program.segments if image is None else image, config=SMALL,
                            sim=sim, tohost=program.tohost, **kw)


def _model_result(program, image=None):
    model = CoreModel(threads=SMALL.threads, sram=SMALL.sram, reset_pc=program.entry,
                      tohost=program.tohost)
    for addr, blob in (program.segments if image is None else image):
        model.memory.write(addr, bytes(blob))
    return model.run(1_000_000)


@pytest.mark.parametrize("sim,name", core_cases(
    "SMALL", [("verilator", n) for n in scalar_programs.ISA_TESTS]
    + [("icarus", n) for n in ICARUS_ISA]))
def test_isa_tests(sim, name):
    # built for the scratchpad's size: traps.S checks the first address past memory
    run = _run(_elf(riscv.isa_test, name, ram_size=SMALL.sram.size), sim, max_cycles=200_000)
    assert run.status == "pass", (run.status, run.test)


@pytest.mark.parametrize("name", scalar_programs.C_PROGRAMS)
@pytest.mark.parametrize("sim", core_cases("SMALL", [("verilator",)]))
def test_c_programs_on_four_threads(sim, name):
    run = _run(_elf(riscv.c_program, name, workers=4), sim, max_cycles=2_000_000)
    assert run.status == "pass", (run.status, run.test)
    assert all(run.retired), run.retired


#: The core programs on Icarus: those whose paths no Icarus kernel test runs. ``gemm``, ``dma`` and
#: ``vector`` set their data up in C on one thread (5,000 instructions, 20,000 cycles for
#: ``gemm``: two minutes on Icarus), and their units run on Icarus in the kernels below: the
#: GEMM kernel (matrix unit), the row-major kernel (DMA, matrix and vector units), layer
#: normalisation (vector unit).
ICARUS_PROGRAMS = ("illegal", "layouts", "semaphores")


@pytest.mark.parametrize("sim,name", core_cases(
    "SMALL", [("verilator", p) for p in programs.PROGRAMS if p != "deadlock"]
    + [("icarus", p) for p in ICARUS_PROGRAMS]))
def test_core_programs(sim, name):
    """Each core program ends on the RTL as on the model (pass, or the trap its handler reports
    for the illegal instruction), in lockstep, with the same scratchpad."""
    program = _elf(programs.build, name)
    want = _model_result(program)
    run = _run(program, sim, max_cycles=400_000)
    assert run.tohost == want.tohost, (run.status, run.tohost, want.status, want.tohost)
    assert run.status == ("pass" if want.status == "pass" else "fail")
    _check_counters(run, USES.get(name))


#: The unit each core program uses (the others use none).
USES = {"gemm": "matrix", "vector": "vector", "dma": "DMA"}


def _check_counters(run, used):
    """The counters of a run: every cycle accounted for (``CounterReport.errors``: each unit's
    causes and each thread's reasons add up to CYCLES, which is the run's cycles); the unit the
    program uses busy for some cycles, every other unit idle for every cycle; each thread's
    instructions the retire records of the lockstep trace (a trapping instruction's record
    included: it leaves through the retire port too); thread 0 runs from the
    second cycle (the first is the one in which ``go`` rises and the scalar core leaves reset)."""
    ctr = run.counters
    assert ctr.errors() == []
    assert ctr.cycles == run.cycles > 0
    for unit, causes in ctr.units.items():
        if unit == used:
            assert causes["busy"] > 0 and causes["idle"] < ctr.cycles, (unit, causes)
        else:
            assert causes["idle"] == ctr.cycles, (unit, causes)
    records = parse_trace(run.run_dir / "trace.txt")
    assert [t["instructions"] for t in ctr.threads] == [
        sum(r.thread == t for r in records) for t in range(SMALL.threads)]
    assert ctr.threads[0]["not_running"] == 1
    # Every instruction that retires issued once (a thread-control write that waits issues
    # again), and nobody held a thread.
    for reasons in ctr.threads:
        assert reasons["issued"] >= reasons["instructions"], reasons
        assert reasons["held"] == 0, reasons


@pytest.mark.parametrize("sim", core_cases("SMALL", [(s,) for s in SIMS]))
def test_host_halts_a_thread(sim):
    """The host port stops a thread (``Core.halt``) and lets it go on: the ISA test ``add`` (one
    thread) with thread 0 halted for 1,000 cycles from cycle 100 still passes in lockstep with
    the model and the same scratchpad (its state kept), the counters count exactly those 1,000
    cycles as held, and the run is at least 900 cycles longer than without the halt (a halt
    that did not stop the thread would leave it as long)."""
    program = _elf(riscv.isa_test, "add", ram_size=SMALL.sram.size)
    plain = _run(program, sim, max_cycles=200_000)
    halted = _run(program, sim, max_cycles=200_000, halt=(0b0001, 100, 1000))
    assert plain.status == halted.status == "pass"
    assert plain.counters.threads[0]["held"] == 0
    assert halted.counters.threads[0]["held"] == 1000
    assert halted.cycles > plain.cycles + 900, (plain.cycles, halted.cycles)
    assert halted.retired == plain.retired


@pytest.mark.parametrize("halt", [(0b10000, 0, 1), (1, -1, 1), (1, 0, 1 << 64), (1, 0),
                                  [1, 0, 1], (1, 0, 1.5)])
def test_bad_halt_is_refused(halt):
    """A halt the bench cannot drive (a thread the core lacks, a negative or too wide cycle, not
    three integers) is refused before anything is built or run."""
    with pytest.raises(ValueError, match=r"halt must be \(mask of the 4 threads, cycle, cycles\)"):
        run_core_program([], config=SMALL, halt=halt)


@pytest.mark.parametrize("sim", core_cases("SMALL", [("verilator",)]))
def test_watchdog_reports_a_thread_waiting_forever(sim):
    """deadlock.c sleeps on a semaphore nobody signals: nothing retires, the bench's watchdog
    ends the run as a hang and reports every thread's last pc, that thread asleep at the
    dispatcher, and every semaphore."""
    program = _elf(programs.build, "deadlock")
    run = _run(program, sim, max_cycles=400_000, check=False)
    assert run.status == "hang"
    assert run.divergence is None and not run.memory
    assert "thread 0: last pc 0x8" in run.watchdog
    assert "waiting 1" in run.watchdog
    assert "semaphore 15 " in run.watchdog


@pytest.mark.parametrize("sim,fmt,shape", core_cases("SMALL", [
    ("verilator", "bf16", (20, 24, 9)),
    ("verilator", "cfp8", (13, 8, 21)),
    ("verilator", "bf16", (64, 64, 64)),
    ("icarus", "bf16", (9, 17, 5)),
]))
def test_gemm_kernel(sim, fmt, shape):
    """The GEMM kernel: D bit for bit equal to the SoftFloat-based reference (and to the model,
    with the rest of the scratchpad), no error; the matrix unit's busy counter is exactly the
    engine's beats (groups of 2×2 tiles, 4 slots, K beats each) and its five counters cover at
    least the kernel's cycles (they count from ``go``; each cycle is exactly one cause, which
    ``test_counters.py`` and each unit's tests check cycle by cycle)."""
    kern = gemm_kernel(*shape, fmt=fmt, seed=3)
    run = _run(kern.program, sim, image=kern.image, max_cycles=400_000)
    assert run.status == "pass", (run.status, run.test)
    ref, _ = kern.reference()
    assert (kern.d_from(run.read) == ref).all()
    res = kern.results(run.read)
    assert res["status"] == 0
    m, n, k = shape
    t = SMALL.matmul.tile_rows
    groups = -(-m // (2 * t)) * -(-n // (2 * t))
    assert res["busy"] == groups * 4 * k
    assert sum(res[c] for c in UNIT_CAUSES) >= res["cycles"]
    _check_counters(run, "matrix")
    assert run.counters.units["matrix"]["busy"] == res["busy"]


@pytest.mark.parametrize("sim,shape,fmt,head_k,epilogue", core_cases("SMALL", [
    ("verilator", (40, 72, 24), "bf16", 0, None),
    ("verilator", (66, 24, 64), "bf16", 32, None),
    ("verilator", (40, 40, 64), "cfp8", 0, None),
    ("verilator", (40, 72, 24), "bf16", 0, "sr"),
    # Icarus: kernel 2 only (its GEMM is kernel 1's; kernel 1 alone is 70 s more there)
    ("icarus", (8, 16, 8), "bf16", 0, "rne"),
]))
def test_gemm_rm_kernel(sim, shape, fmt, head_k, epilogue):
    """The row-major GEMM kernel (kernel 1) and with the fused epilogue (kernel 2): D bit for bit
    equal to the SoftFloat-based reference and the BF16 output to the vector model's epilogue
    (and both, with the rest of the scratchpad, to the core model); no unit refused anything;
    the matrix unit busy exactly for the engine's beats of every slab (and of both parts of the
    split first slab)."""
    kern = gemm_rm_kernel(*shape, fmt=fmt, head_k=head_k, epilogue=epilogue, seed=5)
    run = _run(kern.program, sim, image=kern.image, max_cycles=400_000)
    assert run.status == "pass", (run.status, run.test)
    ref, _ = kern.reference()
    assert (kern.d_from(run.read) == ref).all()
    if epilogue:
        assert (kern.out_from(run.read) == kern.epilogue_reference(ref)).all()
    res = kern.results(run.read)
    assert res["status"] == res["vector_status"] == res["dma_status"] == 0
    m, n, k = shape
    t = SMALL.matmul.tile_rows
    rows = 64 if fmt == "cfp8" else 32
    slabs = [min(rows, m - i) for i in range(0, m, rows)]
    col_groups = sum(-(-min(kern.np_cols, n - c) // (2 * t)) for c in range(0, n, kern.np_cols))
    assert res["busy"] == sum(-(-r // (2 * t)) for r in slabs) * col_groups * 4 * k


@pytest.mark.parametrize("sim,rows,cols", core_cases("SMALL", [
    ("verilator", 3, 48),
    ("verilator", 8, 256),
    ("verilator", 5, 96),
    ("icarus", 2, 32),
]))
def test_layernorm_kernel(sim, rows, cols):
    """The layer-normalisation kernel (``layernorm.c``): its BF16 rows bit for bit equal to the
    same operations in numpy (and, as every run, to the model with the rest of the scratchpad),
    no error; the vector unit busy for exactly the kernel's lines (``vop_lines``: a busy cycle
    is a line entering the unit), and the kernel no faster than the vector sequencer's bound
    (one line a cycle, two every three for three-operand ops). Shapes: three rows of three
    lines (a VOP per line of all rows, the first level's leftover line), rows fewer than lines
    (a VOP per row), an odd count down the tree (6 → 3)."""
    kern = layernorm_kernel(rows, cols, seed=rows + 10)
    run = _run(kern.program, sim, image=kern.image, max_cycles=400_000)
    assert run.status == "pass", (run.status, run.test)
    assert (kern.y_from(run.read) == kern.reference()).all()
    res = kern.results(run.read)
    two, three = kern.vop_lines()
    assert res["status"] == 0 and res["busy"] == two + three
    assert res["cycles"] >= two + 1.5 * three
    _check_counters(run, "vector")
