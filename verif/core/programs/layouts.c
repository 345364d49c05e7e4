/* Packs every operand and descriptor d1core.h builds into globals; the test compares them bit
   for bit with hw/core/isa.py's layouts packed in Python. */

#include "common.h"

d1_gemm_desc gemm;
d1_dma_desc dma[2];
unsigned long values[5];

int main(void)
{
    d1_gemm_fill(&gemm, (void *)0x80001040ul, (void *)0x80002080ul, (void *)0x800030C0ul,
                 (void *)0x80004100ul, 0x140, 0x180, 0x1C0, 0x200, 0x1234, 0x5678, 0x9ABC, 1);
    d1_dma_fill(&dma[0], (void *)0x80010010ul, (void *)0x80020020ul, 0x30, 0x40, 0x50, 0x6543,
                0x789A, 1, d1_signal(13, 0xBEEF));
    d1_dma_fill(&dma[1], (void *)0x80030000ul, (void *)0x80040000ul, 0, 0, 64, 1, 1, 2, 0);
    dma[1].local = 0;
    dma[1].dst_x = 9;
    dma[1].dst_y = 6;
    d1_dma_link(&dma[0], &dma[1]);
    values[0] = d1_signal(11, 0xFEDC);
    values[1] = d1_operands(D1_FMT_CFP8_143, 33, D1_FMT_CFP8_152, 62);
    values[2] = d1_vconfig_full(D1_VT_BF16, D1_FMT_CFP8_152, 45, 1, 37, 0xCDEF,
                                d1_signal(15, 0xFFFF));
    values[3] = d1_vstrides(-64, 128, -32768, 32704);
    values[4] = d1_vconfig(D1_VT_INT8, 3, 0);
    return 0;
}
