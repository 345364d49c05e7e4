"""The training step's model (verif/perf/kernels.train_step) and the instructions it charges
the scalar core for (verif/perf/insns.py): known answers, the stored mixes against a fresh
trace of train.c, the step's GEMM beats against the bench's matrix busy cycles."""

import math

import pytest

from verif.perf import calibrate, figures, insns, kernels, params
from verif.scalar import riscv


@pytest.fixture(scope="module")
def sections():
    return figures.load()


@pytest.fixture(scope="module")
def ps(sections):
    return params.build(sections, engine="SMALL")


# (instruction word, next pc offset, class): RV64IM encodings written out
@pytest.mark.parametrize("insn, step, cls", [
    (0x003100B3, 4, "alu"),            # add x1, x2, x3
    (0x0080006F, 8, "alu"),            # jal x0, +8 (docs/scalar.md: 2 cycles, as an ALU op)
    (0x00012083, 4, "load"),           # lw x1, 0(x2)
    (0x00112023, 4, "store"),          # sw x1, 0(x2)
    (0x023100B3, 4, "mul"),            # mul x1, x2, x3
    (0x0231D0B3, 4, "div"),            # divu x1, x3, x3
    (0x0231C0BB, 4, "div"),            # divw x1, x3, x3
    (0xFE209EE3, -4, "loop"),          # bne x1, x2, -4: a taken backward branch
    (0xFE209EE3, 4, "branch"),         # the same, not taken: the loop's exit
    (0x00208463, 8, "branch"),         # beq x1, x2, +8: forward
    (0x000080E7, 64, "jalr"),          # jalr x1, 0(x1)
    (0x3000A073, 4, "csr"),            # csrs mstatus, x1
    (0x0000607B, 4, "coprocessor"),    # custom-3 (d1.rdctr's opcode)
    (0x0000000B, 4, "coprocessor"),    # custom-0
])
def test_classify(insn, step, cls):
    pc = 0x8000_0100
    assert insns.classify(insn, pc, pc + step) == cls


def test_thread_cycles_known():
    # 10 ALU (2 each), 1 load (4 + the scratchpad's 5 - 1), 2 coprocessor (4 + 3), a line (3)
    mix = {"alu": 10, "load": 1, "coprocessor": 2, "line_seq": 1}
    assert kernels.thread_cycles(mix) == 20 + 8 + 14 + 3
    assert set(kernels.INSN_CYCLES) == set(insns.CLASSES)


def test_stored_mixes_cover_the_bench():
    mixes = insns.load()
    assert set(mixes) == {4, 3}
    for mix in mixes.values():
        assert set(mix) == set(insns.PHASES)
        assert all(set(m) == set(insns.CLASSES) for m in mix.values())
    # the compute phases run the same commands whatever the shard (one NARROW a line): within
    # a few instructions of each other
    for phase in ("forward_backward", "update"):
        assert (kernels.thread_cycles(mixes[4][phase])
                == pytest.approx(kernels.thread_cycles(mixes[3][phase]), rel=0.01))
    # the all-reduce's round counts: a multiplication per semaphore with 4 ranks, divisions
    # with 3 (chunk bounds j·L/3 at run time)
    assert mixes[4]["allreduce"]["div"] == 0 and mixes[3]["allreduce"]["div"] > 0


def test_stored_mixes_are_the_programs():
    """train_insns.json is what a fresh trace of the current train.c gives (rerun
    ``python -m verif.perf.insns`` after changing the program)."""
    try:
        riscv.compiler()
    except riscv.CompilerMissing:
        pytest.skip("no RISC-V compiler")
    stored = insns.load()
    assert insns.train_mix(dead=((1, 0),)) == stored[3]
    assert insns.train_mix() == stored[4]


def test_instruction_costs_on_the_allreduce_runs(sections):
    """The per-class costs, checked on the training step, against the other program that
    counts its thread's cycles: every bench-mesh-allreduce run's window (issued, in flight
    and fetch cycles of thread 0) within 10 % of its traced instructions' cycles."""
    try:
        riscv.compiler()
    except riscv.CompilerMissing:
        pytest.skip("no RISC-V compiler")
    if "bench-mesh-allreduce" not in sections:
        pytest.skip("bench-mesh-allreduce not measured")
    for r in sections["bench-mesh-allreduce"].figures["allreduce"]:
        mix = insns.allreduce_mix(r["n"], piece=r["piece"], dead=tuple(map(tuple, r["dead"])))
        measured = r["thread_issued"] + r["thread_in_flight"] + r["thread_fetch"]
        assert kernels.thread_cycles(mix) == pytest.approx(measured, rel=0.10), r


class _Record:
    """Stands in for the model's thread: records the GEMMs a phase queues."""

    def __init__(self):
        self.gemms = []

    def gemm(self, m, n, k):
        self.gemms.append((m, n, k))

    def vop(self, lines, dependent=True):
        pass

    def sync(self):
        pass

    def insns(self, n):
        pass


@pytest.mark.parametrize("cores", [4, 3])
def test_step_gemm_beats_are_the_bench_matrix_busy(sections, ps, cores):
    """The step's GEMMs as the model issues them: their beats (a 2 × 2-tile group × L × K
    each) are the matrix engine's busy cycles the bench counted, exactly."""
    if "bench-mesh-train" not in sections:
        pytest.skip("bench-mesh-train not measured")
    run = next(r for r in sections["bench-mesh-train"].figures["train"] if r["cores"] == cores)
    din, hid, dout = run["sizes"]
    rows = math.ceil(run["batch"] / cores)
    ldf = {c: math.ceil(4 * c / 64) for c in (din, hid, dout, rows)}
    t = _Record()
    kernels._forward_backward(t, din, hid, dout, rows, ldf)
    beats = sum(kernels.gemm_beats(ps, *g) for g in t.gemms)
    assert beats == run["per_step"][-1]["matrix_busy"]


def test_queued_gemm_adds_its_beats(ps):
    # docs/core.md, GEMM sequencer: a second GEMM queued behind the first adds its beats only
    one = kernels._Thread(ps)
    one.gemm(16, 16, 32)
    one.sync()
    two = kernels._Thread(ps)
    two.gemm(16, 16, 32)
    two.gemm(16, 16, 32)
    two.sync()
    assert two.cycles - one.cycles == kernels.gemm_beats(ps, 16, 16, 32) == 4 * 32


def test_step_without_its_mix_is_reported_missing(sections, monkeypatch):
    if "bench-mesh-train" not in sections:
        pytest.skip("bench-mesh-train not measured")
    monkeypatch.setattr(insns, "load", lambda: {})
    rows = [r for r in calibrate.program_checks(sections) if "training step" in r["case"]]
    assert len(rows) == len(sections["bench-mesh-train"].figures["train"])
    assert all(r["measured"] is None and "verif.perf.insns" in r["note"] for r in rows)
