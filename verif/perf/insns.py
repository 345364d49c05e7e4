"""The instructions ``train.c``'s one thread executes per phase of a step, by class: what the
training step's model (:func:`.kernels.train_step`) charges the scalar core for.

The compiled program (the bench's REPORT build, ``verif.mesh.train.train_program``) runs on the
scalar ISS (``verif.scalar.iss``) as one live core of the mesh, its place and data as the host
writes them, with every custom instruction answered 0 at once (no unit runs; the thread's path
does not depend on the units' results: a wait returns, a counter reads 0). A phase runs from one
REPORT stamp's RDCTR of the cycle counter to the next, as the bench's spans do; the last step's
phases are taken, averaged over the live ranks. The classes are those of docs/scalar.md's
timing table (:data:`CLASSES`), a 32-byte line change counted apart (sequential or a jump).

``python -m verif.perf.insns`` rewrites ``train_insns.json`` (needs the RISC-V compiler);
the model only reads it.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from hw.core.isa import Counter as CoreCounter
from hw.mesh.config import MESH_2X2

__all__ = ["CLASSES", "PHASES", "TRAIN_INSNS", "classify", "train_mix", "allreduce_mix", "load",
           "main"]

#: The classes counted: ALU (and JAL, LUI, AUIPC), backward branches taken (a loop's), other
#: branches, JALR, loads, stores, multiplications, divisions, CSR instructions, coprocessor
#: (custom-0..3: every d1 instruction), and the thread's line changes.
CLASSES = ("alu", "loop", "branch", "jalr", "load", "store", "mul", "div", "csr",
           "coprocessor", "line_seq", "line_jump")
#: The bench's spans, in stamp order.
PHASES = ("forward_backward", "allreduce", "update")
TRAIN_INSNS = Path(__file__).with_name("train_insns.json")
_CUSTOM = (0x0B, 0x2B, 0x5B, 0x7B)
_SYNC, _RDCTR = 0x7B, 6


def classify(insn, pc, next_pc):
    """The class of one executed instruction (``next_pc``: where its thread went)."""
    op, f3, f7 = insn & 0x7F, (insn >> 12) & 7, insn >> 25
    if op == 0x03:
        return "load"
    if op == 0x23:
        return "store"
    if op in (0x33, 0x3B) and f7 == 1:
        return "mul" if f3 < 4 else "div"
    if op == 0x63:
        return "loop" if next_pc < pc else "branch"
    if op == 0x67:
        return "jalr"
    if op in _CUSTOM:
        return "coprocessor"
    if op == 0x73:
        return "csr"
    return "alu"


def _trace(program, dead, rank, config, marker, stop):
    """``[(marks so far, class, pc, next pc)]`` of one rank's run up to its ``stop``-th mark (or
    its end); a mark is an RDCTR of counter ``marker``."""
    # the mesh's host side and the ISS only here: the model reads the stored mixes
    from verif.mesh.run import live_mask
    from verif.scalar import elf, iss

    image = elf.load(program.elf)
    memory = iss.Memory(size=config.core.sram.size)
    image.load_into(memory)
    x, y = rank
    place = b"".join(v.to_bytes(4, "little")
                     for v in (x, y, config.width, config.height, live_mask(config, dead)))
    memory.write(image.symbol("d1_place"), place)
    for addr, blob in program.segments()[x, y]:
        memory.write(addr, blob)
    stamps = []

    def coprocessor(thread, insn, a, b):
        if insn & 0x7F == _SYNC and (insn >> 12) & 7 == _RDCTR and a == marker:
            stamps.append(len(stamps))
        return 0

    sim = iss.ISS(memory, threads=1, tohost=image.tohost, coprocessor=coprocessor)
    t = sim.threads[0]
    trace = []
    for _ in range(1_000_000):
        record = sim.step()
        trace.append((len(stamps), classify(record.insn, record.pc, t.pc), record.pc, t.pc))
        if len(stamps) >= stop or sim._tohost_value() or not t.running:
            break
    return trace


def train_mix(*, dead=(), config=MESH_2X2, steps=3):
    """``{phase: {class: instructions}}`` of the last step, the mean over the live ranks."""
    from verif.mesh.train import train_program

    program = train_program(config=config, dead=dead, steps=steps, report=True)
    first = 4 * (steps - 1) + 1          # the last step's first stamp (one is the step's)
    return _mixes(program, dead, config, int(CoreCounter.CYCLES),
                  {first + i: phase for i, phase in enumerate(PHASES)})


def _mixes(program, dead, config, marker, phases):
    """``{phase: {class: instructions}}``, the mean over the live ranks; ``phases``: the
    marks counted (``{marks so far: phase}``)."""
    total = {phase: Counter() for phase in phases.values()}
    for rank in program.ranks:
        for mark, cls, pc, next_pc in _trace(program, dead, rank, config, marker,
                                             max(phases) + 1):
            if mark in phases:
                phase = total[phases[mark]]
                phase[cls] += 1
                if next_pc >> 5 != pc >> 5:
                    phase["line_seq" if next_pc == pc + 4 else "line_jump"] += 1
    n = len(program.ranks)
    return {phase: {c: total[phase][c] / n for c in CLASSES} for phase in total}


def allreduce_mix(n, *, piece, dead=(), config=MESH_2X2):
    """``{class: instructions}`` of ``allreduce.c``'s counted window (the bench's REPORT
    build: from thread 0's first counter read before the all-reduce to the first after it),
    the mean over the live ranks: :data:`.kernels.INSN_CYCLES` checked on another program."""
    from hw.core.counters import counter_index
    from verif.mesh.allreduce import allreduce_program

    program = allreduce_program(n, config=config, dead=dead, piece=piece, report=True,
                                per_core=True)
    marker = counter_index(thread=0, reason="instructions")
    return _mixes(program, dead, config, marker, {1: "window"})["window"]


def load(path=TRAIN_INSNS):
    """``{cores: {phase: {class: instructions}}}`` as stored, or ``{}`` when there is none."""
    path = Path(path)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {int(k): v for k, v in data["mixes"].items()}


def main(path=TRAIN_INSNS):
    """Trace the bench's two cases (every core live, (1, 0) dead) and write ``path``."""
    from verif.mesh.allreduce import ranks

    mixes = {}
    for dead in ((), ((1, 0),)):
        mixes[len(ranks(MESH_2X2, dead))] = train_mix(dead=dead)
    Path(path).write_text(json.dumps({
        "what": "train.c's instructions per phase of its last step (REPORT build, 2x2 SMALL, "
                "the default sizes), the mean over the live ranks: python -m verif.perf.insns",
        "mixes": mixes}, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
