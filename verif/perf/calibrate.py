"""The model against the RTL's stored figures: the 10 % checks, and the figures' freshness.

Checks (no simulation; the RTL runs belong to the benches):

* the matrix engine: every GEMM of the ``bench-matmul`` section (D1: 32×64×K and 64×64×K;
  SMALL: 32×32×K, its cycles from the printed utilisation) and the ``d1core gemm`` runs of
  ``rtl_gemm.json`` (SMALL and D1, BF16 and CFP8, shapes that are not whole tiles), against
  :func:`.core.gemm_cycles`;
* the network: every noc section's zero-load latency (its lowest rate) against
  ``fixed + hop × mean hops``, and its saturation throughput against the pattern's bound times the
  measured share (8x8 uniform is where the share comes from, so its check is circular: marked).

:func:`freshness` lists the sections the model needs with their source, date and staleness.
"""

import json
from pathlib import Path

from . import core, network
from .figures import REQUIRED, staleness
from .params import build, mean_hops

__all__ = ["TOLERANCE", "gemm_checks", "noc_checks", "freshness", "RTL_GEMM"]

TOLERANCE = 0.10
RTL_GEMM = Path(__file__).with_name("rtl_gemm.json")


def _row(case, measured, model, source, note=""):
    err = (model - measured) / measured
    return {"case": case, "measured": measured, "model": model, "error": err,
            "ok": abs(err) <= TOLERANCE, "source": source, "note": note}


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
                                     core.gemm_cycles(p, m, n, k), f"{mm.key} ({mm.source})"))
            else:   # printed utilisation of the 4-group GEMM: cycles = MACs / (util × peak)
                m, n = 4 * tr, L * tc
                cyc = m * n * k / (r["whole"] * p.macs_per_cycle)
                rows.append(_row(f"{preset} {m}x{n}x{k} bf16", round(cyc, 1),
                                 core.gemm_cycles(p, m, n, k), f"{mm.key} ({mm.source})",
                                 "cycles from the printed utilisation (0.1 % steps)"))
    if Path(rtl_path).exists():
        doc = json.loads(Path(rtl_path).read_text())
        for r in doc["runs"]:
            p = build(sections, engine=r["preset"])
            rows.append(_row(f"{r['preset']} {r['m']}x{r['n']}x{r['k']} {r['format']}",
                             r["cycles"], core.gemm_cycles(p, r["m"], r["n"], r["k"],
                                                           r["format"]),
                             f"{Path(rtl_path).name} ({doc['date']})"))
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
        zero = q.fixed_cycles + q.hop_cycles * mean_hops(w, h)
        low = f["points"][0]
        rows.append(_row(f"{key}: zero-load latency (offered {low['offered']})",
                         low["latency_avg"], zero, f"{key} ({s.source})",
                         "fit point" if key in ("noc-4x4-uniform-v1", "noc-8x8-uniform-v1")
                         else ""))
        rates = [pt["offered"] for pt in f["points"]]
        if f["saturation_rate"] is None or f["saturation_rate"] == max(rates):
            rows.append({"case": f"{key}: saturation", "measured": None, "model":
                         network.saturation_throughput(q, w, h, f["traffic"]), "error": None,
                         "ok": None, "source": f"{key} ({s.source})",
                         "note": f"not measured: every rate up to {max(rates)} kept up "
                                 f"({len(rates)} point(s)); re-run d1core bench --only noc"})
            continue
        model = network.saturation_throughput(q, w, h, f["traffic"])
        circular = (w, h) == (8, 8) and (f["traffic"] == "uniform" or
                                         key == "noc-8x8-transpose-v2")
        rows.append(_row(f"{key}: saturation throughput", f["saturation_throughput"], model,
                         f"{key} ({s.source})", "the share is fitted here" if circular else ""))
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
