"""docs/results.md in block order: every write of a section (sim/flow/report.py) keeps the page's
sections in the order of the block registry, under a contents list, whatever order they were
written in."""

import re

from sim.flow import report

FAKE = {"cpu": "Test CPU", "cores": 3, "ram_gib": 4.0, "os": "TestOS", "python": "3.11.0",
        "tools": {"yosys": "Yosys 0.70"}}


def _write(page, key, title=None, body="body"):
    return report.update_section(page, key, title or key.upper(), body, command=f"make {key}",
                                 date="2026-01-02 03:04 UTC", machine_info=FAKE)


def _keys(page):
    return re.findall(r"<!-- BEGIN (\S+) -->", page.read_text())


def test_section_block():
    assert report.section_block("synth") is None
    assert report.section_block("bench") == "fp"
    assert report.section_block("bench-matmul") == "matmul"
    assert report.section_block("noc-8x8-uniform-v2-d16") == "noc"
    assert report.section_block("noc-prove-8x8_v2_d16") == "noc"


def test_sections_in_registry_order_whatever_the_write_order(tmp_path):
    page = tmp_path / "results.md"
    for key in ("noc-4x4-uniform-v1", "bench-scalar", "bench-sram", "bench", "noc-prove-2x2",
                "synth", "bench-vector", "bench-matmul", "noc-4x4-uniform-v2", "zz-other"):
        _write(page, key)
    # Blocks as sim/flow/blocks.py lists them (fp, matmul, vector, sram, noc, scalar), synth
    # first, a key of no block last; the sections of one block in the order first written.
    assert _keys(page) == ["synth", "bench", "bench-matmul", "bench-vector", "bench-sram",
                           "noc-4x4-uniform-v1", "noc-prove-2x2", "noc-4x4-uniform-v2",
                           "bench-scalar", "zz-other"]
    text = page.read_text()
    contents = text[text.index("<!-- CONTENTS -->"):text.index("<!-- /CONTENTS -->")]
    assert text.index("<!-- /CONTENTS -->") < text.index("<!-- BEGIN synth -->")
    assert ("- `noc`\n  - [NOC-4X4-UNIFORM-V1](#noc-4x4-uniform-v1)\n"
            "  - [NOC-PROVE-2X2](#noc-prove-2x2)\n"
            "  - [NOC-4X4-UNIFORM-V2](#noc-4x4-uniform-v2)\n- `scalar`\n") in contents
    assert contents.index("- All blocks\n  - [SYNTH](#synth)") < contents.index("- `fp`")
    assert "- Other\n  - [ZZ-OTHER](#zz-other)" in contents


def test_rewrite_keeps_order_and_new_section_lands_in_its_block(tmp_path):
    page = tmp_path / "results.md"
    for key in ("synth", "bench", "noc-4x4-uniform-v1", "noc-8x8-uniform-v1", "bench-scalar"):
        _write(page, key)
    page.write_text(page.read_text().replace("<!-- END noc-4x4-uniform-v1 -->\n",
                                              "<!-- END noc-4x4-uniform-v1 -->\nnote\n"))
    before = page.read_text()
    section = _write(page, "noc-4x4-uniform-v1", body="new figures")
    after = page.read_text()
    old = re.search(r"<!-- BEGIN noc-4x4-uniform-v1 -->.*?<!-- END noc-4x4-uniform-v1 -->",
                    before, re.S).group(0)
    assert after == before.replace(old, section)  # in place: every other byte as it was

    _write(page, "noc-8x8-transpose-v2", title="Mesh: 8x8 transpose")
    assert _keys(page) == ["synth", "bench", "noc-4x4-uniform-v1", "noc-8x8-uniform-v1",
                           "noc-8x8-transpose-v2", "bench-scalar"]
    text = page.read_text()
    assert "<!-- END noc-4x4-uniform-v1 -->\nnote\n\n<!-- BEGIN noc-8x8" in text
    assert ("  - [NOC-8X8-UNIFORM-V1](#noc-8x8-uniform-v1)\n"
            "  - [Mesh: 8x8 transpose](#mesh-8x8-transpose)\n- `scalar`") in text


def test_a_page_out_of_order_is_put_in_order_on_the_next_write(tmp_path):
    page = tmp_path / "results.md"
    sections = {key: _write(tmp_path / f"{key}.md", key)
                for key in ("bench-scalar", "noc-4x4-uniform-v1", "synth", "bench")}
    page.write_text("# Measured results\n\nIntro.\n\n" + "\n\n".join(sections.values()) + "\n")
    _write(page, "bench-sram")
    assert _keys(page) == ["synth", "bench", "bench-sram", "noc-4x4-uniform-v1", "bench-scalar"]
    text = page.read_text()
    assert text.startswith("# Measured results\n\nIntro.\n\n<!-- CONTENTS -->\n## Contents\n")
    assert text.endswith("<!-- END bench-scalar -->\n")
    assert all(section in text for section in sections.values())
