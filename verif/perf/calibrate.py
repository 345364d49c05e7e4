"""The model against the RTL's stored figures: the 10 % checks, and the figures' freshness.

Checks (no simulation; the RTL runs belong to the benches):

* the matrix engine: every GEMM of the ``bench-matmul`` section (D1: 32×64×K and 64×64×K;
  SMALL: 32×32×K, its cycles from the printed utilisation) and the ``d1core gemm`` runs of
  ``rtl_gemm.json`` (SMALL and D1, BF16 and CFP8, shapes that are not whole tiles), against
  :func:`.core.gemm_cycles`;
* the programs (:mod:`.kernels`): every run of ``bench-core`` (the GEMM kernels, BF16 and
  CFP8, row-major, with the epilogue), ``bench-core-layernorm``, ``bench-mesh-gemm`` (SUMMA on
  2×2 and 1×1 meshes of D1 cores), ``bench-mesh-allreduce`` (piece sizes, a dead core) and
  ``bench-mesh-train`` (the training step: reported missing until its bench has run), each
  row with its shape, format, mesh and dead cores; the runs the whole-program costs were fitted
  on are marked ``fit point``;
* the network: every noc section's zero-load latency (its lowest rate) against
  ``fixed + hop × mean hops``, and its saturation throughput against the pattern's bound times the
  measured share (8x8 uniform is where the share comes from, so its check is circular: marked).

:func:`freshness` lists the sections the model needs with their source, date and staleness.
"""

import json
from pathlib import Path

from . import core, insns, kernels, network
from .figures import REQUIRED, staleness
from .params import build, mean_hops

__all__ = ["TOLERANCE", "gemm_checks", "noc_checks", "program_checks", "freshness", "RTL_GEMM"]

TOLERANCE = 0.10
RTL_GEMM = Path(__file__).with_name("rtl_gemm.json")


def _row(case, measured, model, source, note="", **what):
    err = (model - measured) / measured
    return {"case": case, "measured": measured, "model": model, "error": err,
            "ok": abs(err) <= TOLERANCE, "source": source, "note": note, **what}


def _missing(case, key, **what):
    return {"case": case, "measured": None, "model": None, "error": None, "ok": None,
            "source": key, "note": f"missing: run d1core bench --only {key[len('bench-'):]}",
            **what}


def _program_row(kp, kind, case, measured, model, source, fit_key, **what):
    return _row(case, measured, model, source, "fit point" if fit_key in kp.fits else "",
                kind=kind, **what)


def _core_rows(p, kp, sections):
    rows = []
    if "bench-core" not in sections:
        return [_missing("GEMM kernels on one D1 core", "bench-core")]
    src = f"bench-core ({sections['bench-core'].source})"
    for r in sections["bench-core"].figures["gemm"]:
        shape = f"{r['m']}x{r['n']}x{r['k']}"
        rows.append(_program_row(kp, "core", "gemm.c", r["cycles"],
                                 kernels.gemm_kernel(p, kp, r["m"], r["n"], r["k"], r["fmt"]),
                                 src, ("gemm", r["m"], r["n"], r["k"], r["fmt"]), shape=shape,
                                 fmt=r["fmt"], mesh="D1 core", dead=""))
    for r in sections["bench-core"].figures["gemm_rm"]:
        shape = f"{r['m']}x{r['n']}x{r['k']}"
        cycles, head = kernels.gemm_rm_kernel(p, kp, r["m"], r["n"], r["k"], r["fmt"],
                                              r["head_k"], r["epilogue"], r["np_cols"])
        name = "gemm_rm.c" + (f" + {r['epilogue']} epilogue" if r["epilogue"] else "")
        what = {"shape": shape, "fmt": r["fmt"], "mesh": "D1 core", "dead": ""}
        rows.append(_program_row(kp, "core", name, r["cycles"], cycles, src, None, **what))
        rows.append(_program_row(kp, "core", f"{name}: head", r["head"],
                                 head, src, ("gemm_rm head", r["m"], r["n"], r["k"], r["fmt"])
                                 if not r["epilogue"] else None, **what))
    if "bench-core-layernorm" not in sections:
        return rows + [_missing("layer normalisation", "bench-core-layernorm")]
    s = sections["bench-core-layernorm"]
    for r in s.figures["layernorm"]:
        cycles, bound = kernels.layernorm_kernel(p, r["rows"], r["cols"])
        shape = f"{r['rows']}x{r['cols']}"
        rows.append(_program_row(kp, "core", f"layernorm.c (bound {bound:,.0f})",
                                 r["cycles"], cycles, f"{s.key} ({s.source})", None,
                                 shape=shape, fmt="fp32", mesh="D1 core", dead=""))
    return rows


def _dead_text(dead):
    return ", ".join(f"({x}, {y})" for x, y in dead)


def _mesh_rows(p, ps, kp, sections):
    rows = []
    if "bench-mesh-gemm" in sections:
        s = sections["bench-mesh-gemm"]
        for r in s.figures["gemm"]:
            w, h = (int(v) for v in r["mesh"].split("x"))
            dead = [tuple(d) for d in r.get("dead", [])]
            cycles, _ = kernels.summa(p, kp, w, h, r["m"], r["n"], r["k"], r["kb"], r["fmt"],
                                      dead)
            shape = f"{r['m']}x{r['n']}x{r['k']}"
            rows.append(_program_row(kp, "mesh", f"summa.c, panels of {r['kb']}",
                                     r["cycles"], cycles, f"{s.key} ({s.source})", None,
                                     shape=shape, fmt=r["fmt"], mesh=f"{r['mesh']} D1",
                                     dead=_dead_text(dead)))
    else:
        rows.append(_missing("SUMMA", "bench-mesh-gemm"))
    if "bench-mesh-allreduce" in sections:
        s = sections["bench-mesh-allreduce"]
        for r in s.figures["allreduce"]:
            rows.append(_program_row(
                kp, "mesh", f"allreduce.c, pieces of {r['piece']} lines", r["cycles"],
                kernels.allreduce(kp, r["n"], r["cores"], r["piece"]),
                f"{s.key} ({s.source})", ("allreduce", r["n"], r["cores"], r["piece"]),
                shape=f"{r['n']} FP32", fmt="fp32", mesh="2x2 SMALL",
                dead=_dead_text(r["dead"])))
    else:
        rows.append(_missing("all-reduce", "bench-mesh-allreduce"))
    if "bench-mesh-train" in sections:
        s = sections["bench-mesh-train"]
        mixes = insns.load()
        for r in s.figures["train"]:
            if r["cores"] not in mixes:
                rows.append(_missing(f"training step, {r['cores']} cores: its instructions",
                                     "bench-mesh-train", kind="mesh", shape="", fmt="",
                                     mesh="2x2 SMALL", dead=_dead_text(r["dead"]))
                            | {"note": "missing: run python -m verif.perf.insns"})
                continue
            model = kernels.train_step(ps, sizes=r["sizes"], batch=r["batch"],
                                       cores=r["cores"], mix=mixes[r["cores"]])
            step = r["per_step"][-1]
            shape = "-".join(str(v) for v in r["sizes"]) + f" batch {r['batch']}"
            for part in ("cycles", "forward_backward", "allreduce", "update"):
                rows.append(_row(f"train.c step: {part}", step[part],
                                 model[part], f"{s.key} ({s.source})", kind="mesh",
                                 shape=shape, fmt="bf16", mesh="2x2 SMALL",
                                 dead=_dead_text(r["dead"])))
    else:
        rows.append(_missing("training step", "bench-mesh-train", kind="mesh", shape="", fmt="",
                             mesh="2x2 SMALL", dead=""))
    return rows


def program_checks(sections):
    """One row per stored run of a whole program (core kernels, mesh programs); a section
    that is missing gives one row with ``measured`` None and a note."""
    p = build(sections)
    kp = kernels.calibration(p, sections)
    ps = build(sections, engine="SMALL")
    return _core_rows(p, kp, sections) + _mesh_rows(p, ps, kp, sections)


def _engine(preset, m, n, k, fmt):
    return {"kind": "block", "shape": f"{m}x{n}x{k}", "fmt": fmt, "mesh": f"{preset} engine",
            "dead": ""}


def gemm_checks(sections, rtl_path=RTL_GEMM):
    """One row per GEMM with measured cycles."""
    rows = []
    mm = sections["bench-matmul"]
    for preset in ("D1", "SMALL"):
        p = build(sections, engine=preset)
        L, tr, tc = p.interleave, p.tile_rows, p.tile_cols
        for r in mm.figures[preset]:
            k = r["k"]
            if "cycles" in r:
                for groups, cyc in zip((2, 4), r["cycles"], strict=True):
                    m, n = groups * tr, L * tc
                    rows.append(_row(f"{preset} {m}x{n}x{k} bf16", cyc,
                                     core.gemm_cycles(p, m, n, k), f"{mm.key} ({mm.source})",
                                     **_engine(preset, m, n, k, "bf16")))
            else:   # printed utilisation of the 4-group GEMM: cycles = MACs / (util × peak)
                m, n = 4 * tr, L * tc
                cyc = m * n * k / (r["whole"] * p.macs_per_cycle)
                rows.append(_row(f"{preset} {m}x{n}x{k} bf16", round(cyc, 1),
                                 core.gemm_cycles(p, m, n, k), f"{mm.key} ({mm.source})",
                                 "cycles from the printed utilisation (0.1 % steps)",
                                 **_engine(preset, m, n, k, "bf16")))
    if Path(rtl_path).exists():
        doc = json.loads(Path(rtl_path).read_text())
        for r in doc["runs"]:
            p = build(sections, engine=r["preset"])
            rows.append(_row(f"{r['preset']} {r['m']}x{r['n']}x{r['k']} {r['format']}",
                             r["cycles"], core.gemm_cycles(p, r["m"], r["n"], r["k"],
                                                           r["format"]),
                             f"{Path(rtl_path).name} ({doc['date']})",
                             **_engine(r["preset"], r["m"], r["n"], r["k"], r["format"])))
    return rows


def noc_checks(sections):
    """Zero-load latency and saturation of every noc section the model can read."""
    p = build(sections)
    rows = []
    for key, s in sorted(sections.items()):
        if not key.startswith("noc-"):
            continue
        f = s.figures
        w, h = f["width"], f["height"]
        q = p.with_overrides({"vcs": f["vcs"], "depth": f["depth"]})
        what = {"kind": "block", "shape": f["traffic"], "fmt": f"{f['vcs']} VC, {f['depth']} fl",
                "mesh": f"{w}x{h} noc", "dead": ""}
        zero = q.fixed_cycles + q.hop_cycles * mean_hops(w, h)
        low = f["points"][0]
        rows.append(_row(f"{key}: zero-load latency",
                         low["latency_avg"], zero, f"{key} ({s.source})",
                         "fit point" if key in ("noc-4x4-uniform-v1", "noc-8x8-uniform-v1")
                         else "", **what))
        rates = [pt["offered"] for pt in f["points"]]
        if f["saturation_rate"] is None or f["saturation_rate"] == max(rates):
            rows.append({"case": f"{key}: saturation", "measured": None, "model":
                         network.saturation_throughput(q, w, h, f["traffic"]), "error": None,
                         "ok": None, "source": f"{key} ({s.source})",
                         "note": f"not measured: every rate up to {max(rates)} kept up "
                                 f"({len(rates)} point(s)); re-run d1core bench --only noc",
                         **what})
            continue
        model = network.saturation_throughput(q, w, h, f["traffic"])
        circular = (w, h) == (8, 8) and (f["traffic"] == "uniform" or
                                         key == "noc-8x8-transpose-v2")
        rows.append(_row(f"{key}: saturation", f["saturation_throughput"], model,
                         f"{key} ({s.source})", "the share is fitted here" if circular else "",
                         **what))
    return rows


def freshness(sections):
    """One row per required section: key, what, source, date, status, detail."""
    rows = []
    for key, what in REQUIRED.items():
        if key not in sections:
            rows.append({"key": key, "what": what, "source": None, "date": None,
                         "status": "missing", "detail": "run d1core bench"})
            continue
        s = sections[key]
        status, detail = staleness(s)
        pts = s.figures.get("points")
        if pts is not None and len(pts) < 3:
            status, detail = "incomplete", (f"{len(pts)} point(s) only (last written by "
                                            f"`{s.command}`); " + detail)
        rows.append({"key": key, "what": what, "source": s.source, "date": s.date,
                     "status": status, "detail": detail})
    return rows
