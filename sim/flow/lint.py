"""Verilator lint of every block's generated Verilog.

``verilator --lint-only -Wall`` on each block's top (the Verilog of ``Design.verilog``, copied to
``build/lint/<stem>/<top>.v`` so that the file is named after its module). Warnings are shown,
grouped by code with counts, but are not fatal: Amaranth's Verilog trips WIDTHEXPAND, UNUSEDSIGNAL
and PROCASSINIT by construction. Errors are: a block with any ``%Error`` fails.

With every block, the checked-in Verilog harness library (``verif/hdl``) is linted the same way,
each module as the top; written by hand, it must lint clean: any warning there fails too.
"""

import re
import shutil
import subprocess
from collections import defaultdict

from . import blocks as registry
from . import toolchain

__all__ = ["run", "lint_block", "lint_library", "LINT_ARGS", "LIBRARY"]

LINT_ARGS = ["--lint-only", "-Wall", "-Wno-fatal"]

#: The harness library's directory.
LIBRARY = toolchain.ROOT / "verif" / "hdl"

_MESSAGE = re.compile(r"^%(Warning|Error)(?:-(\w+))?: (.*)$")


def lint_block(block):
    """Lint one block; return ``(errors, warnings)``, each a list of ``(code, message)``.

    ``message`` is the first line of Verilator's message (``file:line:col: text``); Verilator's
    closing "Exiting due to N error(s)" is not listed. A Verilator that exits non-zero without an
    error message gives one error with code ``EXIT``.
    """
    design = block.design
    workdir = toolchain.BUILD / "lint" / design.stem
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"{design.name}.v"
    shutil.copyfile(design.verilog(), source)
    return _verilator(["--top-module", design.name, source.name], workdir)


def lint_library():
    """Lint every module of the harness library as the top; return ``(errors, warnings)`` of
    all of them, as :func:`lint_block` does."""
    files = sorted(LIBRARY.glob("*.v"))
    workdir = toolchain.BUILD / "lint" / "harness-library"
    workdir.mkdir(parents=True, exist_ok=True)
    errors, warnings = [], []
    for path in files:
        e, w = _verilator(["--top-module", path.stem, *map(str, files)], workdir)
        errors += e
        warnings += w
    return errors, warnings


def _verilator(args, workdir):
    proc = subprocess.run(["verilator", *LINT_ARGS, *args], cwd=workdir, capture_output=True,
                          text=True)
    errors, warnings = [], []
    for line in (proc.stdout + proc.stderr).splitlines():
        match = _MESSAGE.match(line)
        if not match:
            continue
        kind, code, text = match.groups()
        if kind == "Error" and text.startswith("Exiting due to"):
            continue
        (errors if kind == "Error" else warnings).append((code or "ERROR", text))
    if proc.returncode != 0 and not errors:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        errors.append(("EXIT", f"verilator exited with {proc.returncode}: {tail[0]}"))
    return errors, warnings


def _grouped(messages):
    groups = defaultdict(list)
    for code, text in messages:
        groups[code].append(text)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def run(names=None, *, progress=print):
    """Lint the blocks ``names`` (default: all) and return how many have errors.

    Unknown names raise the ``ValueError`` of :func:`blocks.get_block` before anything runs.
    ``progress`` (``None`` for silence) receives the report: per block a summary line with the
    counts per warning code, then every message grouped by code.
    """
    say = progress or (lambda line: None)
    toolchain.require_simulator("verilator")
    table = registry.blocks()
    chosen = list(table.values()) if not names else [registry.get_block(n) for n in names]
    failed = 0
    for block in chosen:
        errors, warnings = lint_block(block)
        counts = ", ".join(f"{code} {len(texts)}" for code, texts in _grouped(warnings))
        say(f"lint {block.name} ({block.design.name}): {len(errors)} errors, "
            f"{len(warnings)} warnings" + (f" ({counts})" if counts else ""))
        for label, messages in (("error", errors), ("warning", warnings)):
            for code, texts in _grouped(messages):
                say(f"  {label} {code} ({len(texts)})")
                for text in texts:
                    say(f"    {text}")
        failed += bool(errors)
    if not names:
        errors, warnings = lint_library()
        say(f"lint harness library (verif/hdl): {len(errors)} errors, {len(warnings)} warnings"
            " (warnings are fatal here)")
        for code, text in errors + warnings:
            say(f"  {code}: {text}")
        failed += bool(errors or warnings)
    say(f"lint: {len(chosen)} blocks, {failed} with errors (warnings are not fatal)")
    return failed
