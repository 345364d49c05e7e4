"""The performance model (verif/perf, issue 19): arithmetic on known answers, the 10 % checks
against the stored RTL figures (no simulation), the figures' sources, and ``d1core model``."""

import json
import math

import pytest

from sim.cli import main as cli
from sim.flow import report
from verif.perf import calibrate, core, figures, kernels, network, params, system


@pytest.fixture(scope="module")
def sections():
    return figures.load()


@pytest.fixture(scope="module")
def p(sections):
    return params.build(sections)


def _schedule(p, m, n, k):
    """docs/matmul.md's schedule written out group by group."""
    L, rows = p.interleave, p.tile_rows
    tiles = math.ceil(m / p.tile_rows) * math.ceil(n / p.tile_cols)
    groups = [min(L, tiles - g * L) for g in range(math.ceil(tiles / L))]
    cycles = rows * groups[0]
    for nxt in groups[1:]:
        cycles += max(L * k, L + p.fma_c_delay + rows * nxt)
    return cycles + L * k + p.fma_latency + rows * groups[-1]


def test_peaks(p):
    assert p.core_flops == 1024e9                                     # AID21
    assert system.live_cores(p) == 354
    assert system.peak_flops(p, "die") == pytest.approx(362e12, rel=0.005)
    assert system.peak_flops(p, "tile") == pytest.approx(9e15, rel=0.01)
    assert system.peak_flops(p, "exapod") == pytest.approx(1.1e18, rel=0.02)


@pytest.mark.parametrize("shape", [(64, 64, 64), (1, 1, 1), (48, 80, 40), (100, 36, 24),
                                   (17, 300, 7), (512, 16, 2000), (16, 16, 16)])
def test_gemm_cycles_are_the_schedule(p, shape):
    assert core.gemm_cycles(p, *shape) == _schedule(p, *shape)
    assert core.gemm_cycles(p, *shape, "cfp8-143") == core.gemm_cycles(p, *shape)


def test_gemm_known(p):
    # docs/matmul.md: 64x64x64 BF16 on D1 is 1159 cycles, 226.2 MACs/cycle
    assert core.gemm_cycles(p, 64, 64, 64) == 1159
    with pytest.raises(core.ModelError, match="format must be one of"):
        core.gemm_cycles(p, 8, 8, 8, "fp32")
    with pytest.raises(core.ModelError, match="K must be a positive integer, not 0"):
        core.gemm_cycles(p, 8, 8, 0)


def test_gemm_within_tolerance_of_rtl(sections):
    rows = calibrate.gemm_checks(sections)
    assert len(rows) >= 30
    assert {r["case"].split()[0] for r in rows} == {"D1", "SMALL"}
    assert any("cfp8" in r["case"] for r in rows)
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad


def test_noc_within_tolerance_of_rtl(sections):
    rows = [r for r in calibrate.noc_checks(sections) if r["measured"] is not None]
    assert any("zero-load" in r["case"] for r in rows)
    assert any("saturation" in r["case"] for r in rows)
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad


def test_hop_latency_fit(p):
    # docs/noc.md: two cycles per hop, link included
    assert 1.9 < p.hop_cycles < 2.1


def test_contention_free_transfer(p):
    # one flit a cycle behind the first: fixed + hop × hops + flits - 1
    assert network.transfer_cycles(p, 3, 640) == pytest.approx(
        p.fixed_cycles + 3 * p.hop_cycles + 9)
    assert network.transfer_cycles(p, 0, 1) == pytest.approx(p.fixed_cycles)
    wide = p.with_overrides({"link_scale": 2})
    assert network.transfer_cycles(wide, 3, 640) == pytest.approx(
        p.fixed_cycles + 3 * p.hop_cycles + 4)


def test_loaded_latency_grows(p):
    lat = [network.loaded_latency(p, 8, 8, r) for r in (0.02, 0.2, 0.33, 0.4)]
    assert lat == sorted(lat)
    assert lat[0] == pytest.approx(p.fixed_cycles + p.hop_cycles * 5.25, rel=0.01)


def test_routes_and_dead_cores():
    mesh = network.Mesh(4, 4)
    tables = network.route_tables(mesh)
    assert network.route_hops(mesh, tables, (0, 0), (3, 2)) == 5
    assert network.hop_stretch(8, 8, 0) == 1.0
    assert network.hop_stretch(8, 8, 4, "edge") == 1.0        # spares at the edge: XY routes
    assert network.hop_stretch(8, 8, 6, "random", 3) > 1.0    # routed around: longer


def test_sustained_below_peak(p):
    for name in ("die", "tile", "exapod"):
        r = system.gemm(p, name, 16384, 16384, 16384)
        assert 0 < r.utilisation <= 1
        assert set(r.breakdown) == {"compute", "network", "d2d", "hbm"}
        assert r.seconds >= max(r.breakdown.values()) * (1 - 1e-9)
    t = system.transformer(p, "tile", seq=2048, width=4096, heads=32, batch=5)
    assert 0 < t.utilisation < 1
    assert t.flops == 3 * 5 * (24 * 2048 * 4096**2 + 4 * 2048**2 * 4096)


def test_overrides(p):
    with pytest.raises(params.ParamError, match="vcs must be in 1..2, not 3"):
        p.with_overrides({"vcs": "3"})
    with pytest.raises(params.ParamError, match="depth must be an integer, not 'x'"):
        p.with_overrides({"depth": "x"})
    assert p.with_overrides({"depth": "16"}).saturation_share() > p.saturation_share()
    with pytest.raises(params.ParamError, match="spares must be 'edge' or 'random', not 'x'"):
        p.with_overrides({"spares": "x"})
    holes = p.with_overrides({"spares": "random", "dead_fraction": "0.05"})
    edge = p.with_overrides({"dead_fraction": "0.05"})
    assert (system.allreduce(holes, "die", 2**20).seconds
            > system.allreduce(edge, "die", 2**20).seconds)


def test_figures_from_markdown_and_json(tmp_path, sections):
    md = tmp_path / "results.md"
    md.write_text(figures.RESULTS_MD.read_text())
    assert figures.load(md, tmp_path / "none.json")["bench-matmul"].source == "results.md"
    report.update_section(md, "bench-matmul", "Matrix engine", "body", command="d1core bench",
                          figures={"D1": [{"k": 8, "cycles": (1, 2), "whole": 0.5,
                                           "steady": 0.6}], "SMALL": []})
    data = json.loads(md.with_suffix(".json").read_text())
    assert data["bench-matmul"]["command"] == "d1core bench"
    assert data["bench-matmul"]["figures"]["D1"][0]["cycles"] == [1, 2]
    s = figures.load(md, md.with_suffix(".json"))["bench-matmul"]
    assert s.source == "results.json" and s.figures["D1"][0]["cycles"] == [1, 2]


def test_freshness_missing(tmp_path):
    rows = calibrate.freshness(figures.load(tmp_path / "x.md", tmp_path / "x.json"))
    assert {r["status"] for r in rows} == {"missing"}


@pytest.mark.parametrize("argv, message", [
    (["--workload", "gemm:1,2"], "gemm workload needs M,N,K[,format], not '1,2'"),
    (["--workload", "gemm:4,4,4,fp32"],
     "format must be one of bf16, cfp8, cfp8-143, cfp8-152, not 'fp32'"),
    (["--workload", "gemm:0,4,4"], "M must be a positive integer, not 0"),
    (["--workload", "conv:1"],
     "workload kind must be gemm, transformer or allreduce, not 'conv'"),
    (["--workload", "allreduce:x"], "allreduce takes a byte count, not 'x'"),
    (["--workload", "transformer:seq=8,width=8"], "transformer workload needs heads, batch"),
    (["--workload", "transformer:seq=8,width=9,heads=2,batch=1"],
     "width must be a multiple of heads, not 9 and 2"),
    (["--system", "tile", "--workload", "transformer:seq=8,width=8,heads=2,batch=5,tp=2"],
     "tp × dp must be the system's 25 dies, not 2 × 5"),
    (["--workload", "gemm:8,8,8", "--set", "bogus=1"], "unknown parameter 'bogus'"),
    (["--workload", "gemm:8,8,8", "--set", "vcs"], "--set takes name=value, not 'vcs'"),
    (["--workload", "gemm:8,8,8", "--sweep", "clock"], "sweep parameter must be one of"),
    (["--workload", "gemm:8,8,8", "--plot", "x.svg"], "--plot must name a .png file"),
    ([], "--workload is needed (or --calibrate)"),
])
def test_command_errors(capsys, argv, message):
    assert cli(["model", *argv]) == 2
    assert message in capsys.readouterr().err


def test_command_prediction(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert cli(["model", "--system", "die", "--workload", "gemm:4096,4096,4096,cfp8",
                "--json", str(out), "--plot", str(tmp_path / "p.png")]) == 0
    text = capsys.readouterr().out
    assert "H100 SXM roofline" in text and "where the time goes" in text
    pred = json.loads(out.read_text())
    assert pred["peak_flops"] == pytest.approx(362.496e12)
    assert (tmp_path / "p.png").stat().st_size > 0


def test_command_calibrate(capsys, sections):
    rc = cli(["model", "--calibrate"])
    text = capsys.readouterr().out
    assert "Figures the model reads" in text and "checks within 10 %" in text
    assert "Programs against the RTL" in text and "Blocks against the RTL" in text
    head = next(line for line in text.splitlines() if "case" in line and "shape" in line)
    assert head.split() == ["case", "shape", "format", "mesh", "dead", "RTL", "model", "error",
                            "source"]
    # a program's section missing is named and leaves the exit status alone
    if "bench-mesh-train" not in sections:
        assert "missing (not checked): bench-mesh-train" in text
    assert rc == 0


def test_bench_json_shapes(tmp_path):
    """What each bench part passes as ``figures`` reads back as the model's shape."""
    from sim.bench.scalar import Measured
    md = tmp_path / "results.md"
    scalar = Measured("crc", 4, 4, "verilator", "pass", 100, (20, 20, 25, 25), 1.0)
    parts = {
        "bench-vector": {"classes": {"FP32 FMA": {"per_cycle": 0.9, "lane_ops": 14.4,
                                                  "what": "x", "cycles": 10, "n": 9}},
                         "sims": {}, "latency": 30},
        "bench-sram": {"n": 5, "streaming": {"streaming": {"per_port": {"vr0": 1.0}},
                                             "sequential": {"per_port": {"vr0": 0.9}}},
                       "random": {32: {"measured": 0.9, "preset": "D1", "estimate": 0.91}}},
        "bench-scalar": {"ipc": [scalar], "speed": [], "load": 1.0},
        "noc-8x8-uniform-v2": {"mesh": "8x8", "traffic": "uniform", "vcs_per_class": 2,
                               "depth": 4, "points": [
                                   {"offered": 0.1, "accepted": 0.1, "latency_avg": 13.0,
                                    "latency_p99": 20.0, "complete": True, "sim_cycles": 9}]},
    }
    for key, figs in parts.items():
        report.update_section(md, key, key, "body", command="d1core bench", figures=figs)
    s = figures.load(md, md.with_suffix(".json"))
    assert s["bench-vector"].figures["classes"]["FP32 FMA"]["per_cycle"] == 0.9
    assert s["bench-sram"].figures["random"] == {32: {"measured": 0.9, "preset": "D1",
                                                      "estimate": 0.91}}
    assert s["bench-scalar"].figures["runs"][0]["ipc"] == pytest.approx(0.9)
    assert s["noc-8x8-uniform-v2"].figures["saturation_throughput"] == 0.1


def test_allreduce_and_core_rates(p):
    small = system.allreduce(p, "die", 354 * 64)
    # a 64-byte share: 2 × 353 one-hop single-flit transfers plus 353 vector adds
    step = p.fixed_cycles + p.hop_cycles
    adds = core.vector_cycles(p, "FP32 add/sub/mul", 16)
    assert small.breakdown["network"] == pytest.approx((353 * (step + adds) + 353 * step) / 2e9)
    big = system.allreduce(p, "exapod", 2**26)
    assert big.breakdown["d2d"] > 0 and big.seconds > small.seconds
    assert core.sram_served(p) == pytest.approx(0.896, abs=5e-4)   # bench-sram, D1
    assert 0.896 < core.sram_served(p, 64) <= 1.0
    assert core.scalar_cycles(p, 1000, 4) == pytest.approx(1000 / p.scalar_ipc_4)
    assert core.vector_cycles(p, "FP32 FMA", 16000) == pytest.approx(
        1000 / p.vector_rate["FP32 FMA"] + p.vector_latency)


# --- whole programs (verif/perf/kernels.py) ----------------------------------------------------

@pytest.fixture(scope="module")
def kp(p, sections):
    return kernels.calibration(p, sections)


def test_programs_within_tolerance_of_rtl(sections):
    """Every stored run of the core kernels and the mesh programs within 10 %, each bench's
    section present, and the fitted costs checked on runs they were not fitted on."""
    rows = [r for r in calibrate.program_checks(sections) if r["measured"] is not None]
    sources = {r["source"].split()[0] for r in rows}
    assert {"bench-core", "bench-core-layernorm", "bench-mesh-gemm",
            "bench-mesh-allreduce"} <= sources
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad
    held_out = [r for r in rows if r["note"] != "fit point"]
    assert len(held_out) >= len(rows) - 8
    assert any(r["dead"] for r in rows)                       # the dead-core all-reduce
    assert {r["mesh"] for r in rows} >= {"D1 core", "2x2 D1", "1x1 D1", "2x2 SMALL"}


def test_training_step_missing_until_its_bench(sections):
    rows = [r for r in calibrate.program_checks(sections) if "train" in r["case"]
            or "training" in r["case"]]
    if "bench-mesh-train" not in sections:
        assert [r["measured"] for r in rows] == [None]
        assert "missing: run d1core bench --only mesh-train" in rows[0]["note"]
        assert "bench-mesh-train" in [r["key"] for r in calibrate.freshness(sections)
                                      if r["status"] == "missing"]


def test_training_step_read_from_its_section(tmp_path, sections):
    """A ``bench-mesh-train`` section of ``sim/bench/mesh_train.py``'s shape is read and
    checked part by part (a fixture: the lead's bench writes the real one)."""
    md = tmp_path / "results.md"
    md.write_text(figures.RESULTS_MD.read_text())
    (tmp_path / "results.json").write_text(figures.RESULTS_JSON.read_text())
    step = {"cycles": 4918, "forward_backward": 2578, "allreduce": 1260, "update": 1080}
    row = {"mesh": "MESH_2X2", "dead": [], "cores": 4, "shard": 12, "sizes": [32, 16, 16],
           "batch": 48, "steps": 1, "per_step": [step], "gradient_floats": 784}
    report.update_section(md, "bench-mesh-train", "Mesh: the training step", "body",
                          command="d1core bench --only mesh-train", figures={"train": [row]})
    loaded = figures.load(md, md.with_suffix(".json"))
    rows = [r for r in calibrate.program_checks(loaded) if r["case"].startswith("train.c")]
    assert [r["case"].split(": ")[1] for r in rows] == ["cycles", "forward_backward",
                                                         "allreduce", "update"]
    assert [r["measured"] for r in rows] == [4918, 2578, 1260, 1080]
    assert all(r["model"] > 0 and r["mesh"] == "2x2 SMALL" for r in rows)
    assert "bench-mesh-train" not in [r["key"] for r in calibrate.freshness(loaded)
                                      if r["status"] == "missing"]


def test_gemm_kernel_is_the_schedule_plus_its_overhead(p, kp):
    # the overhead is fitted on the smallest run of each format: the schedule's cycles for any
    # other shape plus the same overhead
    assert kernels.gemm_kernel(p, kp, 64, 64, 64) == 1159 + kp.overhead["bf16"]
    assert (kernels.gemm_kernel(p, kp, 64, 64, 64, "cfp8-143")
            == 1159 + kp.overhead["cfp8"])


def test_layernorm_known_answer(p):
    # docs/core.md: 35 phases and a bound of 30,848 cycles at 64 x 1024; the gap is the
    # vector unit's latency plus the sequencer's fixed stages (14 + 38 cycles in its tests)
    assert kernels.layernorm_phases(1024) == 35
    assert kernels.phase_gap(p) == p.vector_latency + 22
    cycles, bound = kernels.layernorm_kernel(p, 64, 1024)
    assert bound == 30848
    assert cycles == bound + 35 * kernels.phase_gap(p)


def test_summa_known_answer(p, kp):
    """2x2, 256³ BF16, panels of 64: each core's 128×128 block over all of K, plus the panel 0
    it does not own (64 rows × 128 BF16 = 256 lines) through its eject port after the
    zero-load latency of one hop; later panels hidden (256 + 256 lines in, 4,096 beats)."""
    cycles, detail = kernels.summa(p, kp, 2, 2, 256, 256, 256)
    assert detail["grid"] == (2, 2) and detail["panels"] == 4 and detail["exposed"] == 0
    assert cycles == pytest.approx(kernels.gemm_kernel(p, kp, 128, 128, 256)
                                   + p.fixed_cycles + p.hop_cycles + 256)
    one, _ = kernels.summa(p, kp, 1, 1, 128, 128, 512)
    assert one == kernels.gemm_kernel(p, kp, 128, 128, 512)
    # with (1, 0) dead the 3 live cores take a 1 x 3 or 3 x 1 grid: longer per core
    dead, d = kernels.summa(p, kp, 2, 2, 256, 256, 256, dead=[(1, 0)])
    assert d["grid"] in ((1, 3), (3, 1)) and dead > cycles


def test_allreduce_terms(kp):
    # 3,072 FP32 over 4 ranks: 192 lines, chunks of 48; pieces of 32 -> 2 pieces (32, 16):
    # the first pieces' scatter 3·32, the last piece's 4 adds and 3 pushes of 16 lines
    assert kernels.allreduce(kp, 3072, 4, 32) == pytest.approx(
        kp.fixed + 2 * (kp.piece_base + 3 * kp.piece_rank) + 3 * 32 + 4 * 16 + 3 * 16)
    assert kernels.allreduce(kp, 3072, 1) == kp.fixed


def test_multicast_is_a_router_tree(p):
    # the routers fork a multicast: one injection, one zero-load latency to the farthest node,
    # then a flit a cycle, whatever the number of destinations
    far = network.multicast_cycles(p, 4, 4, 640)
    assert far == pytest.approx(p.fixed_cycles + 6 * p.hop_cycles + 9)
    assert network.multicast_cycles(p, 4, 4, 640, src=(1, 1)) == pytest.approx(
        p.fixed_cycles + 4 * p.hop_cycles + 9)


def test_sequenced_groups_are_two_by_two_tiles(p):
    # the core's sequencer runs a group of 2 x 2 tiles even when some are missing (skip
    # beats); the engine alone packs the 21 tiles of 100 x 36 into 6 groups, the sequencer
    # into 4 x 2 = 8 groups of 2 x 2
    assert kernels.sequenced_cycles(p, 256, 256, 64) == core.gemm_cycles(p, 256, 256, 64)
    assert kernels.sequenced_cycles(p, 100, 36, 24) == core.gemm_cycles(p, 128, 64, 24)
    assert kernels.sequenced_cycles(p, 100, 36, 24) > core.gemm_cycles(p, 100, 36, 24)


def test_summa_later_panels_hidden_unless_the_links_are_slow(p, kp):
    """4x4 at 256³: a core's 64 x 64 block takes 4 groups x 4 x 64 = 1,024 beats a panel
    against 128 + 128 lines in: hidden. At a twentieth of the link width the eject port needs
    5,120 cycles a panel, and the three later panels expose the difference."""
    _, fast = kernels.summa(p, kp, 4, 4, 256, 256, 256)
    assert fast["exposed"] == 0
    slow = p.with_overrides({"link_scale": "0.05"})
    _, d = kernels.summa(slow, kp, 4, 4, 256, 256, 256)
    beats = kernels.gemm_kernel(p, kp, 64, 64, 256) / 4
    assert d["exposed"] == pytest.approx(3 * (256 / 0.05 - beats))
