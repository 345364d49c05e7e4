/* Waits on a semaphore nobody signals: the model ends the run with a deadlock report. */

#include "common.h"

int main(void)
{
    d1_sset(5, 2);
    d1_swait(5, 3);
    return 1;
}
