"""sim/flow/report.py: the machine description, markdown tables and the sections of
docs/results.md."""

import re

import pytest

from sim.flow import report

FAKE = {"cpu": "Test CPU", "cores": 3, "ram_gib": 4.0, "os": "TestOS", "python": "3.11.0",
        "tools": {"yosys": "Yosys 0.70", "verilator": "Verilator 5.48.0"}}


def test_machine_names_cpu_cores_ram_os_and_tools():
    m = report.machine()
    assert m["cpu"] and m["cores"] >= 1 and m["os"] and re.fullmatch(r"3\.\d+\.\d+", m["python"])
    assert m["ram_gib"] is None or m["ram_gib"] > 0
    assert set(m["tools"]) == {"yosys", "verilator", "icarus", "amaranth", "cocotb"}
    assert m["tools"]["yosys"].startswith("Yosys 0.")
    assert m["tools"]["amaranth"] == "Amaranth 0.5.10"
    line = report.describe_machine()
    assert m["cpu"] in line and f"{m['cores']} cores" in line


def test_describe_machine_of_given_info():
    assert report.describe_machine(FAKE) == (
        "Test CPU, 3 cores, 4.0 GiB RAM; TestOS; Python 3.11.0; "
        "tools: Yosys 0.70, Verilator 5.48.0")


def test_markdown_table_aligns_numbers_and_escapes():
    text = report.markdown_table(["name", "n", "note"],
                                 [["a|b", 1, None], ["c", "1,234", "x\ny"]])
    assert text == ("| name | n | note |\n"
                    "|---|---:|---|\n"
                    "| a\\|b | 1 |  |\n"
                    "| c | 1,234 | x y |\n")
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        report.markdown_table(["a", "b"], [[1]])


def _section(path, key, body, command="make x"):
    return report.update_section(path, key, key.title(), body, command=command,
                                 date="2026-01-02 03:04 UTC", machine_info=FAKE)


def test_update_section_creates_appends_and_replaces(tmp_path):
    page = tmp_path / "results.md"
    _section(page, "synth", "first synth")
    assert page.read_text().startswith("# Measured results\n")
    _section(page, "bench", "bench body", command="make bench")
    page.write_text(page.read_text() + "\nhand-written tail\n")
    before = page.read_text()
    section = _section(page, "synth", "| new | table |")
    after = page.read_text()
    # The synth section changed in place; everything else is byte for byte what it was.
    old = re.search(r"<!-- BEGIN synth -->.*?<!-- END synth -->", before, re.S).group(0)
    assert after == before.replace(old, section)
    assert "first synth" not in after and "| new | table |" in after
    assert after.index("BEGIN synth") < after.index("BEGIN bench") < after.index("hand-written")
    assert "bench body" in after and after.count("<!-- BEGIN") == 2
    assert section.startswith("<!-- BEGIN synth -->\n## Synth\n\n")
    assert "_Measured 2026-01-02 03:04 UTC on Test CPU, 3 cores" in section
    assert "_Command: `make x`._" in section and section.endswith("<!-- END synth -->")


def test_update_section_defaults_to_now_and_this_machine(tmp_path):
    section = report.update_section(tmp_path / "r.md", "t", "T", "body", command="c")
    assert re.search(r"_Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC on ", section)
    assert report.machine()["cpu"] in section


@pytest.mark.parametrize("text", [
    "<!-- BEGIN synth -->\nno end\n",
    "<!-- END synth -->\n<!-- BEGIN synth -->\n",
    "<!-- BEGIN synth -->\n<!-- END synth -->\n<!-- BEGIN synth -->\n<!-- END synth -->\n",
])
def test_update_section_refuses_broken_markers(tmp_path, text):
    page = tmp_path / "results.md"
    page.write_text(text)
    with pytest.raises(ValueError, match="markers of section 'synth'"):
        _section(page, "synth", "body")
    assert page.read_text() == text


def test_update_section_checks_key_and_command(tmp_path):
    with pytest.raises(ValueError, match="section key 'Bad Key'"):
        _section(tmp_path / "r.md", "Bad Key", "body")
    with pytest.raises(ValueError, match="exact command"):
        _section(tmp_path / "r.md", "ok", "body", command=" ")
    assert not (tmp_path / "r.md").exists()


def test_speed_table_rates_and_ratio():
    """Slow rates keep three significant digits (an Icarus run of the vector unit is under one
    cycle per second, which ``:,.0f`` printed as 0); the ratio appears only with both
    simulators."""
    both = {"verilator": {"cycles_per_s": 1020.4, "build_s": 441.25},
            "icarus": {"cycles_per_s": 0.1565, "build_s": 73.0}}
    text = report.speed_table(both)
    assert "| verilator | 1,020 | 441.2 |" in text and "| icarus | 0.157 | 73.0 |" in text
    assert text.endswith("Verilator / Icarus speed ratio, same run and workload: **6,520.1×**.")
    assert "ratio" not in report.speed_table({"verilator": both["verilator"]})
    assert report.rate_text(99.94) == "99.9" and report.rate_text(100) == "100"
