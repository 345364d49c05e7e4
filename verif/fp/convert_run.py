"""Running request arrays through the conversion unit in RTL simulation, from the command line.

Shared by ``d1core sim`` (the demo), ``d1core vectors --unit convert`` and ``d1core bench``:
requests (dicts of arrays, see ``verif.fp.stimulus``) are packed with the unit's layout, sent in
batches through ``verif.stream_run.run_stream`` and unpacked again.
"""

from hw.fp.convert import ConvertUnit, request_layout, response_layout
from sim.flow.build import Design
from verif.stream_run import run_tagged

__all__ = ["CONVERT_DESIGN", "TAG_WIDTH", "run_convert"]

TAG_WIDTH = 8
CONVERT_DESIGN = Design.of("fp_convert", ConvertUnit, tag_width=TAG_WIDTH)


def run_convert(batches, sim, *, waves=None, progress=True, design=CONVERT_DESIGN):
    """Run ``batches`` (dicts with ``req``, and optional ``seed``, ``idle``, ``stall``,
    ``label``) through the conversion unit. Returns ``(results, summary, info)`` where each result
    is ``{"data", "flags", "tag"}`` (uint64 arrays); a response whose tag is not its request's
    index modulo 2**TAG_WIDTH (lost, duplicated or reordered) raises ``AssertionError``."""
    return run_tagged(design, batches, sim, request_layout=request_layout(TAG_WIDTH),
                      response_layout=response_layout(TAG_WIDTH),
                      fields=("data", "op", "fmt", "bias", "rnd"), tag_width=TAG_WIDTH,
                      seed_port="seed", waves=waves, progress=progress)

