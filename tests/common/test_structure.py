"""Size guard for the design: no ``elaborate`` in ``hw/`` grows past :data:`ELABORATE_MAX` lines.

A longer one is a block doing several components' work in one place (the scalar core's was 711
lines before it was split into fetch, issue, decode, execute, CSR file and write-back); split it
into components that a parent instantiates and wires.
"""

import ast
from pathlib import Path

HW = Path(__file__).resolve().parents[2] / "hw"

#: Longest ``elaborate`` allowed, in source lines (docstring and comments included).
ELABORATE_MAX = 250


def long_elaborates(root=HW, limit=ELABORATE_MAX):
    """``(path:line, lines)`` of every ``elaborate`` under ``root`` longer than ``limit``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef) and node.name == "elaborate":
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append((f"{path.relative_to(root.parent)}:{node.lineno}", lines))
    return found


def test_no_long_elaborate():
    assert long_elaborates() == [], f"split these into components: {long_elaborates()}"


def test_a_long_elaborate_is_found(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(ELABORATE_MAX))
    (tmp_path / "big.py").write_text(f"class Big:\n    def elaborate(self, platform):\n{body}\n")
    (tmp_path / "small.py").write_text("class Small:\n    def elaborate(self, platform):\n"
                                       "        return None\n")
    assert long_elaborates(tmp_path) == [(f"{tmp_path.name}/big.py:2", ELABORATE_MAX + 1)]
