"""Amaranth → Verilog, once per distinct design and parameter set.

A :class:`Design` names a component factory and its parameters. Its cache key hashes the factory,
the parameters and every source file under ``hw/``, so an edit to the hardware or a new parameter
gives a new Verilog file and a new build directory, while repeated tests of one design (also from
parallel pytest-xdist workers) convert and compile it once. Files are written atomically and builds
take a per-directory lock, so concurrent workers never race.
"""

import contextlib
import contextvars
import fcntl
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl._ir import PortDirection  # what verilog.convert itself uses for its ports
from amaranth.lib import wiring

from hw.common import shared

from . import toolchain

__all__ = ["Design", "Port", "locked", "atomic_write", "hw_digest", "simulation_verilog",
           "shared_design", "hier_blocks", "part_modules", "MUTANT_ENV", "Mutant", "mutant",
           "read_mutant", "module_digest", "module_names", "substitute_module",
           "source_attributes"]


@functools.cache
def hw_digest():
    """Digest of every Python source file under ``hw/`` and of this file, which writes the
    Verilog (path and content)."""
    h = hashlib.sha256()
    for path in [*sorted((toolchain.ROOT / "hw").rglob("*.py")), Path(__file__).resolve()]:
        h.update(str(path.relative_to(toolchain.ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _module_digest(factory):
    """Digest of the file defining ``factory`` when it lies outside ``hw/`` (a test design)."""
    import inspect

    try:
        path = Path(inspect.getfile(factory)).resolve()
    except (TypeError, OSError):
        return ""
    if (toolchain.ROOT / "hw") in path.parents:
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def atomic_write(path, text):
    """Write ``text`` to ``path`` so that readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(directory):
    """Hold an exclusive lock on ``directory`` (created if needed) across processes."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


#: Whether :meth:`Design.simulation_verilog` gives the Verilog with Amaranth's source attributes
#: (:func:`source_attributes`).
_SOURCE_ATTRIBUTES = contextvars.ContextVar("d1core_source_attributes", default=False)


@contextlib.contextmanager
def source_attributes():
    """While this lasts, :meth:`Design.simulation_verilog` (and so every harness built on it)
    gives the Verilog with Amaranth's ``src`` attributes, ``Design.verilog(src=True)``: the
    coverage build (:mod:`sim.flow.coverage`) maps its points back to Amaranth lines with
    them. Mutants (:data:`MUTANT_ENV`) are not applied there."""
    token = _SOURCE_ATTRIBUTES.set(True)
    try:
        yield
    finally:
        _SOURCE_ATTRIBUTES.reset(token)


@dataclass(frozen=True)
class Port:
    """One port of a converted top: its Verilog name, width and direction ("in" or "out")."""
    name: str
    width: int
    direction: str


@dataclass(frozen=True)
class Design:
    """A component factory with keyword parameters, converted to a Verilog module ``name``."""
    name: str
    factory: object
    params: tuple = ()

    @classmethod
    def of(cls, name, factory, **params):
        return cls(name, factory, tuple(sorted(params.items())))

    def instantiate(self):
        return self.factory(**dict(self.params))

    @functools.cached_property
    def key(self):
        h = hashlib.sha256()
        for part in (self.name, self.factory.__module__, self.factory.__qualname__,
                     repr(self.params), hw_digest(), _module_digest(self.factory)):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()[:16]

    @property
    def stem(self):
        """Unique file stem of this design: ``name-key``."""
        return f"{self.name}-{self.key}"

    def verilog(self, *, src=False):
        """Path of this design's Verilog as Yosys wrote it (for synthesis and lint); converted on
        first use, then reused. Sub-blocks made with ``shared`` or ``part`` are converted once
        each (as designs of their own) and their modules follow the top's in the file.

        With ``src``, the same Verilog with Amaranth's ``(* src = "FILE:LINE" *)`` attributes
        (``STEM.src.v``, sub-blocks' modules with theirs too): what code coverage maps back to
        the Amaranth source (:mod:`sim.flow.coverage`). The attributes name absolute paths, so
        that file differs between checkouts; the plain one, which everything else reads, does
        not."""
        name = f"{self.stem}.src.v" if src else f"{self.stem}.v"
        path = toolchain.BUILD / "rtl" / name
        if path.exists():
            return path
        with locked(path.parent / ".convert" / path.stem):
            if not path.exists():
                component = self.instantiate()
                used = {}
                with shared.converting(functools.partial(_convert_shared, used)):
                    text = verilog.convert(component, name=self.name, emit_src=src,
                                           ports=_convert_ports(component))
                if not src:
                    ports = _present(ports_of(component), text, self.name)
                    atomic_write(path.with_suffix(".ports.json"),
                                 json.dumps([p.__dict__ for p in ports]))
                text = _with_modules(text, used.values(), src=src)
                atomic_write(path.with_suffix(".sim.v"), simulation_verilog(text))
                atomic_write(path, text)
        return path

    def simulation_verilog(self):
        """Path of the copy of :meth:`verilog` that simulators read (see
        :func:`simulation_verilog`); with a :func:`mutant` of one of its modules, the copy with
        that module replaced by the mutant (written once per mutant, beside the design's).
        Inside :func:`source_attributes`, the copy of ``verilog(src=True)``, without mutants."""
        if _SOURCE_ATTRIBUTES.get():
            return self.verilog(src=True).with_suffix(".sim.v")
        path = self.verilog().with_suffix(".sim.v")
        found = self._mutant()
        if found is None:
            return path
        mutated = path.with_name(f"{self.sim_stem}.sim.v")
        if not mutated.exists():
            text = substitute_module(self.verilog().read_text(), found.module, found.text)
            atomic_write(mutated, simulation_verilog(text))
        found.mark_used()
        return mutated

    @property
    def mutant_suffix(self):
        """``-mutant-DIGEST`` while a :func:`mutant` of one of this design's modules is set, else
        empty: the end of the name of anything simulated from :meth:`simulation_verilog` (this
        design's :attr:`sim_stem`, and the stem of a bench around it), so that a mutant's
        Verilog and simulator builds never mix with the design's own or another mutant's."""
        found = self._mutant()
        return "" if found is None else f"-mutant-{found.digest}"

    @property
    def sim_stem(self):
        """:attr:`stem` for simulation: with :attr:`mutant_suffix`."""
        return f"{self.stem}{self.mutant_suffix}"

    def _mutant(self):
        found = mutant()
        if found is None or module_digest(self.verilog().read_text(),
                                          found.module) != found.original:
            return None
        return found

    def ports(self):
        """The top's ports, in the order of the component's signature (plus clk and rst)."""
        self.verilog()
        path = toolchain.BUILD / "rtl" / f"{self.stem}.ports.json"
        return [Port(**p) for p in json.loads(path.read_text())]


#: Mutation testing's hook (``d1core mutate``, :mod:`sim.flow.mutate`): the path of a Verilog
#: file that holds one module, a mutant, after a first line ``// d1core mutant of DIGEST`` where
#: DIGEST is the :func:`module_digest` of the module it was made from. While it is set, every
#: design whose Verilog has that module (that name and that digest: a design of the same name
#: with other parameters is not it) is simulated with the mutant in its place
#: (:meth:`Design.simulation_verilog`, :attr:`Design.sim_stem`); synthesis and lint read the
#: design unchanged. Unset or empty: no effect.
MUTANT_ENV = "D1CORE_MUTANT"

_MUTANT_HEAD = re.compile(r"\A// d1core mutant of ([0-9a-f]{64})\n")


@dataclass(frozen=True)
class Mutant:
    """A mutant module: its file, module name, text (one module), a digest of the text and the
    :func:`module_digest` of the original module."""
    path: Path
    module: str
    text: str
    digest: str
    original: str

    def mark_used(self):
        """Record, beside the mutant's file (``NAME.v.used``), that a simulation took it."""
        self.path.with_name(self.path.name + ".used").touch()


def mutant():
    """The :class:`Mutant` named by :data:`MUTANT_ENV`, or None when it is unset or empty.
    Raises ``RuntimeError`` if the file is missing or does not hold exactly one module."""
    value = os.environ.get(MUTANT_ENV, "")
    if not value:
        return None
    return read_mutant(value)


def read_mutant(path):
    """The :class:`Mutant` in the file ``path`` (as :func:`mutant` reads it)."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError:
        raise RuntimeError(f"{MUTANT_ENV}={path}: no such file") from None
    return _read_mutant(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_mutant(path, mtime, size):
    text = path.read_text()
    names = module_names(text)
    if len(names) != 1:
        raise RuntimeError(f"{MUTANT_ENV}={path}: the file must hold one module, not "
                           f"{len(names)}")
    head = _MUTANT_HEAD.match(text)
    if head is None:
        raise RuntimeError(f"{MUTANT_ENV}={path}: the file must start with "
                           "'// d1core mutant of DIGEST' (the original module's digest)")
    return Mutant(path, names[0], text, hashlib.sha256(text.encode()).hexdigest()[:12],
                  head.group(1))


def _modules(text):
    """``{name: text}`` of the modules of Verilog ``text``, from ``module`` to before
    ``endmodule``, without the marks :func:`_with_modules` adds."""
    found = {}
    for chunk in text.split("endmodule\n"):
        m = _MODULE_NAME.search(chunk)
        if m is not None:
            body = chunk[m.start():]
            found[m.group(1).strip()] = body.replace(_HIER_BLOCK, "").replace(_PART, "")
    return found


def module_digest(text, name):
    """Digest of module ``name`` of Verilog ``text`` and of its own submodules (those Amaranth
    names ``name.*``), as a design's file or a parent's (marks aside) holds them; None if
    ``text`` has no module ``name``. Two designs of one name but other parameters differ."""
    modules = _modules(text)
    if name not in modules:
        return None
    h = hashlib.sha256()
    for key in sorted(k for k in modules if k == name or k.startswith(f"\\{name}.")):
        h.update(modules[key].encode())
    return h.hexdigest()


def module_names(text):
    """Names of the modules in Verilog ``text``, in file order (escaped names without their
    backslash's trailing space)."""
    return [m.strip() for m in _MODULE_NAME.findall(text)]


def substitute_module(text, name, module):
    """Verilog ``text`` with its module ``name`` replaced by ``module`` (the text of one module
    of that name; the attributes before it are dropped). The original's attributes, and the
    :data:`_HIER_BLOCK` or :data:`_PART` mark after its header, are kept. Raises
    ``ValueError`` if ``text`` has no module ``name`` or ``module`` is not one of that name."""
    if module_names(module) != [name]:
        raise ValueError(f"the substitute must be one module {name}, not "
                         f"{', '.join(module_names(module)) or 'none'}")
    body = module[_MODULE_NAME.search(module).start():]
    body = body[:body.rindex("endmodule")]
    chunks = text.split("endmodule\n")
    for i, chunk in enumerate(chunks):
        found = _MODULE_NAME.search(chunk)
        if found is None or found.group(1).strip() != name:
            continue
        original = chunk[found.start():]
        header = original.index(");\n") + 3
        mark = next((m for m in (_HIER_BLOCK, _PART) if original.startswith(m, header)), "")
        new_header = body.index(");\n") + 3
        chunks[i] = chunk[:found.start()] + body[:new_header] + mark + body[new_header:]
        return "endmodule\n".join(chunks)
    raise ValueError(f"no module {name} in the Verilog")


def shared_design(factory, **params):
    """The design that stands for ``shared(factory, **params)`` in converted Verilog:
    module name ``<factory>_<hash of factory and params>``, the same wherever it is used."""
    h = hashlib.sha256(f"{factory.__module__}.{factory.__qualname__}"
                       f"{sorted(params.items())!r}".encode()).hexdigest()[:10]
    return Design.of(f"{factory.__name__.lower()}_{h}", factory, **params)


def _convert_shared(used, factory, params, hier):
    """The converter :func:`hw.common.shared.converting` takes: :func:`shared_design`, recorded in
    ``used`` (name → ``[design, hier]``; a module made by both ``shared`` and ``part`` is
    marked for Verilator's hierarchical build)."""
    design = shared_design(factory, **params)
    used.setdefault(design.name, [design, False])[1] |= hier
    return design.name, [(p.name, p.direction) for p in design.ports()]


def _marked(text, mark):
    return [m.group(1).strip() for m in re.finditer(
        r"^module (\\\S+ |\w+)\([^;]*\);\n" + re.escape(mark), text, re.MULTILINE)]


def hier_blocks(text):
    """Names of the modules in Verilog ``text`` that carry the ``hier_block`` mark: the shared
    sub-blocks (:func:`~hw.common.shared.shared`) that the top instantiates, directly or not."""
    return _marked(text, _HIER_BLOCK)


def part_modules(text):
    """Names of the modules in Verilog ``text`` that synthesis keeps as black boxes: those of
    :func:`hier_blocks` and the parts (:func:`~hw.common.shared.part`), in file order."""
    names = set(hier_blocks(text)) | set(_marked(text, _PART))
    return [m for m in module_names(text) if m in names]


_MODULE_NAME = re.compile(r"^module (\\\S+ |\w+)\(", re.MULTILINE)


#: Verilator's mark of a unit of hierarchical Verilation (``--hierarchical``, see
#: ``sim.flow.runner.VERILATOR_ARGS``): the module is Verilated and compiled once, as a library, and
#: every instance calls it. Other tools read it as a comment.
_HIER_BLOCK = "  /*verilator hier_block*/\n"

#: The mark of a part (:func:`hw.common.shared.part`): a comment, for :func:`part_modules`.
_PART = "  /* d1core part */\n"


def _with_modules(text, designs, *, src=False):
    """``text`` followed by the modules of ``designs`` (``(design, hier)`` pairs; from each
    design's file, ``verilog(src=src)``, without their attributes: the ``top`` one belongs to
    ``text``'s top), every module once; each design's top module carries Verilator's
    ``hier_block`` mark if ``hier``, else the part's mark."""
    names = set(module_names(text))
    parts = [text]
    for design, hier in designs:
        for chunk in design.verilog(src=src).read_text().split("endmodule\n"):
            found = _MODULE_NAME.search(chunk)
            name = found and found.group(1).strip()
            if found is None or name in names:
                continue
            names.add(name)
            module = chunk[found.start():]
            if name == design.name:
                header = module.index(");\n") + 3
                mark = _HIER_BLOCK if hier else _PART
                module = module[:header] + mark + module[header:]
            parts.append(module + "endmodule\n")
    return "\n".join(parts)


_CONSTANT_ALWAYS = re.compile(
    r"^(  )always @\*\n    ([^\n=;]+) = (\d+'[bhd][0-9a-fA-F_]+);$", re.MULTILINE)
_MODULE_HEADER = re.compile(r"^module [^;]*;\n", re.MULTILINE)
_ALWAYS_STAR_BLOCK = re.compile(r"^  always @\* begin\n", re.MULTILINE)
_ALWAYS_STAR_STATEMENT = re.compile(r"^  always @\*\n(    [^\n]*;\n)", re.MULTILINE)
#: The register that wakes every combinational block at time 0 (see simulation_verilog).
_TIME0 = "\\d1c$time0 "


def simulation_verilog(text):
    """Yosys's Verilog, with every combinational block made to run at time 0 in Icarus too.

    An ``always @*`` block runs only after one of the signals it reads changes, so in Icarus what
    it drives stays X until then (Verilator evaluates every block once at the start). Two kinds
    of block in Yosys's output would never run:

    * a bit that is never assigned anything but its constant default, ``always @* x = 1'h0;``:
      it reads no signal. The value is constant, so ``initial`` is the same thing;
    * a block whose inputs keep their initial values: a decode of a register that reset leaves at
      its initial value (the matrix arrays' format register after a write of the reset formats),
      or a bit copied from a flag that never rises (``always @* flags[4] = invalid;``).

    For the second kind, every module gets a register that an ``initial #0`` sets at time 0,
    after all blocks wait, and every ``always @*`` block reads it (an empty ``if``), so each runs
    once at the start, as in Verilator. (Yosys has the same device, a register initialized to 0
    that its multi-statement blocks read, but Icarus applies initializers before blocks wait, so
    that one never fires.) Synthesis reads the unmodified text.
    """
    text = _CONSTANT_ALWAYS.sub(r"\1initial\n    \2 = \3;", text)
    text = _MODULE_HEADER.sub(lambda m: f"{m.group(0)}  reg {_TIME0}= 1'h0;\n"
                              f"  initial #0 {_TIME0}= 1'h1;\n", text)
    wake = f"    if ({_TIME0}) begin end\n"
    text = _ALWAYS_STAR_BLOCK.sub(lambda m: m.group(0) + wake, text)
    return _ALWAYS_STAR_STATEMENT.sub(lambda m: f"  always @* begin\n{wake}{m.group(1)}  end\n",
                                      text)


def _present(ports, text, name):
    """``ports`` without ``clk`` and ``rst`` if module ``name`` of Verilog ``text`` lacks them
    (Amaranth leaves them out of a purely combinational module)."""
    header = re.search(rf"^module {re.escape(name)}\((.*?)\);", text, re.S | re.M)
    if header is None:
        raise RuntimeError(f"no module {name} in its converted Verilog")
    names = set(re.findall(r"\w+", header.group(1)))
    return [p for p in ports if p.name not in ("clk", "rst") or p.name in names]


def ports_of(component):
    """Flatten a component's signature into :class:`Port` records, as Amaranth names them
    (constant members, such as an ``always_ready`` stream's ``ready``, are no ports)."""
    ports = [Port("clk", 1, "in"), Port("rst", 1, "in")]
    for name, flow, value in shared.port_members(component):
        ports.append(Port(name, len(value), "in" if flow == wiring.In else "out"))
    return ports


def _convert_ports(component):
    """The ``ports`` argument of ``verilog.convert`` for ``component``: its signature's members
    without the constants, which Amaranth 0.5 would refuse as ports."""
    return {name: (value, PortDirection.Input if flow == wiring.In else PortDirection.Output)
            for name, flow, value in shared.port_members(component)}
