"""Regression order and grouping under pytest-xdist (``make test``: ``-n auto --dist loadgroup``).

* Tests marked ``slow`` (minutes each: the largest designs on Icarus, the full-size ones on
  Verilator) are collected first, so that the workers start them at once and the short tests
  fill the gaps, instead of a slow test starting last and running alone.
* Tests marked ``xdist_group(NAME)`` run on one worker, one after the other. The regression uses
  this for tests that share one simulator build (only the first builds; without the group, a
  second worker would sit waiting for the build's lock) and for the synthesis tests (one Yosys
  run). pytest 9.2 silently broke this in pytest-xdist 3.8 (the group suffix xdist adds to a
  node id no longer takes effect), so under ``--dist loadgroup`` a marked test that was not
  grouped fails, instead of passing slower, or flaky where two workers share a work directory.
* The tests that ``tests/check.py`` names are marked ``check``: ``make check``'s tier.
"""

import pytest

from tests import check


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept
    tier = check.entries()
    for item in items:
        if any(check.selects(e, item.nodeid) for e in tier):
            item.add_marker(pytest.mark.check)


@pytest.fixture(autouse=True)
def _grouped(request):
    """Fails a test marked xdist_group that --dist loadgroup did not group."""
    if getattr(request.config.option, "loadgroup", False) and \
            request.node.get_closest_marker("xdist_group") and "@" not in request.node.nodeid:
        pytest.fail("--dist loadgroup did not group this test marked xdist_group: this "
                    "pytest-xdist does not work with this pytest; use the versions pinned in "
                    "pyproject.toml", pytrace=False)
