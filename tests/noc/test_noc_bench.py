"""``d1core noc-bench`` and ``d1core noc-plot`` without a simulation: option errors (exit 2, exact
messages), the traffic patterns, the throughput bounds and the PNG and SVG plots."""

import json

import numpy as np
import pytest

from sim import cli
from sim.bench import noc as noc_bench


@pytest.mark.parametrize("argv,message", [
    (["--mesh", "8by8"], "--mesh must be WxH, e.g. 8x8, not '8by8'"),
    (["--mesh", "17x2"], "mesh sides must be 1 to 16, not 17x2"),
    (["--mesh", "4x2", "--traffic", "transpose"], "transpose traffic needs a square mesh"),
    (["--vcs", "3"], "--vcs must be 1, 2 or 4, not 3"),
    (["--rate", "0.1,1.5"], "rates must be in (0, 1], not [0.1, 1.5]"),
    (["--rate", "0.1,x"], "--rate must be numbers separated by commas, not '0.1,x'"),
    (["--cycles", "10"], "--cycles must be at least 100, not 10"),
    (["--plot", "a.pdf"], "--plot writes PNG or SVG: give a .png or .svg file, not 'a.pdf'"),
    (["--depth", "3"], "--depth must be 1, 2, 4, 8 or 16, not 3"),
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
    path = tmp_path / "p.svg"
    noc_bench.draw(path, [_result(2), _result(1)])
    text = path.read_text()
    assert text.startswith("<svg") and text.count("<polyline") == 2
    assert "4x4 uniform, 1 VC/class" in text


def _result(vcs):
    points = [{"offered": r, "accepted": r, "latency_avg": 10 + 20 * r + vcs,
               "latency_p99": 20 + 40 * r} for r in (0.1, 0.3)]
    return {"mesh": "4x4", "traffic": "uniform", "vcs_per_class": vcs, "bound": 1.0,
            "points": points}


def test_png_plot_of_several_results(tmp_path):
    """``d1core noc-plot`` draws JSON results into one PNG (a real PNG image with the size
    matplotlib was asked for); the same results give the same bytes."""
    paths = []
    for vcs in (1, 2):
        paths.append(tmp_path / f"r{vcs}.json")
        paths[-1].write_text(json.dumps(_result(vcs)))
    out = tmp_path / "p.png"
    assert cli.main(["noc-plot", *map(str, paths), "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 700  # 7 inches at 100 dpi
    assert cli.main(["noc-plot", *map(str, paths), "--out", str(tmp_path / "q.png")]) == 0
    assert (tmp_path / "q.png").read_bytes() == data


def test_noc_plot_refuses_what_is_not_a_result(tmp_path, capsys):
    """A JSON file that is not a bench result stops ``d1core noc-plot`` with exit 2."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mesh": "4x4"}))
    assert cli.main(["noc-plot", str(bad), "--out", str(tmp_path / "p.png")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"d1core noc-plot: error: {bad} is not a noc-bench result: no traffic, vcs_per_class, "
        "points")


def test_saturation_is_the_last_rate_that_keeps_up():
    """Saturation is the highest rate up to which every rate keeps up: latency within 3 times
    the lowest rate's, accepted within 5 % of the offer, all measured packets arrived; a later
    rate that looks fine again does not count; the peak accepted throughput is kept apart."""
    def point(offered, accepted, latency, complete=True):
        return {"offered": offered, "accepted": accepted, "latency_avg": latency,
                "complete": complete}

    points = [point(0.3, 0.3, 20), point(0.1, 0.1, 10), point(0.35, 0.34, 29),
              point(0.4, 0.37, 31), point(0.5, 0.5, 12)]
    assert noc_bench.saturation(points) == {"saturation_rate": 0.35,
                                            "saturation_throughput": 0.34,
                                            "peak_accepted": 0.5}
    points[2] = point(0.35, 0.34, 29, complete=False)
    assert noc_bench.saturation(points)["saturation_rate"] == 0.3
    assert noc_bench.saturation([point(0.1, 0.05, 10)])["saturation_rate"] is None
