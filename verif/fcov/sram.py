"""Functional coverage of the scratchpad (docs/sram.md): its banks' arbitration and its SECDED
code.

The scratchpad (block ``sram.slice``: the bank slices' arbiters and locks, seen through the
whole scratchpad): a sample is one requester's request at a bank in one cycle, with how the
bank's arbiter treated it (``alone``: granted with no other eligible requester; ``won``: granted
over others; ``lost``: another was granted; ``locked``: the bank is locked by another's
read-modify-write), for the seven ports and the scrubber; and one response of a port with its
status. The conflicts come from the cycle-level model's arbitration after the scoreboard found
every accept cycle and response of the design equal to the model's (the cycle a request is
accepted follows from the grants, so the design was seen to arbitrate so);
:func:`sample_scratchpad`, called by ``verif/sram/scratchpad_tb.py``. Every (requester,
pattern) and (port, status) pair is a bin: every port can be refused (misaligned, out of range),
and the writing ports see CORRECTED and UNCORRECTABLE through a read-modify-write's first phase.

The SECDED decoder (block ``sram.ecc_decoder``):
A sample is one word the decoder checked: the codeword the testbench encoded (the clean data and
its check bits), the word the decoder received (the same with the testbench's flipped bits), and
the status and corrected position the decoder gave (:func:`sample_ecc_decoder`, called by
tests/sram/tb_ecc.py). The bins: every status; every error weight (none, one bit, two bits,
more); the single-bit error corrected at every one of the 72 codeword bits (data bits ``d0`` ..
``d63``, check bits ``c0`` .. ``c7``); the double-bit error detected with every bit among the two
flipped. SECDED's contract makes some combinations impossible: no error is always OK, one is
always CORRECTED, two are always UNCORRECTABLE (three or more may give any status: they are
outside the code's guarantee, and those bins show the decoder was driven there).
"""

import numpy as np

from hw.common.memport import Status
from hw.sram.config import PORTS, SCRUB
from hw.sram.ecc import CHECK_BITS, CODE_BITS, DATA_BITS

from . import Cross, Group, Point, record, requested

__all__ = ["SLICE", "ECC_DECODER", "GROUPS", "BIT_LABELS", "sample_scratchpad",
           "sample_ecc_decoder"]

#: The codeword's bits: data bits 0..63, then check bits 0..7 (codeword bits 64..71).
BIT_LABELS = tuple(f"d{k}" for k in range(DATA_BITS)) + tuple(f"c{k}" for k in range(CHECK_BITS))
STATUSES = ("ok", "corrected", "uncorrectable")
WEIGHTS = ("none", "single", "double", "more")
_STATUS_OF_WEIGHT = {"none": "ok", "single": "corrected", "double": "uncorrectable"}


def _weight_status(c):
    want = _STATUS_OF_WEIGHT.get(c["error"])
    if want is None or c["status"] == want:
        return None
    return f"SECDED: {c['error'] if c['error'] != 'none' else 'no'} error gives {want} only"


ECC_DECODER = Group(
    "sram.ecc_decoder",
    "one word through the SECDED decoder: the codeword encoded, the bits flipped on the way and "
    "the decoder's status and corrected position (tests/sram/tb_ecc.py)",
    points=(
        Point("status", STATUSES, "the decoder's status"),
        Point("error", WEIGHTS, "how many codeword bits were flipped"),
        Point("single", BIT_LABELS, "the bit of a single-bit error the decoder corrected"),
        Point("double", BIT_LABELS, "the bits of a double-bit error the decoder detected",
              multi=True),
    ),
    crosses=(
        Cross("error_status", ("error", "status"), "each error weight's statuses",
              _weight_status),
    ),
)


def _popcount(x):
    return np.bitwise_count(np.asarray(x, dtype=np.uint64)).astype(np.int64)


def sample_ecc_decoder(sent_data, sent_check, data, check, status, position):
    """Sample decoded words: ``sent_data``/``sent_check`` the clean codewords, ``data``/``check``
    what the decoder received, ``status`` (0 OK, 1 CORRECTED, 2 UNCORRECTABLE) and ``position``
    (the corrected codeword bit) what it gave. Does nothing unless functional coverage is on."""
    if requested() is None:
        return
    ed = np.asarray(sent_data, dtype=np.uint64) ^ np.asarray(data, dtype=np.uint64)
    ec = (np.asarray(sent_check, dtype=np.uint64) ^ np.asarray(check, dtype=np.uint64)) & \
        np.uint64((1 << CHECK_BITS) - 1)
    weight = _popcount(ed) + _popcount(ec)
    status = np.asarray(status).astype(np.int64)
    position = np.asarray(position).astype(np.int64)
    samples = set()
    for i in range(len(weight)):
        w = WEIGHTS[min(int(weight[i]), 3)]
        s = STATUSES[status[i]] if 0 <= status[i] < 3 else None
        single = double = None
        if w == "single" and s == "corrected" and 0 <= position[i] < CODE_BITS:
            single = BIT_LABELS[position[i]]
        if w == "double" and s == "uncorrectable":
            bits = [k for k in range(DATA_BITS) if (int(ed[i]) >> k) & 1]
            bits += [DATA_BITS + k for k in range(CHECK_BITS) if (int(ec[i]) >> k) & 1]
            double = frozenset(BIT_LABELS[k] for k in bits)
        samples.add((s, w, single, double))
    record(ECC_DECODER, sorted(samples, key=repr))


REQUESTERS = tuple(p.name for p in (*PORTS, SCRUB))
CONFLICTS = ("alone", "won", "lost", "locked")
PORT_STATUSES = tuple(s.name.lower() for s in sorted(Status, key=lambda s: s.value))
_STATUS_NAME = {s.value: s.name.lower() for s in Status}

SLICE = Group(
    "sram.slice",
    "a requester's request at its bank in one cycle and how the bank's arbiter treated it; a "
    "port's response and its status (verif/sram/scratchpad_tb.py, the design's accept cycles "
    "and responses equal to the model's)",
    points=(
        Point("requester", REQUESTERS, "the requester (the seven ports and the scrubber)"),
        Point("conflict", CONFLICTS, "what the bank's arbiter did with its request"),
        Point("port", tuple(p.name for p in PORTS), "the port of a response"),
        Point("status", PORT_STATUSES, "the response's status"),
    ),
    crosses=(
        Cross("requester_conflict", ("requester", "conflict"),
              "every requester in every conflict pattern"),
        Cross("port_status", ("port", "status"), "every port with every status"),
    ),
)


def sample_scratchpad(conflict_log, statuses):
    """Sample the scratchpad: ``conflict_log`` (the model's, per cycle a list per requester
    of a pattern or None) and ``statuses`` (``{port number: [status, ...]}`` of the design's
    responses). Does nothing unless functional coverage is on."""
    if requested() is None:
        return
    samples = {(REQUESTERS[k], c, None, None) for cycle in conflict_log
               for k, c in enumerate(cycle) if c is not None}
    samples |= {(None, None, PORTS[k].name, _STATUS_NAME.get(int(s))) for k, ss in
                statuses.items() for s in ss}
    record(SLICE, sorted(samples, key=repr))


GROUPS = (SLICE, ECC_DECODER)
