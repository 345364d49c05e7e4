"""The vector unit as the regression, the command line and the bench build it (one Verilator
build for all of them), and running request arrays through it.

Used by ``d1core vectors --unit vector`` (FP32 FMA, multiply and add lines of a TestFloat file,
16 per request, one per lane) and ``d1core bench`` (part ``vector``).
"""

import numpy as np

from hw.vector.isa import VecOp, VecType, response_layout
from hw.vector.unit import VectorUnit
from sim.flow.build import Design
from verif.pack import unpack
from verif.stream_run import run_stream
from verif.vector.model import VectorUnitModel, ints_from_vectors, lanes, vector, vectors_from_ints
from verif.vector.unit_tb import TAG_WIDTH, pack_requests, requests

__all__ = ["VECTOR_DESIGN", "LANES", "run_vector", "model_vector", "fma_line_requests",
           "fp32_lanes"]

VECTOR_DESIGN = Design.of("vector_unit", VectorUnit, tag_width=TAG_WIDTH)
#: FP32 lanes of a request: lines of a vector file per request.
LANES = 16
_KIND_OPS = {"mulAdd": VecOp.FMA, "mul": VecOp.MUL, "add": VecOp.ADD}


def fma_line_requests(kind, operands):
    """Vector requests for the FP32 lines ``operands`` (``n × k`` codes, ``k`` = 3 for
    ``mulAdd``, 2 for ``mul`` and ``add``): line ``16r + i`` in lane ``i`` of request ``r``; the
    last request's spare lanes hold zeros."""
    n, k = operands.shape
    rows = -(-n // LANES)
    padded = np.zeros((rows * LANES, k), np.uint32)
    padded[:n] = operands
    req = requests(rows)
    req["op"] = _KIND_OPS[kind].value
    req["vtype"] = VecType.FP32.value
    for j, name in enumerate("abc"[:k]):
        req[name] = vector(padded[:, j].reshape(rows, LANES), 32)
    return req


def _tags(n):
    return np.arange(n, dtype=np.uint64) % np.uint64(1 << TAG_WIDTH)


def run_vector(batches, sim, *, waves=None, progress=True, design=VECTOR_DESIGN):
    """Run ``batches`` (dicts with ``req``, a request array, and optional ``idle``, ``stall``,
    ``label``) through the unit in the bulk harness. Returns ``(results, summary, info)``: per
    batch a dict of ``data`` (512-bit ints), ``flags``, ``error``, ``tag``; a response whose tag
    is not its request's index modulo 2**TAG_WIDTH raises ``AssertionError``."""
    stream_batches = [{**{k: v for k, v in b.items() if k != "req"},
                       "words": pack_requests(b["req"], _tags(len(b["req"])))} for b in batches]
    responses, summary, info = run_stream(design, stream_batches, sim, waves=waves,
                                          progress=progress)
    results = []
    for b, words in zip(batches, responses, strict=True):
        got = unpack(response_layout(TAG_WIDTH), np.array(words, dtype=object))
        expect = _tags(len(b["req"]))
        if not np.array_equal(got["tag"].astype(np.uint64), expect):
            first = int(np.flatnonzero(got["tag"].astype(np.uint64) != expect)[0])
            raise AssertionError(f"response {first} carries tag {int(got['tag'][first])}, "
                                 f"expected {int(expect[first])}: lost or reordered")
        results.append(got)
    return results, summary, info


def model_vector(req):
    """The model's responses to ``req`` from reset, in :func:`run_vector`'s form."""
    resp = VectorUnitModel().run(req)
    return {"data": ints_from_vectors(resp["data"]), "flags": resp["flags"].astype(np.uint64),
            "error": resp["error"].astype(np.uint64), "tag": resp["tag"]}


def fp32_lanes(data, n):
    """The first ``n`` FP32 lanes of the 512-bit ``data`` words, in order (lane ``i`` of word
    ``r`` is item ``16r + i``)."""
    return lanes(vectors_from_ints(list(data)), 32).reshape(-1)[:n].astype(np.uint64)
