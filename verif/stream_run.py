"""Runs of a design in the bulk stream harness (``verif/harness.py``): batches of payload words
pushed through a unit and its responses read back, with :func:`run_stream`, or structured,
tagged requests and responses, with :func:`run_tagged`. Both go through the flow's
:func:`sim.flow.runner.run_cocotb` and the cocotb module ``verif.stream_cocotb``."""

import json
import uuid

import numpy as np

from sim.flow import toolchain
from sim.flow.runner import run_cocotb

from .harness import read_words, stream_harness, write_words
from .pack import pack, unpack

__all__ = ["run_stream", "run_tagged"]


def run_stream(design, batches, sim, *, seed_port=None, waves=None, progress=True):
    """Push batches of payload words through ``design`` in the bulk harness; return the responses.

    ``batches`` is a list of dicts with ``words`` (ints) and optionally ``seed`` (written to the
    ``seed_port`` stream first), ``idle``, ``stall`` (256ths), ``label``. Returns
    ``(responses, summary, info)``: one list of response words per batch, the per-batch
    ``{"label", "words", "cycles", "seconds"}`` and ``run_cocotb``'s info dict.
    """
    test_dir = toolchain.BUILD / "runs" / f"{design.stem}-{sim}-{uuid.uuid4().hex[:8]}"
    test_dir.mkdir(parents=True, exist_ok=True)
    spec = []
    for k, b in enumerate(batches):
        stim, resp = test_dir / f"batch{k}.stim.hex", test_dir / f"batch{k}.resp.hex"
        write_words(stim, b["words"])
        spec.append({"stim": str(stim), "resp": str(resp), "seed": b.get("seed"),
                     "idle": b.get("idle", 0), "stall": b.get("stall", 0),
                     "label": b.get("label", f"batch {k}"), "timeout": b.get("timeout", 10_000)})
    summary_path = test_dir / "summary.json"
    info = run_cocotb(design, "verif.stream_cocotb", sim, harness=stream_harness,
                      test_dir=test_dir, waves=waves,
                      quiet=True, echo="  [" if progress else None,
                      args={"batches": spec, "seed_port": seed_port, "progress": progress,
                            "summary": str(summary_path)})
    responses = [read_words(s["resp"]) for s in spec]
    return responses, json.loads(summary_path.read_text()), info


def run_tagged(design, batches, sim, *, request_layout, response_layout, fields, tag_width,
               seed_port=None, waves=None, progress=True):
    """:func:`run_stream` for a unit whose requests and responses carry a ``tag``.

    Each batch has ``req`` (a dict of arrays holding ``fields``) and optionally ``seed``,
    ``idle``, ``stall``, ``label``. Requests are packed with ``request_layout`` and tagged with
    their index modulo ``2**tag_width``; responses are unpacked with ``response_layout``. Returns
    ``(results, summary, info)``, one dict of uint64 arrays per batch; a response whose tag is not
    its request's (lost, duplicated or reordered) raises ``AssertionError``.
    """
    def tags(n):
        return np.arange(n, dtype=np.uint64) % np.uint64(1 << tag_width)

    stream_batches = []
    for b in batches:
        req = b["req"]
        words = pack(request_layout, tag=tags(len(req[fields[0]])),
                     **{k: req[k] for k in fields})
        stream_batches.append({**{k: v for k, v in b.items() if k != "req"}, "words": words})
    responses, summary, info = run_stream(design, stream_batches, sim, seed_port=seed_port,
                                          waves=waves, progress=progress)
    results = []
    for b, words in zip(batches, responses, strict=True):
        got = unpack(response_layout, np.array(words, dtype=np.uint64))
        expect = tags(len(b["req"][fields[0]]))
        if not np.array_equal(got["tag"], expect):
            first = int(np.flatnonzero(got["tag"] != expect)[0])
            raise AssertionError(f"response {first} carries tag {int(got['tag'][first])}, "
                                 f"expected {int(expect[first])}: lost or reordered")
        results.append(got)
    return results, summary, info
