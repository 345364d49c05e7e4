"""Configuration of the SRAM scratchpad: one frozen dataclass, its derived values, the port table,
the request/response layouts, the address interleaving and the presets.

Everything here is shared by the RTL (``hw/sram/scratchpad.py``), the cycle-level model
(``verif/sram/model.py``), the testbenches and the bench: nothing is written twice.

Geometry
  The scratchpad holds ``lines`` lines of 64 bytes, each stored as 8 SECDED codewords of 72 bits
  (``hw/sram/ecc.py``), in ``banks`` single-port bank memories of ``rows = lines / banks`` rows.
  A byte address ``a`` lies in line ``a // 64``, word ``(a % 64) // 8``; the line's bank and row
  come from :func:`bank_of` and :func:`row_of` (``interleave``: ``"line"`` puts consecutive lines
  in consecutive banks, ``"xor"`` XORs the row bits into the bank index so that strides that are
  multiples of the bank count still spread).

Ports (:data:`PORTS`, in this order; the index is the port number)
  ``vr0``, ``vr1``: vector reads, 64 B; ``vw``: vector write, 64 B with a byte mask; ``rr``:
  router read, 64 B; ``rw``: router write, 64 B with a byte mask; ``scalar``: 8 B read or write
  (an ``op`` field) with a byte mask; ``fetch``: instruction fetch, 32 B. An internal eighth
  requester, the scrubber (:data:`SCRUB`), writes corrected words back. The payloads are the
  memory-port contract of :mod:`hw.common.memport` (``Op`` and ``Status`` are defined there).

Presets
  ``D1``: 20,480 lines (1.25 MB) in 32 banks of 640 rows. ``SMALL``: 256 lines (16 KB) in 8
  banks, for the regression. ``TINY``: 32 lines in 4 banks: many bank conflicts and same-line
  collisions per cycle.
"""

from dataclasses import dataclass

from amaranth.lib import data

from hw.common import memport
from hw.common.params import check_int, check_name, check_pow2, check_tag_width, lookup

from .ecc import CODE_BITS, DATA_BITS

__all__ = ["index_bits", "LINE_BYTES", "WORD_BYTES", "LINE_WORDS", "LINE_CODE_BITS", "INTERLEAVES",
           "PortSpec", "PORTS", "SCRUB", "SRAMConfig", "D1", "SMALL", "TINY",
           "PRESETS", "get_preset", "bank_of", "row_of", "request_layout",
           "response_layout", "InjectLayout", "status_layout"]

LINE_BYTES = 64
WORD_BYTES = DATA_BITS // 8
LINE_WORDS = LINE_BYTES // WORD_BYTES
LINE_CODE_BITS = LINE_WORDS * CODE_BITS

#: Address interleavings: line -> bank.
INTERLEAVES = ("line", "xor")

#: Limits of the parameters (larger values are possible, but untested).
LINES_MAX = 1 << 24
BANKS_MAX = 64
DEPTH_MAX = 64



def index_bits(n):
    """Bits of an index ``0 .. n - 1``: at least 1 (a row of a one-row bank still has a port)."""
    return max(1, (n - 1).bit_length())

@dataclass(frozen=True)
class PortSpec:
    """One requester: ``width`` bytes per access (8, 32 or 64), whether it reads and writes;
    ``internal`` for the scrubber (no response stream, not counted)."""
    name: str
    width: int
    reads: bool
    writes: bool
    internal: bool = False

    @property
    def words(self):
        """8-byte words per access."""
        return self.width // WORD_BYTES


#: The external ports, in port-number order.
PORTS = (
    PortSpec("vr0", 64, reads=True, writes=False),
    PortSpec("vr1", 64, reads=True, writes=False),
    PortSpec("vw", 64, reads=False, writes=True),
    PortSpec("rr", 64, reads=True, writes=False),
    PortSpec("rw", 64, reads=False, writes=True),
    PortSpec("scalar", 8, reads=True, writes=True),
    PortSpec("fetch", 32, reads=True, writes=False),
)

#: The scrubber, requester number ``len(PORTS)``: read-modify-writes of whole lines.
SCRUB = PortSpec("scrub", 64, reads=False, writes=True, internal=True)


@dataclass(frozen=True)
class SRAMConfig:
    """The scratchpad of one core. Every field is checked once, at construction.

    Parameters
    ----------
    name : str
        Preset name, shown in reports.
    lines : int
        Size in 64-byte lines; a multiple of ``banks``.
    banks : int
        Number of single-port bank memories, a power of two, 1..64.
    interleave : str
        ``"line"`` or ``"xor"`` (see :func:`bank_of`).
    addr_bits : int
        Width of the byte addresses in requests, 8..32; the scratchpad must fit.
    tag_width : int
        Width of the tag every request carries to its response, 0..16.
    resp_depth : int
        Responses a port may have in flight and waiting (its response FIFO), 1..64; 4 or more
        keeps a port at one request per cycle when its responses are taken at once.
    scrub_depth : int
        Lines waiting for a scrub write-back, 1..64.
    base : int
        Byte address of the scratchpad's first byte (default 0): a multiple of the window
        ``2 ** (line_bits + 6)`` that holds it, below ``2 ** addr_bits``. A
        request's address lies in the scratchpad when its bits above the window equal the
        base's and its offset in the window is below ``size``; the D1 core puts the scratchpad
        at 0x8000_0000, where programs are linked.
    """
    name: str
    lines: int
    banks: int
    interleave: str = "line"
    addr_bits: int = 32
    tag_width: int = 8
    resp_depth: int = 8
    scrub_depth: int = 4
    base: int = 0

    def __post_init__(self):
        check_name("name", self.name)
        check_int("lines", self.lines, 1, LINES_MAX)
        check_pow2("banks", self.banks, 1, BANKS_MAX)
        if self.lines % self.banks:
            raise ValueError(f"lines ({self.lines}) must be a multiple of banks ({self.banks})")
        if self.interleave not in INTERLEAVES:
            raise ValueError(f"interleave must be one of {', '.join(INTERLEAVES)}, "
                             f"not {self.interleave!r}")
        check_int("addr_bits", self.addr_bits, 8, 32)
        if self.size > 1 << self.addr_bits:
            raise ValueError(f"{self.size} bytes do not fit addr_bits={self.addr_bits}")
        check_tag_width(self.tag_width)
        check_int("resp_depth", self.resp_depth, 1, DEPTH_MAX)
        check_int("scrub_depth", self.scrub_depth, 1, DEPTH_MAX)
        check_int("base", self.base, 0, (1 << self.addr_bits) - 1)
        # (the window fits below 2**addr_bits, since the scratchpad does and the window is the
        # smallest power of two that holds it)
        if self.base % (1 << self.window_bits):
            raise ValueError(f"base must be a multiple of {1 << self.window_bits:#x}, "
                             f"not {self.base:#x}")

    def __str__(self):
        return (f"{self.name} ({self.lines} lines = {self.size:,} B, {self.banks} banks, "
                f"{self.interleave} interleave)")

    @property
    def size(self):
        """Bytes."""
        return self.lines * LINE_BYTES

    @property
    def rows(self):
        """Rows (lines) per bank."""
        return self.lines // self.banks

    @property
    def bank_bits(self):
        return (self.banks - 1).bit_length()

    @property
    def row_bits(self):
        return index_bits(self.rows)

    @property
    def line_bits(self):
        return index_bits(self.lines)

    @property
    def window_bits(self):
        """Bits of a byte offset within the scratchpad's address window (see ``base``)."""
        return self.line_bits + 6

    def contains(self, addr):
        """Whether byte ``addr`` lies in the scratchpad (Python integers and Amaranth values;
        the RTL and the model share it)."""
        high = addr >> self.window_bits
        offset = addr & ((1 << self.window_bits) - 1)
        return (high == self.base >> self.window_bits) & (offset < self.size)

    @property
    def requesters(self):
        """External ports plus the scrubber."""
        return len(PORTS) + 1

    @property
    def memory_bits(self):
        """Bits of bank memory: every line as 8 codewords of 72 bits."""
        return self.lines * LINE_CODE_BITS


def bank_of(line, config):
    """The bank of ``line``: its low bits (``"line"``) or those XOR the next bits (``"xor"``).
    Works on Python integers and on Amaranth values alike (the RTL and the model share it)."""
    mask = config.banks - 1
    if config.interleave == "xor":
        return (line ^ (line >> config.bank_bits)) & mask
    return line & mask


def row_of(line, config):
    """The row of ``line`` in its bank (with either interleave, the bank index is a bijection of
    the low bits within each group of ``banks`` lines)."""
    return line >> config.bank_bits


D1 = SRAMConfig("D1", lines=20_480, banks=32)
SMALL = SRAMConfig("SMALL", lines=256, banks=8)
TINY = SRAMConfig("TINY", lines=32, banks=4)

PRESETS = {c.name: c for c in (D1, SMALL, TINY)}


def get_preset(name):
    return lookup("SRAM preset", PRESETS, name)


def request_layout(spec, config):
    """A request on port ``spec``: the memory-port contract (:mod:`hw.common.memport`) for the
    port's width and access kinds and the scratchpad's ``addr_bits`` and ``tag_width``."""
    return memport.request_layout(addr_bits=config.addr_bits, tag_width=config.tag_width,
                                  width=spec.width, reads=spec.reads, writes=spec.writes)


def response_layout(spec, config):
    """A response on port ``spec`` (:func:`hw.common.memport.response_layout`)."""
    return memport.response_layout(tag_width=config.tag_width, width=spec.width,
                                   reads=spec.reads)


class InjectLayout(data.Struct):
    """Error injection: XOR ``flip`` into every codeword the next write of port ``port`` stores
    (then the register disarms itself)."""
    port: 3
    flip: CODE_BITS


def status_layout(config):
    """The status interface: 32-bit counters (wrapping) of accesses with corrected and with
    uncorrectable words and of refused requests; the byte address of the word of the latest
    uncorrectable access (``err_valid`` once there has been one)."""
    return data.StructLayout({"corrected": 32, "uncorrectable": 32, "refused": 32,
                              "err_addr": config.addr_bits, "err_valid": 1})
