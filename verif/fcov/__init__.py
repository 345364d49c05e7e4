"""Functional coverage (issue 20): what each block was *seen* to do, in bins taken from its
contract (docs/formats.md, docs/sram.md, ...), recorded with ``cocotb-coverage``.

The pieces
  A :class:`Group` is one block's coverage model: its cover points (:class:`Point`: a name and
  its bins; a *multi* point, such as the flags, may hit several bins in one sample) and its
  crosses (:class:`Cross`: points whose bin tuples are crossed, less the combinations the
  contract makes impossible, which are no bins: :meth:`Cross.bins` and :meth:`Cross.excluded`,
  each exclusion with its reason). The groups are in :data:`GROUPS` (``verif/fcov/fp.py``, ...);
  each block's module (``fp``, ``vector``, ``sram``, ``scalar``) also has a sampling function
  that turns the transactions a testbench observed (the requests it drove and the responses and
  flags the design gave) into samples.

How a sample is taken
  A sample is a tuple with one value per point: a bin label, a frozenset of labels for a multi
  point, or None where the point does not apply (a widening has no rounding mode). The first
  time a group is sampled in a process, its points and crosses are created in
  ``cocotb_coverage.coverage.coverage_db`` under ``d1core.BLOCK`` (:meth:`Group.sampler`);
  each distinct sample is then given to them once (:func:`record`): a million conversions that
  fall into a few thousand distinct samples cost a few thousand calls of the library, so the hit
  counts in a database are distinct samples per process, not transactions. A bin is covered when
  its count is at least 1.

When it is on
  Only with ``D1CORE_FCOV=DIR`` in the environment (:func:`requested`; a relative ``DIR`` is
  taken from the repository's root, the same for a pytest worker and a simulator process).
  Without it the sampling functions return at once: the regression does not pay for coverage.
  With it, each process writes its whole database to one file of its own in ``DIR``
  (:func:`save`: ``fcov-HOST-PID-UUID.yml``, the library's YAML export), rewritten after each
  batch it samples, so that parallel pytest-xdist workers and simulator processes never share a
  file and a process that dies keeps what it saved. :func:`merge` adds the files up with the
  library's ``merge_coverage``; :func:`block_report` compares a merged database with the
  definitions: bins defined, bins hit, the holes.
"""

import itertools
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FCOV_ENV", "ROOT", "Point", "Cross", "Group", "requested", "record", "save",
           "merge", "load", "block_report", "GROUPS", "group", "FLAG_BINS"]

#: The environment variable that turns functional coverage on: the directory of the databases.
FCOV_ENV = "D1CORE_FCOV"

#: The name under which every group's items sit in the library's database.
ROOT = "d1core"

#: The repository (a relative ``DIR`` is taken from here).
_REPO = Path(__file__).resolve().parents[2]

#: The bins of a flags point: each flag raised, and ``none`` for a result without any flag.
FLAG_BINS = ("none", "inexact", "underflow", "overflow", "invalid", "denormal")


def requested():
    """The directory named by :data:`FCOV_ENV` (absolute), or None when it is unset or empty."""
    value = os.environ.get(FCOV_ENV, "")
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else _REPO / path


@dataclass(frozen=True)
class Point:
    """A cover point: ``name``, its ``bins`` (labels) and what it is (``doc``). A ``multi``
    point takes a set of labels per sample and hits each."""
    name: str
    bins: tuple
    doc: str
    multi: bool = False

    def hits(self, value):
        """The bins ``value`` (a label, a set of labels, or None) falls in."""
        if value is None:
            return ()
        if self.multi:
            return tuple(b for b in self.bins if b in value)
        return (value,) if value in self.bins else ()


@dataclass(frozen=True)
class Cross:
    """A cross of the points ``items`` (names). ``exclude`` is a function of a bin tuple
    (``{point: label}``) that returns why that combination is impossible by the contract, or
    None when it is a bin."""
    name: str
    items: tuple
    doc: str
    exclude: object = None

    def _all(self, group):
        return itertools.product(*(group.point(i).bins for i in self.items))

    def _why(self, combo):
        return self.exclude(dict(zip(self.items, combo, strict=True))) if self.exclude else None

    def bins(self, group):
        """The bins: every combination of the points' bins the contract allows."""
        return [c for c in self._all(group) if self._why(c) is None]

    def excluded(self, group):
        """``{reason: [combination, ...]}``: the combinations that are no bins, and why."""
        out = {}
        for c in self._all(group):
            why = self._why(c)
            if why is not None:
                out.setdefault(why, []).append(c)
        return out


@dataclass
class Group:
    """One block's coverage model: its ``points`` and ``crosses``; ``doc`` says what a sample
    is (which transaction, observed where). ``selection``: the block whose tests (code
    coverage's selection, ``d1core coverage``) sample it, when not ``block`` itself."""
    block: str
    doc: str
    points: tuple
    crosses: tuple
    selection: str = None
    _sampler: object = field(default=None, repr=False, compare=False)
    _seen: set = field(default_factory=set, repr=False, compare=False)

    def point(self, name):
        return next(p for p in self.points if p.name == name)

    def name(self, item):
        """The item's full name in the library's database."""
        return f"{ROOT}.{self.block}.{item}"

    def sampler(self):
        """The function that feeds one sample (a value per point, in order) to the library's
        cover points and crosses, created in its database on the first call."""
        if self._sampler is None:
            from cocotb_coverage.coverage import CoverCross, CoverPoint

            def relation(value, label, point):
                return label in point.hits(value)

            def sample(*values):
                pass

            self._define_order_check()
            # The library's points must exist before a cross of them is made; a cross reads
            # what its points hit in the same call, so the crosses wrap the function first
            # (innermost, sampled last) and the points last (outermost, sampled first).
            points = [CoverPoint(self.name(p.name), xf=lambda *v, k=k: v[k], bins=list(p.bins),
                                 rel=lambda v, b, p=p: relation(v, b, p), inj=not p.multi)
                      for k, p in enumerate(self.points)]
            crosses = [CoverCross(self.name(c.name), items=[self.name(i) for i in c.items],
                                  ign_bins=[x for why in c.excluded(self).values() for x in why])
                       for c in self.crosses]
            for item in reversed(crosses):
                sample = item(sample)
            for item in reversed(points):
                sample = item(sample)
            self._sampler = sample
        return self._sampler

    def _define_order_check(self):
        names = {p.name for p in self.points}
        for c in self.crosses:
            missing = [i for i in c.items if i not in names]
            if missing:
                raise ValueError(f"cross {c.name!r} of {self.block} names unknown points "
                                 f"{missing}")

    def size(self):
        """``(points' bins, crosses' bins)``."""
        return (sum(len(p.bins) for p in self.points),
                sum(len(c.bins(self)) for c in self.crosses))


def record(group, samples):
    """Give each distinct sample of ``samples`` (tuples, a value per point of ``group``) that
    this process has not given before to the library's cover points and crosses of ``group``,
    then :func:`save`. Does nothing unless :data:`FCOV_ENV` is set."""
    if requested() is None:
        return
    sample = group.sampler()
    for s in samples:
        if len(s) != len(group.points):
            raise ValueError(f"a sample of {group.block} has {len(s)} values, not "
                             f"{len(group.points)}")
        if s not in group._seen:
            group._seen.add(s)
            sample(*s)
    save()


_FILE = {}


def save(directory=None):
    """Write this process's database (every group it sampled) to its own file in ``directory``
    (default :func:`requested`), replacing what it wrote before; returns the path, or None when
    functional coverage is off or nothing was sampled."""
    from cocotb_coverage.coverage import coverage_db

    directory = Path(directory) if directory is not None else requested()
    if directory is None or ROOT not in coverage_db:
        return None
    key = (os.getpid(), str(directory))
    if key not in _FILE:
        directory.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        _FILE[key] = directory / f"fcov-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}.yml"
    path = _FILE[key]
    tmp = path.with_suffix(".tmp")
    coverage_db.export_to_yaml(str(tmp))
    os.replace(tmp, path)
    return path


def merge(paths, out):
    """Merge the databases ``paths`` (the YAML files :func:`save` wrote) into ``out`` with the
    library's ``merge_coverage``: the hits of a bin are added, items that only some files have
    are taken as they are. ``ValueError`` for no file or a file that is not such a database."""
    from cocotb_coverage.coverage import merge_coverage

    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no functional coverage databases to merge")
    for p in paths:
        data = load(p)
        if not any(k == ROOT or k.startswith(f"{ROOT}.") for k in data):
            raise ValueError(f"{p}: not a d1core functional coverage database (no {ROOT!r} "
                             "items)")
    merge_coverage(lambda *_: None, str(out), *paths)
    return Path(out)


def load(path):
    """A database file as ``{item: {...}}`` (the library's YAML). ``ValueError`` for a file
    that is not YAML or not a mapping."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not a YAML coverage database ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML coverage database (no mapping at the top)")
    return data


def _label(combo):
    """The key under which the library's YAML export stores a bin (``str`` of a tuple)."""
    return str(combo)


def block_report(group, data):
    """``group``'s figures from a loaded (merged) database ``data``: per point and per cross
    ``{"bins", "hit", "holes"}`` (holes: the bins never hit), and the totals ``bins`` and
    ``hit``. A group the database does not have counts as never sampled. ``ValueError`` when
    the database's bins of an item are not the definitions' (a database of other
    definitions)."""
    items = {}
    for kind, item, bins in ([("point", p.name, list(p.bins)) for p in group.points]
                             + [("cross", c.name, c.bins(group)) for c in group.crosses]):
        entry = data.get(group.name(item))
        hits = (entry or {}).get("bins:_hits", {})
        keys = [_label(b) for b in bins]
        if entry is not None and set(map(str, hits)) != set(keys):
            raise ValueError(f"the database's bins of {group.name(item)} are not the "
                             f"definitions' ({len(hits)} bins, {len(keys)} defined): "
                             "regenerate it with these definitions")
        counts = {str(k): v for k, v in hits.items()}
        holes = [b for b, k in zip(bins, keys, strict=True) if counts.get(k, 0) < 1]
        items[item] = {"kind": kind, "bins": len(bins), "hit": len(bins) - len(holes),
                       "holes": holes}
    return {"bins": sum(i["bins"] for i in items.values()),
            "hit": sum(i["hit"] for i in items.values()), "items": items}


def _groups():
    from . import fp, scalar, sram, vector

    return {g.block: g for g in (*fp.GROUPS, *vector.GROUPS, *sram.GROUPS, *scalar.GROUPS)}


#: Every block's group, by block name (``fp.convert``, ...).
GROUPS = _groups()


def group(block):
    """The :class:`Group` of ``block``; ``ValueError`` naming the blocks that have one."""
    try:
        return GROUPS[block]
    except KeyError:
        raise ValueError(f"no functional coverage for block {block!r}; expected one of "
                         f"{', '.join(GROUPS)}") from None
