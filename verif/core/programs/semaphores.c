/* Two threads synchronised by semaphores: thread 1 sleeps on semaphore 3 until thread 0 has
   written its input, computes, and signals semaphore 4; thread 0 sleeps on that and checks. */

#include "common.h"

volatile long input, output;

static long worker(long arg)
{
    (void)arg;
    d1_swait(3, 1);            /* asleep until thread 0's d1_sadd(3, 1) */
    output = input * 3 + 1;
    d1_sadd(4, 1);
    return 0;
}

int main(void)
{
    d1_sset(3, 0);
    d1_sset(4, 0);
    if (!d1_thread_start(1, worker, 0))
        return 1;
    for (volatile int i = 0; i < 50; i++)   /* let thread 1 reach its wait first */
        ;
    input = 14;
    d1_sadd(3, 1);
    d1_swait(4, 1);
    if (output != 43 || d1_sread(3) != 1)
        return 2;
    return d1_thread_join(1);
}
