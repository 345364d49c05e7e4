/* A vector run: Z = X + Y over 4 INT32 lines (one VOP, count 4, strides 64) with a signal per
   VOP, then a register VOP: the sum of Z's first line (redsum into lane 0). */

#include "common.h"

#define LINES 4

int32_t x[LINES][16] __attribute__((aligned(64)));
int32_t y[LINES][16] __attribute__((aligned(64)));
int32_t z[LINES][16] __attribute__((aligned(64)));
long redsum;

int main(void)
{
    long want = 0;
    for (int i = 0; i < LINES; i++)
        for (int j = 0; j < 16; j++) {
            x[i][j] = small(i * 16 + j, 1000);
            y[i][j] = small(500 + i * 16 + j, 1000);
            if (i == 0)
                want += x[i][j] + y[i][j];
        }
    d1_sset(1, 0);
    d1_vsetcfg(d1_vconfig(D1_VT_INT32, LINES, d1_signal(1, 1)));
    d1_vsetstride(d1_vstrides(64, 64, 0, 64));
    d1_vsetdc(z, 0);
    D1_VOP(D1_VOP_ADD, x, y);
    d1_swait(1, 1);
    d1_vsetcfg(d1_vconfig(D1_VT_INT32, 1, 0));
    redsum = (int32_t)D1_VOP_REG(D1_VOP_REDSUM, z, 0);
    if (d1_status(1) != 0)
        return 1;
    return redsum == want ? 0 : 2;
}
