"""Floating-point blocks of d1core: the format table, decode helpers, the SR generator and the
conversion unit."""

from .convert import ConvertUnit, ConvOp, request_layout, response_layout
from .rng import XorShift32

__all__ = ["ConvertUnit", "ConvOp", "request_layout", "response_layout", "XorShift32"]
