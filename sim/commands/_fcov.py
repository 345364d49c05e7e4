"""Functional coverage runs (issue 20): ``d1core coverage --functional``. (Here, not in
:mod:`sim.flow`, because it reads :mod:`verif.fcov`'s definitions: the layers go one way.)

The bins, the sampling and the databases are :mod:`verif.fcov`'s. This module runs the blocks'
tests with :data:`verif.fcov.FCOV_ENV` set (the same test selection as code coverage,
:func:`sim.flow.coverage.blocks`: the Verilator half of each block's test files), merges the
databases the processes wrote (``build/fcov/dat/*.yml``, into ``build/fcov/merged.yml``) and
writes per block a section of docs/coverage.md: bins defined and hit per cover point and cross,
the holes, and the definitions (points, bins, crosses and the combinations excluded, with why),
generated from :mod:`verif.fcov`; the figures go to docs/coverage.json beside it.
"""

from sim.flow import coverage, toolchain
from verif import fcov

__all__ = ["OUT", "blocks", "check_blocks", "markdown", "run"]

#: Where the runs' databases (``dat/``), the merged one and the pytest logs go.
OUT = toolchain.BUILD / "fcov"


def blocks():
    """``{block: Selection}``: the blocks with a functional coverage model and code coverage's
    test selection (of the block the model names as its ``selection``, else its own)."""
    known = coverage.blocks()
    return {name: known[g.selection or name][1] for name, g in fcov.GROUPS.items()
            if (g.selection or name) in known}


def check_blocks(names):
    """``names`` (all for none), each a block of :func:`blocks`; ``ValueError`` otherwise."""
    return coverage.check_blocks(names, known=blocks(), what="functional coverage")


def _pct(hit, total):
    return "-" if total == 0 else f"{100.0 * hit / total:.1f} %"


def _combo(combo):
    return " × ".join(str(c) for c in combo) if isinstance(combo, tuple) else str(combo)


def markdown(group, report, *, tests):
    """The markdown body of ``group``'s section: the totals, a table per item, the holes, and
    the definitions."""
    out = [f"A sample: {group.doc}. Bins hit **{_pct(report['hit'], report['bins'])}** "
           f"({report['hit']} of {report['bins']}). Tests: {tests}.", ""]
    rows = ["| item | kind | bins | hit | % |", "|---|---|---:|---:|---:|"]
    for name, item in report["items"].items():
        rows.append(f"| `{name}` | {item['kind']} | {item['bins']} | {item['hit']} | "
                    f"{_pct(item['hit'], item['bins'])} |")
    out += rows + [""]
    holes = [(n, h) for n, i in report["items"].items() for h in i["holes"]]
    if holes:
        out.append(f"Holes ({len(holes)}):")
        out.append("")
        out += [f"- `{n}`: {_combo(h)}" for n, h in holes[:60]]
        if len(holes) > 60:
            out.append(f"- ... and {len(holes) - 60} more (`build/fcov/merged.yml`)")
    else:
        out.append("Holes: none.")
    out += ["", "Cover points (bins):", ""]
    for p in group.points:
        multi = "; several a sample" if p.multi else ""
        out.append(f"- `{p.name}`: {p.doc}{multi}: {', '.join(f'`{b}`' for b in p.bins)}")
    out += ["", "Crosses (every combination of their points' bins, less the exclusions):", ""]
    for c in group.crosses:
        excluded = c.excluded(group)
        n = len(c.bins(group))
        line = f"- `{c.name}` = {' × '.join(f'`{i}`' for i in c.items)}: {c.doc}; {n} bins"
        if excluded:
            line += ", excluded: " + "; ".join(f"{why} ({len(v)})" for why, v in excluded.items())
        out.append(line)
    return "\n".join(out) + "\n"


def run(names=None, *, jobs=1, tests=True, write=True, command, say=print):
    """Run the tests of the blocks ``names`` (all by default) with functional coverage on, merge
    the databases and report each block (with ``write``: its section of docs/coverage.md and its
    figures in docs/coverage.json). With ``tests=False`` the databases of the last run
    (``build/fcov/dat/``) are reported again. Returns ``(reports, failed)``: ``{block:
    block_report}`` and the selections whose tests failed (their databases are still merged).
    ``ValueError`` when there is no database to report."""

    from sim.flow.report import update_section

    names = check_blocks(names)
    known = blocks()
    dat = OUT / "dat"
    failed = []
    if tests:
        failed = coverage.run_selections([known[n] for n in names], dat, out=OUT, jobs=jobs,
                                         variable=fcov.FCOV_ENV, say=say, what="databases")
    runs = sorted(dat.glob("*.yml"))
    if not runs:
        raise ValueError(f"no functional coverage databases in {dat}: run the tests first")
    merged = fcov.merge(runs, OUT / "merged.yml")
    data = fcov.load(merged)
    reports = {}
    for name in names:
        group = fcov.group(name)
        rep = fcov.block_report(group, data)
        reports[name] = rep
        say(f"{name}: {_pct(rep['hit'], rep['bins'])} of {rep['bins']} bins hit")
        if write:
            figures = {"bins": rep["bins"], "hit": rep["hit"],
                       "items": {k: {"bins": v["bins"], "hit": v["hit"],
                                     "holes": [list(h) if isinstance(h, tuple) else h
                                               for h in v["holes"]]}
                                 for k, v in rep["items"].items()}}
            if not coverage.PAGE.exists():
                coverage.PAGE.write_text(coverage._PAGE_HEADER)
            update_section(coverage.PAGE, f"{name.replace('.', '-')}-functional",
                           f"{name}: functional coverage",
                           markdown(group, rep, tests=known[name].text()), command=command,
                           figures=figures)
    if write:
        say(f"written: {coverage.PAGE}")
    return reports, failed
