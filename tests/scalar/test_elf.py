"""The ELF loader (verif/scalar/elf.py): segments, entry and symbols of real programs against
binutils' own readelf, nm and objcopy; exact errors for every kind of bad file."""

import re
import struct
import subprocess

import pytest

from verif.scalar import elf, riscv
from verif.scalar.programs import RAM_BASE, RAM_SIZE


@pytest.fixture(scope="module")
def program():
    return riscv.c_program("sort", workers=4)


def _tool(name, *args):
    return subprocess.run([f"riscv64-unknown-elf-{name}", *args], capture_output=True, text=True,
                          check=True).stdout


def test_segments_and_entry_match_readelf(program):
    """Every LOAD program header readelf lists (address, file and memory size) is a segment of
    that address and memory size; the entry point is readelf's."""
    p = elf.load(program)
    out = _tool("readelf", "-lW", str(program))
    entry = int(re.search(r"Entry point (0x[0-9a-f]+)", out).group(1), 16)
    loads = [line.split() for line in out.splitlines() if line.strip().startswith("LOAD")]
    assert loads and p.entry == entry == RAM_BASE
    expected = [(int(f[3], 16), int(f[4], 16), int(f[5], 16)) for f in loads]
    assert [(a, len(b)) for a, b in p.segments] == [(a, m) for a, _, m in expected]
    for (_, body), (_, filesz, memsz) in zip(p.segments, expected, strict=True):
        assert body[filesz:] == bytes(memsz - filesz)


def test_bytes_match_objcopy(program, tmp_path):
    """The file bytes of the segments equal objcopy's binary image at the same addresses."""
    p = elf.load(program)
    image = tmp_path / "image.bin"
    _tool("objcopy", "-O", "binary", str(program), str(image))
    raw = image.read_bytes()
    low = p.segments[0][0]
    for address, body in p.segments:
        chunk = raw[address - low:address - low + len(body)]
        assert body[:len(chunk)] == chunk


def test_symbols_match_nm(program):
    """Every global symbol nm prints has nm's value; tohost is among them."""
    p = elf.load(program)
    lines = [line.split() for line in _tool("nm", str(program)).splitlines()]
    globals_ = {f[2]: int(f[0], 16) for f in lines if len(f) == 3 and f[1].isupper()}
    assert "tohost" in globals_ and "main" in globals_
    for name, value in globals_.items():
        assert p.symbol(name) == value, name
    assert p.tohost == globals_["tohost"]
    with pytest.raises(elf.ElfError, match=r"no symbol 'no_such_symbol'$"):
        p.symbol("no_such_symbol")


def _patched(program, tmp_path, offset, fmt, value):
    data = bytearray(program.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path = tmp_path / "bad.elf"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("offset, fmt, value, message", [
    (0, "<I", 0x464C457E, r"bad.elf: not an ELF file \(no \\x7fELF magic\)$"),
    (4, "<B", 1, r"bad.elf: ELF32, expected ELF64 \(the core is RV64\)$"),
    (4, "<B", 9, r"bad.elf: an unknown class, expected ELF64 \(the core is RV64\)$"),
    (5, "<B", 2, r"bad.elf: not little-endian \(RISC-V is little-endian\)$"),
    (18, "<H", 62, r"bad.elf: machine 62, expected RISC-V \(243\)$"),
    (16, "<H", 1, r"bad.elf: ELF type 1, expected an executable \(2\); link the program$"),
    (24, "<Q", 0x1000, r"bad.elf: entry point 0x1000 lies outside memory "
                       r"0x80000000\.\.0x800fffff$"),
    (54, "<H", 40, r"bad.elf: program header entries are 40 bytes, expected 56$"),
    (32, "<Q", 1 << 40, r"bad.elf: truncated: program header 0 at offset 0x10000000000 runs "
                        r"past the end of the file"),
])
def test_bad_headers(program, tmp_path, offset, fmt, value, message):
    """Each corrupted header field gives its own exact message."""
    with pytest.raises(elf.ElfError, match=message):
        elf.load(_patched(program, tmp_path, offset, fmt, value))


def test_segment_outside_memory(program):
    """A program linked at 0x80000000 does not fit a memory elsewhere, nor one too small."""
    end = RAM_BASE + len(elf.load(program).segments[0][1]) - 1
    with pytest.raises(elf.ElfError, match=rf"segment \d+ at 0x80000000\.\.{end:#x} lies outside "
                                           r"memory 0x90000000\.\.0x9000ffff$"):
        elf.load(program, base=0x9000_0000, size=0x10000)
    with pytest.raises(elf.ElfError, match=r"lies outside memory 0x80000000\.\.0x800000ff$"):
        elf.load(program, size=0x100)


def test_truncated_and_missing_files(program, tmp_path):
    """A file cut short inside a segment, an empty file, a missing file."""
    p = elf.load(program)
    data = program.read_bytes()
    cut = tmp_path / "cut.elf"
    cut.write_bytes(data[:0x1100])
    with pytest.raises(elf.ElfError, match=r"cut.elf: truncated: segment \d+ needs file bytes up "
                                           r"to 0x[0-9a-f]+, the file has 0x1100$"):
        elf.load(cut)
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    with pytest.raises(elf.ElfError, match=r"empty.elf: not an ELF file"):
        elf.load(empty)
    with pytest.raises(elf.ElfError, match=r"nothere.elf: cannot read: No such file or directory$"):
        elf.load(tmp_path / "nothere.elf")
    assert p.segments


def test_object_file_is_refused(tmp_path):
    """An unlinked object (gcc -c) is not an executable."""
    src = tmp_path / "x.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    obj = tmp_path / "x.o"
    subprocess.run([riscv.compiler(), *riscv.ARCH_FLAGS, "-c", str(src), "-o", str(obj)],
                   check=True)
    with pytest.raises(elf.ElfError, match=r"x.o: ELF type 1, expected an executable"):
        elf.load(obj)


def test_load_into_memory(program):
    """load_into writes every segment: reading them back gives the segment bytes, the program
    fits the default memory (RAM_SIZE bytes)."""
    from verif.scalar.iss import Memory

    p = elf.load(program)
    memory = Memory(RAM_BASE, RAM_SIZE)
    p.load_into(memory)
    for address, body in p.segments:
        assert memory.read(address, len(body)) == body
