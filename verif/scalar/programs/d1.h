/* d1core scalar programs: reporting a result and running work on the other hardware threads.
   Programs are built by sim/riscv.py, which links crt0.S and link.ld and defines the D1_*
   constants below from the Python sources (verif/scalar/iss.py). See docs/scalar.md,
   "Programs and d1core run".

   Result: main() returning 0 passes (tohost = 1); returning n > 0 fails test n
   (tohost = 2n + 1). d1_pass() and d1_fail(n) end the program at once, from any thread.

   Threads: thread 0 runs main. d1_thread_start(i, fn, arg) starts hardware thread i (1..3) at
   fn(arg) on its own stack and returns 1, or returns 0 when the core has no thread i (then
   nothing runs: the caller does the work itself). d1_thread_join(i) waits for fn's return value.
   Only one thread may start others (mthreadpc is shared by all threads).

   The core's custom instructions (matrix, vector, DMA, semaphores): d1core.h, included here. */

#ifndef D1_H
#define D1_H

#if !defined(D1_CSR_MTHREADCTL) || !defined(D1_CSR_MTHREADPC) || !defined(D1_MAX_THREADS)
#error "d1.h needs d1core's build flags: build programs with sim/riscv.py"
#endif

#define D1_STR_(x) #x
#define D1_STR(x) D1_STR_(x)

typedef long (*d1_thread_fn)(long);

extern d1_thread_fn __d1_thread_fn[D1_MAX_THREADS];
extern long __d1_thread_arg[D1_MAX_THREADS];
extern volatile long __d1_thread_ret[D1_MAX_THREADS];
extern volatile long __d1_thread_done[D1_MAX_THREADS];
extern void __d1_thread_entry(void);
extern void __d1_exit(unsigned long tohost_value) __attribute__((noreturn));

static inline unsigned long d1_hartid(void)
{
    unsigned long id;
    __asm__ volatile("csrr %0, mhartid" : "=r"(id));
    return id;
}

/* Ends the program from any thread: pass. */
static inline void __attribute__((noreturn)) d1_pass(void)
{
    __d1_exit(1);
}

/* Ends the program from any thread: failure of test n (n >= 1). */
static inline void __attribute__((noreturn)) d1_fail(unsigned long n)
{
    __d1_exit(2 * n + 1);
}

static inline int d1_thread_start(int thread, d1_thread_fn fn, long arg)
{
    unsigned long mask, running;
    if (thread < 1 || thread >= D1_MAX_THREADS)
        return 0;
    mask = 1ul << thread;
    __d1_thread_fn[thread] = fn;
    __d1_thread_arg[thread] = arg;
    __d1_thread_done[thread] = 0;
    __sync_synchronize();
    __asm__ volatile("csrw " D1_STR(D1_CSR_MTHREADPC) ", %0" : : "r"(__d1_thread_entry));
    __asm__ volatile("csrs " D1_STR(D1_CSR_MTHREADCTL) ", %0" : : "r"(mask) : "memory");
    __asm__ volatile("csrr %0, " D1_STR(D1_CSR_MTHREADCTL) : "=r"(running) : : "memory");
    /* A thread that does not exist keeps its bit clear; one that already finished set done. */
    return (running & mask) || __d1_thread_done[thread];
}

static inline long d1_thread_join(int thread)
{
    while (!__d1_thread_done[thread])
        ;
    __sync_synchronize();
    return __d1_thread_ret[thread];
}

#include "d1core.h"

#endif
