"""Running request arrays through the FMA unit in RTL simulation, from the command line.

Used by ``d1core vectors --unit fma``: requests (dicts of arrays, see ``verif.fp.fma_tb``) are
packed with the unit's layout, sent in batches through ``sim.runner.run_stream`` and unpacked
again.
"""


import numpy as np

from hw.fp.fma import FMAUnit, fma_request_layout, fma_response_layout
from verif.fp.fma_tb import FIELDS
from verif.pack import pack, unpack

from .build import Design
from .runner import run_stream

__all__ = ["FMA_DESIGN", "TAG_WIDTH", "run_fma"]

# Re-exported for older callers: sim.runner now applies it to every Verilator build.
from .toolchain import verilator_pch_workaround  # noqa: E402,F401

TAG_WIDTH = 8
#: The unit as the regression and the command line build it (one Verilator build for both).
FMA_DESIGN = Design.of("fp_fma", FMAUnit, tag_width=TAG_WIDTH)


def run_fma(batches, sim, *, waves=None, progress=True, design=FMA_DESIGN):
    """Run ``batches`` (dicts with ``req``, and optional ``idle``, ``stall``, ``label``) through
    the FMA unit. Returns ``(results, summary, info)`` where each result is ``{"z", "flags",
    "tag"}`` (uint64 arrays); a response whose tag is not its request's index modulo
    2**TAG_WIDTH (lost, duplicated or reordered) raises ``AssertionError``."""
    stream_batches = []
    for b in batches:
        req = b["req"]
        n = len(req["a"])
        tags = np.arange(n, dtype=np.uint64) % np.uint64(1 << TAG_WIDTH)
        words = pack(fma_request_layout(TAG_WIDTH), tag=tags, **{k: req[k] for k in FIELDS})
        stream_batches.append({**{k: v for k, v in b.items() if k != "req"}, "words": words})
    responses, summary, info = run_stream(design, stream_batches, sim, waves=waves,
                                          progress=progress)
    results = []
    for b, words in zip(batches, responses, strict=True):
        got = unpack(fma_response_layout(TAG_WIDTH), np.array(words, dtype=np.uint64))
        n = len(b["req"]["a"])
        expect_tags = np.arange(n, dtype=np.uint64) % np.uint64(1 << TAG_WIDTH)
        if not np.array_equal(got["tag"], expect_tags):
            first = int(np.flatnonzero(got["tag"] != expect_tags)[0])
            raise AssertionError(f"response {first} carries tag {int(got['tag'][first])}, "
                                 f"expected {int(expect_tags[first])}: lost or reordered")
        results.append(got)
    return results, summary, info
