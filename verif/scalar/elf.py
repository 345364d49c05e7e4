"""ELF loader of the scalar core's programs: ELF64, little-endian, RISC-V executables.

:func:`load` reads a file (standard library only) and returns a :class:`Program`: the entry
point, the memory image as ``(address, bytes)`` segments, and the symbol table. Each ``PT_LOAD``
program header gives one segment at its physical address (``p_paddr``, the load address of a
bare-metal program): its ``p_filesz`` file bytes followed by ``p_memsz - p_filesz`` zero bytes
(``.bss``). Segments with ``p_memsz`` 0 are skipped; other program header types are ignored.

Bad input raises :class:`ElfError` naming the file and the fault: not an ELF file, ELF32, big
endian, another machine, not an executable, a truncated file, a header that lies about its sizes,
or a segment (or the entry point) outside the memory ``[base, base + size)`` it is loaded into.
"""

import struct
from dataclasses import dataclass, field
from pathlib import Path

from verif.scalar.programs import RAM_BASE, RAM_SIZE

__all__ = ["EM_RISCV", "ElfError", "Program", "load", "parse"]

EM_RISCV = 243
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_ET_EXEC = 2
_PT_LOAD = 1
_SHT_SYMTAB = 2

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")


class ElfError(ValueError):
    """The file is not a RISC-V ELF64 executable that fits the memory."""


@dataclass(frozen=True)
class Program:
    """A loaded program: ``entry``, ``segments`` ((address, bytes), in file order) and
    ``symbols`` (name -> value; local and global symbols, the global one when both exist)."""

    path: str
    entry: int
    segments: tuple
    symbols: dict = field(default_factory=dict)

    def symbol(self, name):
        """The value of symbol ``name``; ElfError if the program has none."""
        if name not in self.symbols:
            raise ElfError(f"{self.path}: no symbol {name!r}")
        return self.symbols[name]

    @property
    def tohost(self):
        """The address of ``tohost``, or None when the program has no such symbol."""
        return self.symbols.get("tohost")

    def load_into(self, memory):
        """Write every segment into ``memory`` (anything with ``write(address, bytes)``)."""
        for address, data in self.segments:
            memory.write(address, data)


def load(path, *, base=RAM_BASE, size=RAM_SIZE):
    """Read and check the ELF file at ``path`` for a memory of ``size`` bytes from ``base``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ElfError(f"{path}: cannot read: {e.strerror}") from None
    return parse(data, name=str(path), base=base, size=size)


def _unpack(layout, data, offset, name, what):
    if offset + layout.size > len(data):
        raise ElfError(f"{name}: truncated: {what} at offset {offset:#x} runs past the end of "
                       f"the file ({len(data)} bytes)")
    return layout.unpack_from(data, offset)


def _table(data, offset, count, entsize, layout, name, what):
    if count and entsize != layout.size:
        raise ElfError(f"{name}: {what} entries are {entsize} bytes, expected {layout.size}")
    return [_unpack(layout, data, offset + i * entsize, name, f"{what} {i}") for i in range(count)]


def parse(data, *, name="<bytes>", base=RAM_BASE, size=RAM_SIZE):
    """As :func:`load`, from the file's bytes; ``name`` names it in error messages."""
    if data[:4] != b"\x7fELF":
        raise ElfError(f"{name}: not an ELF file (no \\x7fELF magic)")
    if len(data) < 5 or data[4] != _ELFCLASS64:
        cls = {1: "ELF32"}.get(data[4] if len(data) > 4 else None, "an unknown class")
        raise ElfError(f"{name}: {cls}, expected ELF64 (the core is RV64)")
    if len(data) < 6 or data[5] != _ELFDATA2LSB:
        raise ElfError(f"{name}: not little-endian (RISC-V is little-endian)")
    (_, e_type, e_machine, _, e_entry, e_phoff, e_shoff, _, _, e_phentsize, e_phnum,
     e_shentsize, e_shnum, _) = _unpack(_EHDR, data, 0, name, "ELF header")
    if e_machine != EM_RISCV:
        raise ElfError(f"{name}: machine {e_machine}, expected RISC-V ({EM_RISCV})")
    if e_type != _ET_EXEC:
        raise ElfError(f"{name}: ELF type {e_type}, expected an executable ({_ET_EXEC}); "
                       "link the program")
    end = base + size
    segments = []
    for i, (p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz, _) in enumerate(
            _table(data, e_phoff, e_phnum, e_phentsize, _PHDR, name, "program header")):
        if p_type != _PT_LOAD or p_memsz == 0:
            continue
        if p_filesz > p_memsz:
            raise ElfError(f"{name}: segment {i}: file size {p_filesz:#x} exceeds memory size "
                           f"{p_memsz:#x}")
        if p_offset + p_filesz > len(data):
            raise ElfError(f"{name}: truncated: segment {i} needs file bytes up to "
                           f"{p_offset + p_filesz:#x}, the file has {len(data):#x}")
        if not (base <= p_paddr and p_paddr + p_memsz <= end):
            raise ElfError(f"{name}: segment {i} at {p_paddr:#x}..{p_paddr + p_memsz - 1:#x} "
                           f"lies outside memory {base:#x}..{end - 1:#x}")
        body = data[p_offset:p_offset + p_filesz] + bytes(p_memsz - p_filesz)
        segments.append((p_paddr, body))
    if not segments:
        raise ElfError(f"{name}: no loadable segment")
    if not (base <= e_entry and e_entry + 4 <= end):
        raise ElfError(f"{name}: entry point {e_entry:#x} lies outside memory "
                       f"{base:#x}..{end - 1:#x}")
    return Program(name, e_entry, tuple(segments),
                   _symbols(data, e_shoff, e_shnum, e_shentsize, name))


def _symbols(data, shoff, shnum, shentsize, name):
    if shoff == 0 or shnum == 0:
        return {}
    sections = _table(data, shoff, shnum, shentsize, _SHDR, name, "section header")
    symbols = {}
    for sh in sections:
        if sh[1] != _SHT_SYMTAB:
            continue
        _, _, _, _, offset, length, link, _, _, entsize = sh
        if link >= len(sections):
            raise ElfError(f"{name}: symbol table links to section {link}, the file has "
                           f"{len(sections)}")
        str_offset, str_size = sections[link][4], sections[link][5]
        strings = data[str_offset:str_offset + str_size]
        for st_name, st_info, _, _, st_value, _ in _table(
                data, offset, length // _SYM.size, entsize, _SYM, name, "symbol"):
            label = strings[st_name:strings.find(b"\0", st_name)].decode(errors="replace")
            bind = st_info >> 4
            if label and (label not in symbols or bind == 1):
                symbols[label] = st_value
    return symbols
