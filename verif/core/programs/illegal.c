/* An illegal custom instruction (semaphore 16 does not exist): crt0's trap handler ends the
   program with the trap's cause; the test reads mtval from the thread. */

#include "common.h"

int main(void)
{
    d1_sread(D1_SEMAPHORES);
    return 1;
}
