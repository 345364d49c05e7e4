"""``d1core noc-bench`` without a simulation: option errors (exit 2, exact messages), the traffic
patterns, the throughput bounds and the SVG plot."""

import numpy as np
import pytest

from sim import cli, noc_bench


@pytest.mark.parametrize("argv,message", [
    (["--mesh", "8by8"], "--mesh must be WxH, e.g. 8x8, not '8by8'"),
    (["--mesh", "17x2"], "mesh sides must be 1 to 16, not 17x2"),
    (["--mesh", "4x2", "--traffic", "transpose"], "transpose traffic needs a square mesh"),
    (["--vcs", "3"], "--vcs must be 1, 2 or 4, not 3"),
    (["--rate", "0.1,1.5"], "rates must be in (0, 1], not [0.1, 1.5]"),
    (["--rate", "0.1,x"], "--rate must be numbers separated by commas, not '0.1,x'"),
    (["--cycles", "10"], "--cycles must be at least 100, not 10"),
    (["--plot", "a.png"], "--plot writes SVG: give a .svg file, not 'a.png'"),
])
def test_bad_options_exit_2(argv, message, capsys):
    """Every impossible option stops before any simulation with exit 2 and its message."""
    assert cli.main(["noc-bench", *argv]) == 2
    assert capsys.readouterr().err.strip() == f"d1core noc-bench: error: {message}"


def test_patterns():
    """transpose swaps the coordinates, neighbor steps east with wrap-around, hotspot sends
    about 20 % to the centre, uniform covers every node including the source."""
    rng = np.random.default_rng(1)
    assert noc_bench.destinations("transpose", 4, 4, (1, 3), 2, rng) == [(3, 1)] * 2
    assert noc_bench.destinations("neighbor", 4, 4, (3, 2), 1, rng) == [(0, 2)]
    hot = noc_bench.destinations("hotspot", 8, 8, (0, 0), 20000, rng)
    share = sum(d == (4, 4) for d in hot) / len(hot)
    assert abs(share - (0.2 + 0.8 / 64)) < 0.01
    uniform = noc_bench.destinations("uniform", 3, 2, (0, 0), 3000, rng)
    assert set(uniform) == {(x, y) for x in range(3) for y in range(2)}


def test_bounds():
    """The bisection bound of an 8×8 mesh is 0.5, transpose under XY 1/7."""
    assert noc_bench.pattern_bound("uniform", 8, 8) == 0.5
    assert noc_bench.pattern_bound("uniform", 4, 4) == 1.0
    assert noc_bench.pattern_bound("transpose", 8, 8) == pytest.approx(1 / 7)


def test_svg_plot(tmp_path):
    """The plot is an SVG with one polyline per result and its label."""
    points = [{"offered": r, "accepted": r, "latency_avg": 10 + 20 * r} for r in (0.1, 0.3)]
    result = {"mesh": "4x4", "traffic": "uniform", "vcs_per_class": 2, "points": points}
    path = tmp_path / "p.svg"
    noc_bench.write_svg(path, [result, {**result, "vcs_per_class": 1}])
    text = path.read_text()
    assert text.startswith("<svg") and text.count("<polyline") == 2
    assert "4x4 uniform, 1 VC/class" in text
