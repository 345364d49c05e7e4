"""The benches behind ``d1core bench`` (one module each) and what they share: :class:`BenchError`,
the one error of a run that cannot give a figure."""

__all__ = ["BenchError"]


class BenchError(RuntimeError):
    """A bench run that failed its checks (the program failed, its result differs from the
    reference, the simulators disagree, a tier did not pass): it gives no figure."""
