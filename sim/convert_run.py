"""Running request arrays through the conversion unit in RTL simulation, from the command line.

Shared by ``d1core sim`` (the demo), ``d1core vectors --unit convert`` and ``d1core bench``:
requests (dicts of arrays, see ``verif.fp.stimulus``) are packed with the unit's layout, sent in
batches through ``sim.runner.run_stream`` and unpacked again.
"""

import numpy as np

from hw.fp.convert import ConvertUnit, request_layout, response_layout
from verif.pack import pack, unpack

from .build import Design
from .runner import run_stream

__all__ = ["CONVERT_DESIGN", "TAG_WIDTH", "run_convert"]

TAG_WIDTH = 8
CONVERT_DESIGN = Design.of("fp_convert", ConvertUnit, tag_width=TAG_WIDTH)


def run_convert(batches, sim, *, waves=None, progress=True, design=CONVERT_DESIGN):
    """Run ``batches`` (dicts with ``req``, and optional ``seed``, ``idle``, ``stall``,
    ``label``) through the conversion unit. Returns ``(results, summary, info)`` where each result
    is ``{"data", "flags", "tag"}`` (uint64 arrays); a response whose tag is not its request's
    index modulo 2**TAG_WIDTH (lost, duplicated or reordered) raises ``AssertionError``."""
    stream_batches = []
    for b in batches:
        req = b["req"]
        n = len(req["data"])
        tags = np.arange(n, dtype=np.uint64) % np.uint64(1 << TAG_WIDTH)
        words = pack(request_layout(TAG_WIDTH), data=req["data"], op=req["op"], fmt=req["fmt"],
                     bias=req["bias"], rnd=req["rnd"], tag=tags)
        stream_batches.append({**{k: v for k, v in b.items() if k != "req"}, "words": words})
    responses, summary, info = run_stream(design, stream_batches, sim, seed_port="seed",
                                          waves=waves, progress=progress)
    results = []
    for b, words in zip(batches, responses, strict=True):
        got = unpack(response_layout(TAG_WIDTH), np.array(words, dtype=np.uint64))
        n = len(b["req"]["data"])
        expect_tags = np.arange(n, dtype=np.uint64) % np.uint64(1 << TAG_WIDTH)
        if not np.array_equal(got["tag"], expect_tags):
            first = int(np.flatnonzero(got["tag"] != expect_tags)[0])
            raise AssertionError(f"response {first} carries tag {int(got['tag'][first])}, "
                                 f"expected {int(expect_tags[first])}: lost or reordered")
        results.append(got)
    return results, summary, info

