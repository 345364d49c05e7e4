"""The SRAM scratchpad blocks of d1core: so far the (72, 64) Hsiao SECDED code, its encoder and
its decoder."""

from .ecc import HSIAO_COLUMNS, ECCDecoder, ECCEncoder, ECCStatus

__all__ = ["HSIAO_COLUMNS", "ECCDecoder", "ECCEncoder", "ECCStatus"]
