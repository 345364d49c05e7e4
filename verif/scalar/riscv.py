"""Building the scalar core's programs with Debian's RISC-V GCC (``gcc-riscv64-unknown-elf``).

Every program is linked with ``verif/scalar/programs/crt0.S`` and ``link.ld``, freestanding (no C
library: ``-nostdlib -ffreestanding``; ``lib.c`` supplies the few functions GCC may call), for
RV64IM with Zicsr and Zifencei, 32-bit encodings only::

    riscv64-unknown-elf-gcc -march=rv64im_zicsr_zifencei -mabi=lp64 -mcmodel=medany -O2
        -nostdlib -ffreestanding -static -g -Wall -Wextra -Werror -I verif/scalar/programs
        -D<layout constants> -T link.ld -Wl,--defsym=<layout symbols> crt0.S SOURCES

Assembly tests add ``-mno-relax`` (they use ``gp`` as their test number register, so nothing may
be relaxed to gp-relative addressing). The layout constants come from
:mod:`verif.scalar.programs`.

Builds land in ``build/programs/<name>-<key>.elf``; the key hashes the compiler's version, the
flags and every source involved (the program's and the shared crt0, linker script and headers),
so an unchanged program is never rebuilt and concurrent builds (pytest-xdist) take a lock.
"""

import functools
import hashlib
import os
import shutil
import subprocess

from sim.flow import toolchain
from sim.flow.build import locked
from verif.scalar import programs as p

__all__ = ["ARCH_FLAGS", "COMPILER", "PACKAGE", "BuildError", "CompilerMissing", "asm_snippet",
           "build", "c_program", "compiler", "isa_test"]

COMPILER = "riscv64-unknown-elf-gcc"
#: The Debian package that provides the compiler (and, through it, binutils-riscv64-unknown-elf).
PACKAGE = "gcc-riscv64-unknown-elf"
ARCH_FLAGS = ("-march=rv64im_zicsr_zifencei", "-mabi=lp64", "-mcmodel=medany")
_FLAGS = ("-O2", "-nostdlib", "-ffreestanding", "-static", "-g", "-Wall", "-Wextra", "-Werror")
#: Shared sources every build depends on.
_SHARED = ("crt0.S", "link.ld", "d1.h", "d1core.h", "test_macros.h", "lib.c", "isa/tdat.h")


class CompilerMissing(RuntimeError):
    """The RISC-V compiler is not installed."""


class BuildError(RuntimeError):
    """The compiler rejected a program; the message holds its output."""


def compiler():
    """The compiler's path; raises :class:`CompilerMissing` naming the Debian package."""
    path = shutil.which(COMPILER)
    if path is None:
        raise CompilerMissing(f"{COMPILER} not found: install Debian's {PACKAGE} "
                              f"(sim/setup_env.sh does when run as root: "
                              f"sudo apt-get install {PACKAGE})")
    return path


@functools.cache
def _compiler_version(path):
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


def _command(cc, sources, out, *, asm, defines):
    layout = {"__d1_ram_base": p.RAM_BASE, "__d1_ram_size": p.RAM_SIZE,
              "__d1_stack_size": p.STACK_SIZE, "__d1_max_threads": p.MAX_THREADS}
    cmd = [cc, *ARCH_FLAGS, *_FLAGS, *(["-mno-relax"] if asm else []), f"-I{p.DIR}"]
    cmd += [f"-D{k}={v}" for k, v in {**p.defines(), **defines}.items()]
    cmd += ["-T", str(p.DIR / "link.ld"), "-Wl,--no-warn-rwx-segments"]
    cmd += [f"-Wl,--defsym={k}={v:#x}" for k, v in layout.items()]
    cmd += [str(p.DIR / "crt0.S"), *([] if asm else [str(p.DIR / "lib.c")])]
    cmd += [str(s) for s in sources] + ["-o", str(out)]
    return cmd


def build(name, sources, *, asm=False, defines=None, depends=()):
    """Build ``sources`` (paths) into one ELF named after ``name``; return its path.

    ``asm``: an assembly test (no ``lib.c``, ``-mno-relax``). ``defines``: extra ``-D`` constants.
    ``depends``: other files the build reads (headers beside the sources), part of the key.
    Raises :class:`CompilerMissing` or :class:`BuildError`."""
    cc = compiler()
    defines = {k: str(v) for k, v in (defines or {}).items()}
    directory = toolchain.BUILD / "programs"
    h = hashlib.sha256()
    h.update(_compiler_version(cc).encode())
    h.update(repr(_command("cc", [], "out", asm=asm, defines=defines)).encode())
    for path in [*(p.DIR / s for s in _SHARED), *sources, *depends]:
        h.update(str(path).encode())
        h.update(path.read_bytes())
    out = directory / f"{name.replace('/', '-')}-{h.hexdigest()[:16]}.elf"
    if out.exists():
        return out
    with locked(directory):
        if out.exists():
            return out
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        proc = subprocess.run(_command(cc, sources, tmp, asm=asm, defines=defines),
                              capture_output=True, text=True)
        if proc.returncode:
            tmp.unlink(missing_ok=True)
            raise BuildError(f"building {name} failed:\n{proc.stderr.strip()}")
        os.replace(tmp, out)
    return out


def isa_test(name, *, ram_size=None):
    """The ELF of the assembly test ``isa/<name>.S``; ``ram_size``: the bytes of memory the
    tests that probe the end of memory (``traps``) assume, when not ``RAM_SIZE`` (the D1 core's
    scratchpad)."""
    if name not in p.ISA_TESTS:
        raise ValueError(f"no assembly test {name!r}; expected one of {', '.join(p.ISA_TESTS)}")
    if ram_size is None or ram_size == p.RAM_SIZE:
        return build(f"isa/{name}", [p.DIR / "isa" / f"{name}.S"], asm=True)
    return build(f"isa/{name}-{ram_size:x}", [p.DIR / "isa" / f"{name}.S"], asm=True,
                 defines={"D1_RAM_SIZE": hex(ram_size)})


def c_program(name, *, workers=1):
    """The ELF of the C program ``c/<name>.c`` splitting its work over ``workers`` threads."""
    if name not in p.C_PROGRAMS:
        raise ValueError(f"no C program {name!r}; expected one of {', '.join(p.C_PROGRAMS)}")
    if workers not in p.THREAD_VARIANTS:
        raise ValueError(f"workers must be one of {p.THREAD_VARIANTS}, not {workers!r}")
    return build(f"c/{name}-{workers}t", [p.DIR / "c" / f"{name}.c"],
                 defines={"WORKERS": workers})


def asm_snippet(name, body, directory):
    """Build a one-off assembly test from ``body`` (lines of TEST_* macros or instructions),
    written as ``directory/<name>.S`` between RVTEST_CODE_BEGIN and TEST_PASSFAIL."""
    src = directory / f"{name}.S"
    src.write_text(f'#include "test_macros.h"\nRVTEST_CODE_BEGIN\n{body}\n'
                   "  TEST_PASSFAIL\nRVTEST_CODE_END\n")
    return build(f"snippet/{name}", [src], asm=True)
