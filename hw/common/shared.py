"""Sub-blocks converted to Verilog once and instantiated many times.

Amaranth writes one Verilog module per component *instance*, so the D1 matrix engine's 256
processing elements become 256 copies of the FMA: converting them takes minutes and the
simulators compile every copy (Verilator: tens of minutes and gigabytes). Hardware flows keep one
definition per distinct block and instantiate it; :func:`shared` does the same.

``shared(factory, **params)`` stands where ``factory(**params)`` would. Normally it *is*
``factory(**params)``: Amaranth's Python simulator and the unit tests see the plain component.
While a converter is registered (:func:`converting`, as ``sim.flow.build`` does when it writes
Verilog), it returns a :class:`SharedInstance` instead: a component with the same signature
whose elaboration is an ``Instance`` of the module the converter produced, once, for
``(factory, params)``. The logic is the same; only the Verilog hierarchy changes.

:func:`part` does the same for a unit its parent has once (the core's scalar core, scratchpad,
engine...): a module of its own, which synthesis measures apart (a black box in its parent,
composed from its own figures), but which Verilator builds inline with its parent as before
(:func:`shared`'s modules are marked for its hierarchical build, which pays off for blocks
instantiated many times). :func:`reset_by` is ``ResetInserter`` for both kinds.
"""

import contextlib
import contextvars

from amaranth.hdl import (
    ClockSignal,
    Const,
    Elaboratable,
    Instance,
    Module,
    ResetInserter,
    ResetSignal,
    Value,
)
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["shared", "part", "reset_by", "converting", "is_converting", "SharedInstance",
           "port_members"]

_converter = contextvars.ContextVar("d1core_shared_converter", default=None)


@contextlib.contextmanager
def converting(convert):
    """Within this block, :func:`shared` instantiates modules made by ``convert``.

    ``convert(factory, params, hier)`` returns ``(module_name, ports)`` for the component
    ``factory(**params)`` (``hier``: made by :func:`shared`, not :func:`part`, so to be marked
    for Verilator's hierarchical build): the name of the Verilog module it wrote (once per
    distinct pair) and
    its ports as ``(name, direction)`` pairs, direction ``"in"`` or ``"out"``, named as Amaranth
    names a converted top (signature paths joined by ``__``, plus ``clk`` and ``rst``).
    """
    token = _converter.set(convert)
    try:
        yield
    finally:
        _converter.reset(token)


def port_members(component):
    """``(name, flow, value)`` of each member of ``component`` that becomes a port of its
    Verilog module: every one but the constants (the ``ready`` of an ``always_ready`` stream,
    the ``valid`` of an ``always_valid`` one), named by its ``__``-joined path."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        value = Value.cast(value)
        if not isinstance(value, Const):
            ports.append(("__".join(map(str, path)), member.flow, value))
    return ports


def is_converting():
    """Whether a converter is registered (:func:`converting`): the design is being written as
    Verilog rather than simulated by Amaranth."""
    return _converter.get() is not None


def shared(factory, **params):
    """``factory(**params)``, or, while converting, an instance of its module converted once
    (and built once by Verilator, every instance calling it)."""
    return _instance(factory, params, hier=True)


def part(factory, **params):
    """``factory(**params)``, or, while converting, an instance of its module converted once,
    which Verilator builds inline with its parent (see the module docstring)."""
    return _instance(factory, params, hier=False)


def _instance(factory, params, *, hier):
    convert = _converter.get()
    if convert is None:
        return factory(**params)
    module, ports = convert(factory, params, hier)
    return SharedInstance(_signature(factory, params), module, ports)


def reset_by(component, reset):
    """``component``, also held in reset while ``reset`` is 1: ``ResetInserter(reset)`` of it,
    or for a :class:`SharedInstance` (whose logic is another module, out of ``ResetInserter``'s
    reach) its module's ``rst`` port driven by ``rst | reset``. The same either way: every
    register of the ``sync`` domain, in sub-blocks too, returns to its initial value."""
    if isinstance(component, SharedInstance):
        component._reset = reset
        return component
    return ResetInserter(reset)(component)


_signatures = {}


def _signature(factory, params):
    """The signature of ``factory(**params)`` (built once; the component is never elaborated)."""
    key = (factory, repr(sorted(params.items())))
    if key not in _signatures:
        component = factory(**params)
        _silence(component)
        _signatures[key] = component.signature
    return _signatures[key]


def _silence(elaboratable):
    """Tell Amaranth not to warn that ``elaboratable`` (and the elaboratables it holds, built in
    its constructor) were never elaborated: only their signature was wanted."""
    elaboratable._MustUse__silence = True
    for value in vars(elaboratable).values():
        if isinstance(value, Elaboratable) and not getattr(value, "_MustUse__silence", False):
            _silence(value)


class SharedInstance(wiring.Component):
    """A component of ``signature`` realised as an instance of the Verilog module ``module``,
    whose ports (``(name, direction)`` pairs) are the signature's members by their ``__``-joined
    paths, plus ``clk`` and ``rst`` for the ``sync`` domain."""

    def __init__(self, signature, module, ports):
        self._module = module
        self._ports = tuple(ports)
        self._reset = None  # a further reset (:func:`reset_by`)
        super().__init__(signature)

    def elaborate(self, platform):
        members = {name: (flow, value) for name, flow, value in port_members(self)}
        args = {}
        for name, direction in self._ports:
            if name == "clk":
                args["i_clk"] = ClockSignal()
            elif name == "rst":
                args["i_rst"] = (ResetSignal() if self._reset is None
                                 else ResetSignal() | self._reset)
            else:
                if name not in members:
                    raise ValueError(f"module {self._module} has a port {name!r} that its "
                                     f"component's signature does not")
                flow, value = members.pop(name)
                expected = "in" if flow == In else "out"
                if direction != expected:
                    raise ValueError(f"port {name!r} of module {self._module} is an "
                                     f"{direction}put, the signature says {expected}put")
                args[f"{direction[0]}_{name}"] = value
        if members:
            raise ValueError(f"module {self._module} lacks the ports "
                             f"{', '.join(sorted(members))} of its component's signature")
        m = Module()
        m.submodules.instance = Instance(self._module, **args)
        return m
