"""Running request arrays through the FMA unit in RTL simulation, from the command line.

Used by ``d1core vectors --unit fma``: requests (dicts of arrays, see ``verif.fp.fma_tb``) are
packed with the unit's layout, sent in batches through ``verif.stream_run.run_stream`` and unpacked
again.
"""

from hw.fp.fma import FMAUnit, fma_request_layout, fma_response_layout
from sim.flow.build import Design
from verif.fp.fma_tb import FIELDS
from verif.stream_run import run_tagged

__all__ = ["FMA_DESIGN", "TAG_WIDTH", "run_fma"]

TAG_WIDTH = 8
#: The unit as the regression and the command line build it (one Verilator build for both).
FMA_DESIGN = Design.of("fp_fma", FMAUnit, tag_width=TAG_WIDTH)


def run_fma(batches, sim, *, waves=None, progress=True, design=FMA_DESIGN):
    """Run ``batches`` (dicts with ``req``, and optional ``idle``, ``stall``, ``label``) through
    the FMA unit. Returns ``(results, summary, info)`` where each result is ``{"z", "flags",
    "tag"}`` (uint64 arrays); a response whose tag is not its request's index modulo
    2**TAG_WIDTH (lost, duplicated or reordered) raises ``AssertionError``."""
    return run_tagged(design, batches, sim, request_layout=fma_request_layout(TAG_WIDTH),
                      response_layout=fma_response_layout(TAG_WIDTH), fields=FIELDS,
                      tag_width=TAG_WIDTH, waves=waves, progress=progress)
