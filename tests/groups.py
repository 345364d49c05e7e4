"""Marks that place tests on pytest-xdist workers (``make test`` runs ``--dist loadgroup``;
tests/conftest.py orders and checks them)."""

import pytest

from sim.flow.toolchain import SIMULATORS

__all__ = ["core_build", "core_cases", "same_build", "sims_of"]


def same_build(design, sim):
    """The mark of tests that simulate ``design`` (a ``sim.flow.build.Design``) on ``sim``: they
    run on one worker, one after the other, so the first builds the simulation and the others
    reuse it, where otherwise a second worker would wait for the build's lock doing nothing."""
    return pytest.mark.xdist_group(f"build-{design.name}-{sim}")


def sims_of(design, sims=SIMULATORS, *, slow=(), bench=()):
    """``sims`` as parameters of a test of ``design``, each marked :func:`same_build`, ``slow``
    for the simulators in ``slow`` and ``bench`` (out of ``make test``) for those in
    ``bench``."""
    return [pytest.param(sim, marks=[same_build(design, sim),
                                     *([pytest.mark.slow] if sim in slow else []),
                                     *([pytest.mark.bench] if sim in bench else [])])
            for sim in sims]


def core_build(preset, sim):
    """The mark of tests that run programs on the core preset ``preset`` (``"SMALL"``, ``"D1"``)
    on ``sim``: one worker builds that core and runs them all, one after the other; ``slow``, so
    that the group (minutes: the build and every run) starts first."""
    return [pytest.mark.xdist_group(f"build-core-{preset.lower()}-{sim}"), pytest.mark.slow]


def core_cases(preset, cases):
    """Parameter sets whose first value is the simulator, each marked :func:`core_build`."""
    return [pytest.param(*case, marks=core_build(preset, case[0])) for case in cases]
