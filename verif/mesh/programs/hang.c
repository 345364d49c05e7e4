/* Hangs on purpose, for the bench's watchdog (tests/mesh/test_run.py): core (0, 0) adds 2 to
   semaphore 5 of core (1, 1) (d1.snotify), waits for the answer and passes; core (1, 1) waits
   in wait_here for semaphore 5 to reach 3, which nothing ever adds: it sleeps at the
   dispatcher for good and the watchdog ends the run, naming its pc (in wait_here) and
   semaphore 5 = 2. The other cores pass at once. */

#include "mesh.h"

__attribute__((noinline)) unsigned long wait_here(void)
{
    return d1_swait(5, 3);
}

int main(void)
{
    if (d1_place.x == 0 && d1_place.y == 0) {
        d1_snotify(1, 1, d1_signal(5, 2));
        d1_fence();
        return d1_status(D1_STATUS_NETWORK) == 0 ? 0 : 1;
    }
    if (d1_place.x == 1 && d1_place.y == 1)
        return wait_here() == 3 ? 2 : 3;
    return 0;
}
