"""Integer arithmetic built for depth: parallel-prefix adders, carry-save compressors, a barrel
shifter and leading-zero counters, used by every block (the FP units, the vector unit, the SRAM's
address arithmetic and the scalar core).

The synthesis flow's ABC script rewrites for area without a delay target, and turns any adder
it can see whole, Yosys's own ``+`` included, into a ripple chain of about two gate levels per bit
(144 levels for 75 bits). :func:`prefix_add` builds a Kogge-Stone adder explicitly, its levels
kept through synthesis, and can return the sum with carry-in 0 and 1 from one carry tree (a
compound adder: what an effective subtraction with end-around selection needs).
:func:`compress` reduces rows with layers of 3:2 carry-save adders (a Wallace tree);
:func:`add_many` adds several signed terms that way; :func:`shift_left` is a barrel shifter that
starts with the amount's most significant bit; :func:`count_leading_zeros` is a balanced
leading-zero tree. Every level is a named, kept ``Signal`` built from word-wide operations: the
netlist keeps the structure, and Amaranth's simulator evaluates a few big-integer operations per
level rather than one per bit. These helpers add logic to a module and return values; they have no
state, no latency and no handshake.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value

__all__ = ["KEEP", "prefix_add", "prefix_sub", "add_many", "compress", "tree_layers",
           "shift_left", "leading_zeros", "count_leading_zeros", "wire"]


#: Attributes of the signals that hold the levels of a carry tree or a carry-save layer.
#: Yosys's ``abc`` script runs ``dc2``, an area-oriented rewrite without a delay target, which
#: turns any parallel-prefix adder into a ripple chain (Yosys's own ``+`` too: about two gate
#: levels per bit). A synthesizer given a clock would keep a fast adder; with ``keep`` every level
#: is an output ABC must deliver, so the netlist keeps the structure built here.
KEEP = {"keep": 1}


def wire(m, name, value, width=None):
    """A named signal (kept through synthesis) driven by ``value``."""
    s = Signal(width if width is not None else len(Value.cast(value)), name=name, attrs=KEEP)
    m.d.comb += s.eq(value)
    return s


def _ext(value, width):
    """``value`` (a ``Value`` or a non-negative int) zero-extended or truncated to ``width``."""
    if isinstance(value, int):
        return Const(value % (1 << width), width)
    v = Value.cast(value)
    return Cat(v, Const(0, max(width - len(v), 0)))[:width]


def prefix_add(m, x, y, *, width=None, carry_in=0, name="add", both=False):
    """``x + y + carry_in`` modulo ``2**width`` with a Kogge-Stone carry tree.

    ``x`` and ``y`` are unsigned values or non-negative ints, zero-extended to ``width`` (default:
    the wider). ``carry_in`` is 0, 1 or a 1-bit value. Returns ``(sum, carry_out)``; with ``both``
    (constant ``carry_in`` 0 only) returns ``(sum0, carry_out0, sum1, carry_out1)``, the sums with
    carry-in 0 and 1 from one carry tree. Depth: about ``2 log2(width) + 7`` gate levels.

    Kogge-Stone rather than a sparser tree (Sklansky, Brent-Kung): with its levels kept, ABC's
    rewriting still chains the wide AND groups of a sparse tree (a 75-bit Sklansky adder measures
    29 levels, Kogge-Stone 21, for 40 % more cells).
    """
    if width is None:
        width = max(len(Value.cast(v)) for v in (x, y) if not isinstance(v, int))
    if both and not (isinstance(carry_in, int) and carry_in == 0):
        raise ValueError("prefix_add(both=True) takes no carry_in")
    xs, ys = _ext(x, width), _ext(y, width)
    half = wire(m, f"{name}_p", xs ^ ys)             # bit propagate (and half sum)
    g = wire(m, f"{name}_g", xs & ys)                # bit generate
    cin = Value.cast(carry_in)[0] if not isinstance(carry_in, int) else Const(carry_in, 1)
    if not isinstance(carry_in, int) or carry_in:
        # The carry-in is a generate below bit 0: fold it into bit 0's generate.
        g = wire(m, f"{name}_gin", Cat(g[0] | (half[0] & cin), g[1:]))
    p = half
    span, level = 1, 0
    while span < width:
        # After this level g[i], p[i] cover bits i down to i - 2·span + 1 (or to bit 0).
        last = 2 * span >= width
        g = wire(m, f"{name}_g{level}", g | (p & Cat(Const(0, span), g[:width - span])))
        if not last or both:
            ones = Const((1 << span) - 1, span)
            p = wire(m, f"{name}_p{level}", p & Cat(ones, p[:width - span]))
        span *= 2
        level += 1
    # g[i] (p[i]) is the generate (propagate) of bits i..0: the carry into bit i + 1.
    s0 = wire(m, f"{name}_sum", half ^ Cat(cin, g[:width - 1]))
    if not both:
        return s0, g[width - 1]
    c1 = wire(m, f"{name}_c1", g | p)
    s1 = wire(m, f"{name}_sum1", half ^ Cat(Const(1, 1), c1[:width - 1]))
    return s0, g[width - 1], s1, c1[width - 1]


def prefix_sub(m, x, y, *, width, name="sub"):
    """``x - y`` modulo ``2**width`` (``x``, ``y`` unsigned, zero-extended) with a Sklansky
    carry tree. Returns ``(difference, no_borrow)``: the carry out is 1 exactly when
    ``x >= y``."""
    return prefix_add(m, x, ~_ext(y, width), width=width, carry_in=1, name=name)


def shift_left(m, value, amount, *, name="shl"):
    """``value << amount``, truncated to ``len(value)``: a barrel shifter whose first level
    shifts by the most significant bit of ``amount``.

    Yosys's own shifter starts with the least significant bit; a leading-zero count delivers its
    most significant bit first, so this order lets the shift start before the count is complete.
    """
    width = len(Value.cast(value))
    v = Value.cast(value)
    for k in reversed(range(len(Value.cast(amount)))):
        step = 1 << k
        shifted = Cat(Const(0, min(step, width)), v[:max(width - step, 0)])[:width]
        v = wire(m, f"{name}_{k}", Mux(amount[k], shifted, v))
    return v


def _ext_signed(value, width):
    """``value`` (an int, or a ``Value`` extended by its own signedness) as ``width`` bits."""
    if isinstance(value, int):
        return Const(value % (1 << width), width)
    v = Value.cast(value)
    if v.shape().signed:
        return Cat(v, v[-1].replicate(max(width - len(v), 0)))[:width]
    return _ext(v, width)


def add_many(m, terms, *, width, name="sum"):
    """The sum of ``terms`` (ints and signed or unsigned values) modulo ``2**width``: 3:2 layers
    and one Kogge-Stone adder. Read the result ``.as_signed()`` for a signed sum."""
    rows = [_ext_signed(t, width) for t in terms]
    rows = [r for r in rows if not (isinstance(r, Const) and r.value == 0)] or [Const(0, width)]
    rows = compress(m, rows, name=f"{name}_csa")
    if len(rows) == 1:
        return wire(m, f"{name}_sum", rows[0])
    total, _ = prefix_add(m, rows[0], rows[1], width=width, name=name)
    return total


def compress(m, rows, *, layers=None, name="csa", carry_mask=None):
    """Reduce ``rows`` (unsigned values, all of one width) with layers of 3:2 carry-save adders
    until two rows are left, or after ``layers`` layers. Returns the list of rows (one or two at
    the end); their sum modulo ``2**width`` is that of ``rows``. With ``carry_mask`` (an int),
    each shifted carry row is ANDed with it: zeros there drop the carries into those bits, which
    makes the rows independent fields (the sum is then that of ``rows`` modulo each field).

    Each layer replaces every three rows by their bitwise sum and carry (a Wallace tree); rows
    left over pass unchanged. Constant-zero bits (the triangle of a partial-product array) fold
    away in synthesis, so the cost is that of a bit-column tree.
    """
    width = len(Value.cast(rows[0]))
    rows = list(rows)
    level = 0
    while len(rows) > 2 and (layers is None or level < layers):
        out = []
        for k in range(0, len(rows) - 2, 3):
            a, b, c = rows[k:k + 3]
            out.append(wire(m, f"{name}{level}_s{k // 3}", a ^ b ^ c, width))
            carry = (a & b) | (c & (a ^ b))
            shifted = Cat(Const(0, 1), carry[:width - 1])
            if carry_mask is not None:
                shifted = shifted & Const(carry_mask, width)
            out.append(wire(m, f"{name}{level}_c{k // 3}", shifted))
        out.extend(rows[len(rows) - len(rows) % 3:])
        rows = out
        level += 1
    return rows


def tree_layers(n_rows):
    """Layers :func:`compress` takes to bring ``n_rows`` rows down to two."""
    layers = 0
    while n_rows > 2:
        n_rows = 2 * (n_rows // 3) + n_rows % 3
        layers += 1
    return layers



def leading_zeros(m, value, width):
    """Count of leading zeros of ``width``-bit ``value`` (``width`` when it is zero)."""
    count = Signal(range(width + 1), name="lz", init=width)
    # Later assignments win, so scanning from the LSB up leaves the most significant one's count.
    for i in range(width):
        with m.If(value[i]):
            m.d.comb += count.eq(width - 1 - i)
    return count


def count_leading_zeros(m, value, *, name="clz"):
    """Leading zeros of ``value`` (``len(value)`` when it is zero), by a balanced tree.

    The tree pairs blocks of ``2**k`` bits, so its depth grows with ``log2`` of the width (the
    priority chain of :func:`leading_zeros` grows linearly); use it on wide or deep paths.
    Returns a ``Signal(range(len(value) + 1))``.
    """
    width = len(value)
    levels = width.bit_length()  # 2**levels > width: at least one padding bit
    # Ones below the LSB: a zero ``value`` then counts exactly ``width``, and no block of the
    # padded vector is all zeros at the top of the tree.
    padded = Cat(Const((1 << ((1 << levels) - width)) - 1, (1 << levels) - width), value)
    # Per block of 2**k bits: "all zero", and the count of leading zeros (k bits, LSB first).
    zero = [~padded[i] for i in range(1 << levels)]
    count = [[] for _ in range(1 << levels)]
    for k in range(levels):
        nz, nc = [], []
        for j in range(0, len(zero), 2):
            lo, hi = j, j + 1
            # Kept through synthesis: ABC's area rewriting would turn the tree into a chain.
            z = Signal(name=f"{name}_z{k}_{j // 2}", attrs=KEEP)
            c = Signal(k + 1, name=f"{name}_c{k}_{j // 2}", attrs=KEEP)
            m.d.comb += [
                z.eq(zero[lo] & zero[hi]),
                c.eq(Mux(zero[hi], Cat(*count[lo], Const(1, 1)), Cat(*count[hi], Const(0, 1)))),
            ]
            nz.append(z)
            nc.append([c[i] for i in range(k + 1)])
        zero, count = nz, nc
    result = Signal(range(width + 1), name=name)
    m.d.comb += result.eq(Cat(*count[0]))
    return result
