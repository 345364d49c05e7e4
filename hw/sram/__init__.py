"""The SRAM scratchpad of d1core: configuration and presets (``config``), the (72, 64) Hsiao
SECDED code (``ecc``), the single-port bank, the bank slice (round-robin arbiter, lock, bank),
the port pipeline, the check stage and the scratchpad itself (``scratchpad.Scratchpad``); see
docs/sram.md."""

from .ecc import HSIAO_COLUMNS, ECCDecoder, ECCEncoder, ECCStatus

__all__ = ["HSIAO_COLUMNS", "ECCDecoder", "ECCEncoder", "ECCStatus"]
