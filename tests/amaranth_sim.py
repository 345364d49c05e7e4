"""Pieces shared by the Amaranth-simulator tests (``tests/*/test_*_amaranth.py``).

:func:`send` drives a stream, :func:`receive` takes from one and checks the stream rule on it,
:func:`raises_unelaborated` checks a constructor's error without Amaranth's warning about the
half-built object.
"""

import gc
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable

__all__ = ["send", "receive", "raises_unelaborated"]


async def send(ctx, stream, words, *, rnd, p_idle=0.0):
    """Offer ``words`` (payload values) on ``stream`` in order, each after idle cycles drawn
    while ``rnd.random() < p_idle``; return once the last is taken, ``valid`` low."""
    for word in words:
        while rnd.random() < p_idle:
            ctx.set(stream.valid, 0)
            await ctx.tick()
        ctx.set(stream.payload.as_value(), int(word))
        ctx.set(stream.valid, 1)
        await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def receive(ctx, stream, n, *, rnd, p_stall=0.0, limit=None):
    """Take ``n`` payloads from ``stream``, not ready in a cycle while ``rnd.random() < p_stall``;
    return ``(payloads, cycles)``. Asserts the stream rule every cycle (a payload offered and not
    taken stays offered, unchanged), and that ``n`` arrive within ``limit`` cycles if given."""
    got, held, cycles = [], None, 0
    while len(got) < n:
        ready = rnd.random() >= p_stall
        ctx.set(stream.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload.as_value())
        cycles += 1
        if held is not None:
            assert valid and payload == held, "a payload changed or vanished while not taken"
        held = payload if valid and not ready else None
        if valid and ready:
            got.append(payload)
        assert limit is None or cycles < limit, f"hang: {len(got)} of {n} after {cycles} cycles"
    return got, cycles


def raises_unelaborated(error, message, factory, *args, **kwargs):
    """Assert that ``factory(*args, **kwargs)`` raises ``error`` matching ``message``; the
    half-built object is never elaborated, so it is collected here with Amaranth's warning
    about that silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(error, match=message):
            factory(*args, **kwargs)
        gc.collect()
