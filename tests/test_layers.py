"""Imports go one way: every import in ``hw/``, ``verif/`` and ``sim/`` (at the top of a module or
inside a function) points down this table, never up or sideways into a layer above.

======  =====================================  ==========================================
layer   packages                               may import (besides the standard library
                                               and third-party packages)
======  =====================================  ==========================================
0       ``hw.common`` (primitives)             ``hw.common``
1       ``hw.*`` (the blocks)                  layer 0, ``hw.*`` (no cycle between hw's
                                               packages)
2       ``sim.flow`` (toolchain, build,        layers 0-1, ``sim.flow``
        block registry, cocotb runner,
        synthesis, lint, reports)
3       ``verif`` (models, testbenches,        layers 0-2, ``verif``
        harnesses, run adapters, cocotb
        modules)
4       ``sim.bench`` (the bench parts)        layers 0-3, ``sim.bench``
5       ``sim.commands``, ``sim.cli`` (the     layers 0-4, ``sim.commands``, ``sim.cli``
        ``d1core`` commands, the dispatcher)
6       ``tests``                              everything
======  =====================================  ==========================================

docs/flow.md ("Layers") states the same table. A violation fails the test with the file, the line
and the import.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hw", "verif", "sim")

#: The layers by rank, and what each may import (its own rank and every rank below).
LAYERS = ("hw.common", "hw", "sim.flow", "verif", "sim.bench", "sim.commands", "tests")


def layer(module):
    """The layer of a first-party module name, or None for the standard library and
    third-party packages."""
    top = module.split(".")[0]
    if top == "hw":
        return "hw.common" if module == "hw.common" or module.startswith("hw.common.") else "hw"
    if top in ("verif", "tests"):
        return top
    if top == "sim":
        for sub in ("sim.flow", "sim.bench"):
            if module == sub or module.startswith(sub + "."):
                return sub
        return "sim.commands"  # sim.commands, sim.cli and the package itself
    return None


def module_name(path, root):
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name, root):
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path, root):
    """Every first-party import of the file at ``path``: ``(line, importer, target)``, targets
    resolved to modules (``from p import m`` names module ``p.m`` when there is one)."""
    importer = module_name(path, root)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, importer, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                yield node.lineno, importer, sub if is_module(sub, root) else source


def violations(root=ROOT):
    """The imports of ``root``'s ``hw``, ``verif`` and ``sim`` that go the wrong way, as
    ``"file:line: message"`` strings."""
    found = []
    hw_edges = defaultdict(set)  # hw package -> hw packages it imports, for the cycle check
    where = {}
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            for line, importer, target in sorted(imports(path, root)):
                here, there = layer(importer), layer(target)
                if there is None:
                    continue
                at = f"{path.relative_to(root)}:{line}"
                if LAYERS.index(there) > LAYERS.index(here):
                    found.append(f"{at}: {importer} ({here}) imports {target} ({there}), "
                                 f"a layer above it")
                if here == there == "hw":
                    a, b = importer.split(".")[:2], target.split(".")[:2]
                    if a != b:
                        hw_edges[".".join(a)].add(".".join(b))
                        where.setdefault((".".join(a), ".".join(b)), at)
    found += _cycles(hw_edges, where)
    return found


def _cycles(edges, where):
    """One message per cycle of ``edges`` (found by depth-first search)."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                steps = ", ".join(f"{a} -> {b} ({where[a, b]})"
                                  for a, b in zip(cycle, cycle[1:], strict=False))
                found.append(f"import cycle between hw packages: {steps}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_imports_go_one_way():
    found = violations()
    assert not found, "imports that go the wrong way:\n" + "\n".join(found)


def test_layer_of_each_package():
    """The table's examples, so that a renamed package cannot silently fall into another layer."""
    assert layer("hw.common.arith") == "hw.common"
    assert layer("hw.fp.convert") == "hw"
    assert layer("sim.flow.build") == "sim.flow"
    assert layer("sim.flow.runner") == "sim.flow"
    assert layer("verif.stream_run") == "verif"
    assert layer("sim.bench.noc") == "sim.bench"
    assert layer("sim.commands.gemm") == "sim.commands"
    assert layer("sim.cli") == "sim.commands"
    assert layer("numpy") is None


def test_wrong_imports_are_found(tmp_path):
    """A wrong import in each direction the table forbids is reported with its file and line,
    and a cycle between hw packages is reported."""
    files = {
        "hw/__init__.py": "",
        "hw/common/__init__.py": "",
        "hw/common/arith.py": "from hw.fp import formats\n",
        "hw/fp/__init__.py": "",
        "hw/fp/formats.py": "import numpy\n\ndef f():\n    from verif.model import x\n",
        "hw/sram/__init__.py": "from hw.noc import flit\n",
        "hw/noc/__init__.py": "",
        "hw/noc/flit.py": "from ..sram import bank\n",
        "hw/sram/bank.py": "",
        "verif/__init__.py": "",
        "verif/model.py": "from sim.flow import build\nfrom sim.bench import noc\n",
        "sim/__init__.py": "",
        "sim/flow/__init__.py": "",
        "sim/flow/build.py": "from . import report\nfrom ..commands import gemm\n",
        "sim/flow/report.py": "",
        "sim/bench/__init__.py": "",
        "sim/bench/noc.py": "from sim import cli\n",
        "sim/commands/__init__.py": "",
        "sim/commands/gemm.py": "from sim.bench import noc\nfrom verif import model\n",
        "sim/cli.py": "from sim.commands import gemm\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = violations(tmp_path)
    assert found[:5] == [
        "hw/common/arith.py:1: hw.common.arith (hw.common) imports hw.fp.formats (hw), "
        "a layer above it",
        "hw/fp/formats.py:4: hw.fp.formats (hw) imports verif.model (verif), a layer above it",
        "verif/model.py:2: verif.model (verif) imports sim.bench.noc (sim.bench), "
        "a layer above it",
        "sim/bench/noc.py:1: sim.bench.noc (sim.bench) imports sim.cli (sim.commands), "
        "a layer above it",
        "sim/flow/build.py:2: sim.flow.build (sim.flow) imports sim.commands.gemm "
        "(sim.commands), a layer above it",
    ]
    assert found[5:] == ["import cycle between hw packages: hw.noc -> hw.sram "
                         "(hw/noc/flit.py:1), hw.sram -> hw.noc (hw/sram/__init__.py:1)"]
