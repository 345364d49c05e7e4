"""Pipeline registers that advance together on one enable: the stages of the FMA, the conversion
unit and the vector unit's pipes."""

from types import SimpleNamespace

from amaranth.hdl import Signal, Value
from amaranth.lib import data
from amaranth.lib.enum import EnumView

__all__ = ["stage", "delay", "or_all"]


def stage(m, en, prefix, **values):
    """One register per value, loaded when ``en``; returns them as attributes by name. A register
    has its value's shape (a signal's, view's or enum view's, init included) or else the
    expression's."""
    regs = SimpleNamespace()
    for name, value in values.items():
        if isinstance(value, (Signal, data.View, EnumView)):
            reg = Signal.like(value, name=f"{prefix}_{name}")
        else:
            reg = Signal(Value.cast(value).shape(), name=f"{prefix}_{name}")
        with m.If(en):
            m.d.sync += reg.eq(value)
        setattr(regs, name, reg)
    return regs


def delay(m, en, value, cycles, *, name):
    """``value`` through ``cycles`` registers loaded when ``en`` (``value`` itself for 0)."""
    for k in range(cycles):
        value = stage(m, en, f"{name}_d{k + 1}", v=value).v
    return value


def or_all(values):
    """The OR of ``values`` (at least one)."""
    out = Value.cast(values[0])
    for v in values[1:]:
        out = out | Value.cast(v)
    return out
