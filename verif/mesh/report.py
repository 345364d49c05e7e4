"""What ``d1core run --mesh`` shows of a :class:`verif.mesh.run.MeshRun`: the text report and
the heat maps (docs/mesh.md, "Running a program on a mesh").

:func:`report_lines` gives the outcome (with the watchdog's dump when the run did not finish),
the cycles and the simulation speed, a table of the cores (each unit's busy share of the run's
cycles, the instructions retired, ``tohost``), the network's counts and every link's flits.
:func:`draw` draws two heat maps of the mesh side by side: the matrix unit's utilisation of
each core, and the flits of each link (both directions, an arrow each, coloured by flits per
cycle), each with a colour bar.
"""

from pathlib import Path

from verif.scalar.programs import describe

from .run import HOST, UNITS

__all__ = ["report_lines", "draw", "outcome_line"]


def _cores(config):
    return [(n % config.width, n // config.width) for n in range(config.nodes)]


def outcome_line(run, config, dead=()):
    """One line: PASS, FAIL (the first failing core and its ``tohost``), HANG or TIMEOUT."""
    if run.status == "pass":
        return f"PASS: every live core wrote tohost = 1 ({config.nodes - len(dead)} cores)"
    if run.status == "fail":
        bad = [(xy, v) for xy, v in zip(_cores(config), run.tohost, strict=True)
               if xy not in dead and v != 1]
        xy, v = bad[0]
        return f"FAIL: core {xy}: {describe(v)}" + (f" (and {len(bad) - 1} more cores)"
                                                   if len(bad) > 1 else "")
    if run.status == "timeout":
        return f"TIMEOUT: still running after {run.cycles} cycles (--max-cycles)"
    return (f"HANG: no core that has not written tohost retired an instruction for the "
            f"watchdog's cycles (after {run.cycles} cycles)")


def report_lines(run, config, dead=()):
    """The lines ``d1core run --mesh`` prints for ``run`` on mesh ``config`` (``dead``: its
    dead cores)."""
    lines = [outcome_line(run, config, dead)]
    if run.watchdog:
        lines += ["watchdog:", *("  " + line for line in run.watchdog.splitlines())]
    live = config.nodes - len(dead)
    rate = run.speed or 0.0
    lines += [f"mesh: {config}" + (f", dead {', '.join(map(str, dead))}" if dead else ""),
              f"cycles: {run.cycles} ({rate:,.0f} mesh cycles/s on {run.sim}, "
              f"{rate * live:,.0f} core cycles/s over {live} live cores, loading included; "
              f"{run.seconds:.1f} s)",
              f"{'core':>8} {'matrix':>8} {'vector':>8} {'DMA':>8} {'instructions':>13} "
              f"{'tohost':>8}"]
    for n, xy in enumerate(_cores(config)):
        name = f"({xy[0]}, {xy[1]})"
        if xy in dead:
            lines.append(f"{name:>8} {'dead':>8}")
            continue
        u = run.utilisation[n]
        lines.append(f"{name:>8} " + " ".join(f"{100 * u[k]:>7.1f}%" for k in UNITS)
                     + f" {run.instructions[n]:>13} {run.tohost[n]:>#8x}")
    lines.append(f"network: {sum(run.dropped)} packets dropped by routers "
                 f"{run.dropped}, {sum(run.failed)} ERROR answers {run.failed}, "
                 f"{sum(run.refused)} lines refused {run.refused} (by core number)")
    lines.append(f"{'link':>18} {'request':>9} {'response':>9} {'flits/cycle':>12}")
    for (a, b), (req, resp) in sorted(run.links.items()):
        per = (req + resp) / run.cycles if run.cycles else 0.0
        to = "host" if b == HOST else b            # (0, 0)'s west link: the edge port's
        lines.append(f"{f'{a} -> {to}':>18} {req:>9} {resp:>9} {per:>12.4f}")
    return lines


def draw(path, run, config, dead=()):
    """Write the two heat maps of ``run`` to the PNG ``path`` (matplotlib, Agg backend):
    per-core matrix-unit utilisation (a dead core crossed out) and per-link flits per cycle,
    both classes together, an arrow for each direction offset to its side, labelled with its
    flits. ``ValueError`` for a path that does not end in ``.png``; ``OSError`` from writing."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"the plot is a PNG: give a .png file, not {str(path)!r}")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import cm, colors
    from matplotlib import pyplot as plt

    w, h = config.width, config.height
    fig, (left, right) = plt.subplots(1, 2, figsize=(5 + 2.2 * w, 1.5 + 2 * h), dpi=100)
    # Rows from the top: y grows downwards on the plot as in docs/mesh.md's pictures.
    grid = [[100 * run.utilisation[y * w + x]["matrix"] for x in range(w)] for y in range(h)]
    image = left.imshow(grid, cmap="viridis", vmin=0, vmax=100)
    for x, y in _cores(config):
        text = "dead" if (x, y) in dead else f"{grid[y][x]:.1f} %"
        left.text(x, y, f"({x}, {y})\n{text}", ha="center", va="center", color="white",
                  fontsize=9)
        if (x, y) in dead:
            left.plot([x - 0.45, x + 0.45], [y - 0.45, y + 0.45], color="red")
    for ax in (left, right):
        ax.set_xticks(range(w))
        ax.set_yticks(range(h))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    left.set_title("matrix-unit utilisation (% of the run's cycles)")
    fig.colorbar(image, ax=left, fraction=0.046, pad=0.04, label="%")

    rates = {k: (req + resp) / run.cycles if run.cycles else 0.0
             for k, (req, resp) in run.links.items()}
    top = max([*rates.values(), 1e-9])
    norm = colors.Normalize(vmin=0, vmax=top)
    cmap = matplotlib.colormaps["plasma"]
    for (x, y) in _cores(config):
        right.add_patch(plt.Rectangle((x - 0.2, y - 0.2), 0.4, 0.4, facecolor="lightgrey",
                                      edgecolor="black", hatch="xx" if (x, y) in dead else None))
        right.text(x, y, f"{x},{y}", ha="center", va="center", fontsize=8)
    for ((ax_, ay), b), rate in rates.items():
        bx, by = (ax_ - 1, ay) if b == HOST else b      # the host: off the west edge
        dx, dy = bx - ax_, by - ay
        # Each direction on its own side of the line between the two routers.
        ox, oy = -dy * 0.08, dx * 0.08
        sx, sy = ax_ + 0.25 * dx + ox, ay + 0.25 * dy + oy
        right.annotate("", xy=(sx + 0.5 * dx, sy + 0.5 * dy), xytext=(sx, sy),
                       arrowprops={"arrowstyle": "-|>", "color": cmap(norm(rate)), "lw": 3})
        flits = sum(run.links[((ax_, ay), b)])
        right.text(sx + 0.25 * dx + ox * 2, sy + 0.25 * dy + oy * 2, str(flits),
                   ha="center", va="center", fontsize=7)
    right.set_xlim(-1, w - 0.5)
    right.set_ylim(h - 0.5, -0.5)
    right.set_aspect("equal")
    right.set_title("link traffic (flits/cycle; labels: flits)")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=right, fraction=0.046, pad=0.04,
                 label="flits/cycle")
    fig.suptitle(f"{config}: {run.status}, {run.cycles} cycles")
    fig.tight_layout()
    try:
        fig.savefig(path)
    finally:
        plt.close(fig)
