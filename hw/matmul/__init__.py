"""The matrix units of d1core: the configuration and presets, the 8×8 array and the engine."""

from .array import MatmulArray, OperandConfig
from .config import D1, PRESETS, SMALL, MatmulConfig, get_preset
from .engine import MatmulEngine

__all__ = ["MatmulArray", "MatmulEngine", "MatmulConfig", "OperandConfig", "D1", "SMALL",
           "PRESETS", "get_preset"]
