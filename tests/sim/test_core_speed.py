"""The core-speed part of ``d1core bench`` (sim/bench/core_speed.py) without simulating: its
table and verdict from given figures (the runs themselves take minutes: the bench's own)."""

from sim.bench import core_speed
from sim.commands import bench


def _figures(core_rates, engine_rates):
    def runs(what, rates):
        return [{"what": what, "cycles": 1000, "run_cycles": 800, "seconds": 1000 / r,
                 "rate": r} for r in rates]
    core, engine = runs("core", core_rates), runs("engine", engine_rates)
    return {"shape": [256, 256, 256], "core": core, "engine": engine, "load": 1.0,
            "ratio": (sorted(core_rates)[1] / sorted(engine_rates)[1])}


def test_table_shows_medians_and_the_ratio_against_the_target():
    text = core_speed.body(_figures([300, 500, 400], [700, 900, 800]))
    assert "| 300 / 500 / 400 | **400** |" in text and "| 700 / 900 / 800 | **800** |" in text
    assert "Core / engine speed, same run: **0.500** (target ≥ 0.5: met)." in text
    slow = core_speed.body(_figures([100, 200, 300], [700, 900, 800]))
    assert "**0.250** (target ≥ 0.5: **missed**)" in slow


def test_is_a_part_of_the_bench():
    assert "core-speed" in bench.PARTS
