"""The vector unit's data-movement pipe: broadcast, shuffle, zip, unzip and the INT8 8×8
transpose, for 8-, 16- and 32-bit lanes."""

from amaranth.hdl import Cat, Const, Module, Signal

from .intpipe import Pipe, lane_bytes
from .isa import VECTOR_BITS, VECTOR_BYTES, VecOp

__all__ = ["MovePipe", "MOVE_OPS", "static_source"]

#: The ops this pipe implements.
MOVE_OPS = (VecOp.BCAST, VecOp.SHUFFLE, VecOp.ZIP_LO, VecOp.ZIP_HI, VecOp.UNZIP_EVEN,
            VecOp.UNZIP_ODD, VecOp.TRANSPOSE8)
#: The ops whose byte permutation is fixed by the op and the lane width.
_STATIC_OPS = (VecOp.ZIP_LO, VecOp.ZIP_HI, VecOp.UNZIP_EVEN, VecOp.UNZIP_ODD)
_WIDTHS = (1, 2, 4)


def static_source(op, wb, k):
    """For output byte ``k`` of the fixed permutation ``op`` on lanes of ``wb`` bytes: the
    operand (``"a"`` or ``"b"``) and the byte of it that lands there (docs/vector.md)."""
    n = VECTOR_BYTES // wb
    i, o = divmod(k, wb)
    if op in (VecOp.ZIP_LO, VecOp.ZIP_HI):
        src, lane = ("a", "b")[i % 2], i // 2 + (n // 2 if op == VecOp.ZIP_HI else 0)
    elif op in (VecOp.UNZIP_EVEN, VecOp.UNZIP_ODD):
        odd = int(op == VecOp.UNZIP_ODD)
        src, lane = ("a", 2 * i + odd) if i < n // 2 else ("b", 2 * (i - n // 2) + odd)
    elif op == VecOp.TRANSPOSE8:
        src, lane = "a", 8 * (k % 8) + k // 8
    else:
        raise ValueError(f"{op} is not a fixed permutation")
    return src, lane * wb + o


class MovePipe(Pipe):
    """Data movement of the vector unit, without handshake.

    Members
    -------
    en : ``In(1)``
        Advance: the pipe's registers, ``o`` included, hold while 0.
    i : ``In(stream.Signature(request_layout(0), always_ready=True))``
        A request enters in a cycle with ``en`` (the pipe keeps no state): ``op``, ``vtype``
        (the lane width), ``imm`` (``bcast``), ``a``, ``b``.
    o : ``Out(stream.Signature(result_layout, always_ready=True))``
        ``valid`` and the result ``data``, ``latency`` advances after the request entered;
        ``flags`` are always 0.

    Contract
    --------
    ``bcast``, ``shuffle``, ``zip_lo``, ``zip_hi``, ``unzip_even``, ``unzip_odd`` on every lane
    type (by its width: 32 bits for fp32/int32, 16 for bf16/int16, 8 for int8) and
    ``transpose8`` on int8, exactly as docs/vector.md defines them: bits move unchanged. For any
    other (op, type) pair the output is unspecified (the vector unit selects another result).
    """

    #: Advances from a request to its result.
    latency = 1

    def elaborate(self, platform):
        m = Module()
        req = self.i.payload
        self._valid(m)
        a, b = req.a, req.b
        w = lane_bytes(m, req.vtype)
        operands = {"a": a, "b": b}

        def byte(v, k):
            return v[8 * k:8 * k + 8]

        # Dynamic ops: output byte k is byte idx[k] of a, idx from imm (bcast) or from b's lane.
        index = []
        for k in range(VECTOR_BYTES):
            idx = Signal(6, name=f"idx{k}")
            lane_idx = {}
            for wb in _WIDTHS:
                lane = k // wb
                n_bits = (VECTOR_BYTES // wb).bit_length() - 1
                lane_idx[wb] = (req.imm[:n_bits], b[8 * wb * lane:8 * wb * lane + n_bits])
            with m.If(req.op == VecOp.BCAST):
                for wb, wsel in zip(_WIDTHS, w, strict=True):
                    with m.If(wsel):
                        m.d.comb += idx.eq(Cat(Const(k % wb, wb.bit_length() - 1),
                                               lane_idx[wb][0]))
            with m.Else():
                for wb, wsel in zip(_WIDTHS, w, strict=True):
                    with m.If(wsel):
                        m.d.comb += idx.eq(Cat(Const(k % wb, wb.bit_length() - 1),
                                               lane_idx[wb][1]))
            index.append(idx)
        dynamic = Cat(*(a.word_select(index[k], 8) for k in range(VECTOR_BYTES)))

        def permuted(op, wb):
            return Cat(*(byte(operands[s], j)
                         for s, j in (static_source(op, wb, k) for k in range(VECTOR_BYTES))))

        out = Signal(VECTOR_BITS)
        with m.Switch(req.op):
            for op in _STATIC_OPS:
                with m.Case(op):
                    for wb, wsel in zip(_WIDTHS, w, strict=True):
                        with m.If(wsel):
                            m.d.comb += out.eq(permuted(op, wb))
            with m.Case(VecOp.TRANSPOSE8):
                m.d.comb += out.eq(permuted(VecOp.TRANSPOSE8, 1))
            with m.Default():
                m.d.comb += out.eq(dynamic)
        with m.If(self.en):
            m.d.sync += self.o.payload.data.eq(out)
        m.d.comb += self.o.payload.flags.eq(0)
        return m
