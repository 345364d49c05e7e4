/* Shared by the GEMM kernels (gemm.c: operands in the engine's layout; gemm_rm.c: row-major
   operands, optionally with the fused epilogue): the element type of the operands and the
   line arithmetic. M, N, K (and CFP8) come from the build's -D flags
   (verif/core/kernels/__init__.py). */

#ifndef D1_KERNELS_GEMM_H
#define D1_KERNELS_GEMM_H

#include "d1.h"

#ifdef CFP8
typedef uint8_t elem_t;         /* CFP8 1-4-3 (A, bias 7) × CFP8 1-5-2 (B, bias 15) */
#define GEMM_OPERANDS d1_operands(D1_FMT_CFP8_143, 7, D1_FMT_CFP8_152, 15)
#else
typedef uint16_t elem_t;        /* BF16 × BF16 (the engine's reset configuration) */
#endif

/* Bytes rounded up to whole 64-byte lines: every row of every operand starts a line. */
#define LINE 64
#define LINE_UP(bytes) ((((bytes) + LINE - 1) / LINE) * LINE)

/* The counter of unit u (0 matrix, 1 vector, 2 DMA) for cause c (D1_CTR_UNIT_*). */
#define UNIT_CTR(u, c) (16 * (u) + (c))

#endif
