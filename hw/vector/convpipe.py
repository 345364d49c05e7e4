"""The vector unit's conversion pipe: WIDEN and NARROW between FP32/BF16 vectors and the
storage formats, with parts, packing into ``c``, RNE and stochastic rounding."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import enum
from amaranth.lib.wiring import In

from hw.common.pipeline import or_all
from hw.common.shared import shared
from hw.fp.convert import ConvertPipe, ConvOp
from hw.fp.formats import SR_BITS, XORSHIFT_ZERO_SEED, FormatCode
from hw.fp.rng import XorShift32

from .intpipe import Pipe
from .isa import VECTOR_BITS, VecOp, VecType

__all__ = ["ConvPipe", "SR_LANES", "SEED_STEP", "lane_params", "seed_for_lane", "reset_state"]

#: Narrowing lane slots, one SR generator each: 32 BF16 lanes (16 FP32 lanes use the first 16).
SR_LANES = 32
#: Generator ``j`` is seeded with ``s XOR (j · SEED_STEP mod 2**32)`` (docs/vector.md).
SEED_STEP = 0x9E3779B9
#: Lanes of an FP32 vector; the lanes above them convert BF16 vectors only, so CFP8 only.
_FP32_LANES = 16
_ALL_FORMATS = ("bf16", "cfp8_143", "cfp8_152", "shp", "uhp")
_CFP8_FORMATS = ("cfp8_143", "cfp8_152")


def lane_params(j):
    """The :class:`~hw.fp.convert.ConvertPipe` parameters of conversion lane ``j``: every
    format for the FP32 lanes, CFP8 only above them (BF16 sources and destinations)."""
    formats = _ALL_FORMATS if j < _FP32_LANES else _CFP8_FORMATS
    return {"tag_width": 0, "sr_bits": SR_BITS, "formats": formats}


def seed_for_lane(seed, j):
    """The value generator ``j`` is loaded with by a ``seed`` of ``seed`` (before the zero
    replacement of ``initial_state``)."""
    return (seed ^ (j * SEED_STEP)) & 0xFFFF_FFFF


def reset_state(j):
    """Generator ``j``'s reset state: what ``seed`` 0 loads."""
    return seed_for_lane(0, j) or XORSHIFT_ZERO_SEED


class _Mode(enum.Enum, shape=3):
    """Where the lane results go: the (op, type, format width) of the request."""
    WIDEN_FP32 = 0    #: FP32 word j = lane j
    WIDEN_BF16 = 1    #: BF16 half j = upper half of lane j
    NARROW_8 = 2      #: from FP32: byte 16·imm + j = lane j, the rest c
    NARROW_16 = 3     #: from FP32: half 16·imm + j = lane j, the rest c
    NARROW_BF16 = 4   #: from BF16: byte 32·imm + j = lane j, the rest c


class ConvPipe(Pipe):
    """WIDEN and NARROW of the vector unit: 32 conversion lanes and 32 SR generators, without
    handshake.

    Members
    -------
    en : ``In(1)``
        Advance: every register, the generators and ``o`` included, holds while 0.
    i : ``In(stream.Signature(request_layout(0), always_ready=True))``
        A request enters in a cycle with ``en`` and ``i.valid``: ``op``, ``vtype``, ``fmt``,
        ``bias``, ``rnd``, ``imm``, ``a``, ``c``. ``i.valid`` must be raised for **every**
        request the unit accepts, whatever its op: each steps every SR generator once.
    seed, seed_we : ``In(32)``, ``In(1)``
        The ``seed`` op: in a cycle with ``en``, ``seed_we`` loads generator ``j`` with
        ``seed_for_lane(seed, j)`` (0 becomes ``XORSHIFT_ZERO_SEED``) instead of stepping it.
    o : ``Out(stream.Signature(result_layout, always_ready=True))``
        ``valid``, the result ``data`` and the OR of the converted lanes' ``flags``, ``latency``
        advances after the request entered.

    Contract
    --------
    ``widen`` and ``narrow`` on fp32 and bf16 with the formats and parts of docs/vector.md, bit
    for bit: lane ``i`` is ``hw.fp.convert``'s conversion (``verif.fp.formats``), a BF16 source
    lane widened exactly first, a BF16 result the upper half of the FP32 one; a narrowing keeps
    ``c``'s bytes outside part ``imm``; lane ``j`` of a narrowing rounds stochastically with
    generator ``j``'s next number. Generators reset to :func:`reset_state`. For other requests
    (illegal formats or parts included) the output is unspecified: the vector unit returns the
    illegal-request zero instead.
    """

    #: Advances from a request to its result (the conversion unit's 5 stages).
    latency = ConvertPipe.latency

    def __init__(self):
        super().__init__(seed=In(32), seed_we=In(1))

    def elaborate(self, platform):
        m = Module()
        req = self.i.payload
        a = req.a
        narrow = req.op == VecOp.NARROW
        bf16 = req.vtype == VecType.BF16
        byte_fmt = (req.fmt == FormatCode.CFP8_143) | (req.fmt == FormatCode.CFP8_152)
        mode = Signal(_Mode)
        with m.If(narrow):
            with m.If(bf16):
                m.d.comb += mode.eq(_Mode.NARROW_BF16)
            with m.Elif(byte_fmt):
                m.d.comb += mode.eq(_Mode.NARROW_8)
            with m.Else():
                m.d.comb += mode.eq(_Mode.NARROW_16)
        with m.Else():
            m.d.comb += mode.eq(Mux(bf16, _Mode.WIDEN_BF16, _Mode.WIDEN_FP32))

        results, flags = [], []
        for j in range(SR_LANES):
            m.submodules[f"rng{j}"] = rng = XorShift32(init=reset_state(j))
            m.d.comb += [
                rng.advance.eq(self.en & self.i.valid),
                rng.seed.valid.eq(self.en & self.seed_we),
                rng.seed.payload.eq(self.seed ^ ((j * SEED_STEP) & 0xFFFF_FFFF)),
            ]
            lane = shared(ConvertPipe, **lane_params(j))
            m.submodules[f"lane{j}"] = lane
            source = Signal(32, name=f"src{j}")
            with m.Switch(mode):
                with m.Case(_Mode.NARROW_8, _Mode.NARROW_16):
                    if j < _FP32_LANES:
                        m.d.comb += source.eq(a.word_select(j, 32))
                with m.Case(_Mode.NARROW_BF16):
                    m.d.comb += source.eq(Cat(Const(0, 16), a.word_select(j, 16)))
                with m.Case(_Mode.WIDEN_FP32):
                    if j < _FP32_LANES:
                        with m.If(byte_fmt):
                            m.d.comb += source.eq(a.word_select(Cat(Const(j, 4), req.imm[:2]), 8))
                        with m.Else():
                            m.d.comb += source.eq(a.word_select(Cat(Const(j, 4), req.imm[0]), 16))
                with m.Case(_Mode.WIDEN_BF16):
                    m.d.comb += source.eq(a.word_select(Cat(Const(j, 5), req.imm[0]), 8))
            m.d.comb += [
                lane.en.eq(self.en),
                lane.i.valid.eq(self.i.valid),
                lane.i.payload.data.eq(source),
                lane.i.payload.op.eq(Mux(narrow, ConvOp.NARROW, ConvOp.WIDEN)),
                lane.i.payload.fmt.eq(req.fmt),
                lane.i.payload.bias.eq(req.bias),
                lane.i.payload.rnd.eq(req.rnd),
                lane.sr_word.eq(rng.random[32 - SR_BITS:]),
            ]
            if j == 0:  # every lane's valid is the same: lane 0's is the pipe's
                m.d.comb += self.o.valid.eq(lane.o.valid)
            results.append(lane.o.payload.data)
            flags.append(lane.o.payload.flags.as_value())

        # The request's placement travels beside the lanes.
        regs = [(mode, req.imm[:2], req.c)]
        for t in range(self.latency):
            mode_r = Signal(_Mode, name=f"mode_s{t + 1}")
            imm_r = Signal(2, name=f"imm_s{t + 1}")
            c_r = Signal(VECTOR_BITS, name=f"c_s{t + 1}")
            with m.If(self.en):
                m.d.sync += [mode_r.eq(regs[-1][0]), imm_r.eq(regs[-1][1]), c_r.eq(regs[-1][2])]
            regs.append((mode_r, imm_r, c_r))
        mode_o, imm_o, c_o = regs[-1]

        def parts(lane_bits, n_lanes, n_parts, sel):
            """``c`` with part ``sel`` replaced by the low ``lane_bits`` of lanes 0..n-1."""
            part_bits = lane_bits * n_lanes
            packed = Cat(*(results[j][:lane_bits] for j in range(n_lanes)))
            return Cat(*(Mux(sel == p, packed, c_o[p * part_bits:(p + 1) * part_bits])
                         for p in range(n_parts)))

        with m.Switch(mode_o):
            with m.Case(_Mode.WIDEN_FP32):
                m.d.comb += self.o.payload.data.eq(Cat(*results[:_FP32_LANES]))
            with m.Case(_Mode.WIDEN_BF16):
                m.d.comb += self.o.payload.data.eq(Cat(*(r[16:] for r in results)))
            with m.Case(_Mode.NARROW_8):
                m.d.comb += self.o.payload.data.eq(parts(8, _FP32_LANES, 4, imm_o))
            with m.Case(_Mode.NARROW_16):
                m.d.comb += self.o.payload.data.eq(parts(16, _FP32_LANES, 2, imm_o[0]))
            with m.Case(_Mode.NARROW_BF16):
                m.d.comb += self.o.payload.data.eq(parts(8, SR_LANES, 2, imm_o[0]))
        wide_lanes = (mode_o == _Mode.WIDEN_BF16) | (mode_o == _Mode.NARROW_BF16)
        low, high = or_all(flags[:_FP32_LANES]), or_all(flags[_FP32_LANES:])
        m.d.comb += self.o.payload.flags.eq(low | Mux(wide_lanes, high, 0))
        return m
