/* Start-up code of d1core's scalar programs: the bare-metal environment every program runs in
   (docs/scalar.md, "Programs and d1core run").

   Thread 0 resets at _start: it sets gp, mtvec (the default trap handler below) and its stack,
   calls main(), and reports main's return value r through tohost: 0 -> 1 (pass), r -> 2r + 1
   (failure of test r). The other threads stay parked until software starts them at
   __d1_thread_entry (d1.h's d1_thread_start): each takes its own stack from mhartid, calls
   __d1_thread_fn[i](__d1_thread_arg[i]), stores the result in __d1_thread_ret[i], sets
   __d1_thread_done[i] and stops itself through mthreadctl.

   An unexpected trap (any trap while mtvec still points at __d1_trap) ends the program with
   tohost = mepc << 8 | mcause << 1 | D1_TRAP_TAG, an even value that `d1core run` decodes.
   The whole file is assembled without linker relaxation: it never relies on gp, which the
   assembly tests use as their test number register.

   sim/riscv.py defines D1_CSR_MTHREADCTL, D1_STACK_SIZE, D1_MAX_THREADS and D1_TRAP_TAG. */

    .option norelax

    .section .tohost, "aw", @progbits
    .balign 64
    .globl tohost
tohost:
    .dword 0
    .size tohost, 8

    .bss
    .balign 8
    .globl __d1_thread_fn, __d1_thread_arg, __d1_thread_ret, __d1_thread_done
__d1_thread_fn:   .space 8 * D1_MAX_THREADS
__d1_thread_arg:  .space 8 * D1_MAX_THREADS
__d1_thread_ret:  .space 8 * D1_MAX_THREADS
__d1_thread_done: .space 8 * D1_MAX_THREADS

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    la gp, __global_pointer$
    la t0, __d1_trap
    csrw mtvec, t0
    jal t0, __d1_stack
    call main
    slli a0, a0, 1
    ori a0, a0, 1
    j __d1_exit

/* sp = __d1_stacks + (mhartid + 1) * D1_STACK_SIZE; returns through t0; uses t1, t2. */
__d1_stack:
    csrr t1, mhartid
    addi t1, t1, 1
    li t2, D1_STACK_SIZE
    mul t1, t1, t2
    la sp, __d1_stacks
    add sp, sp, t1
    jr t0

    .text
/* Ends the program: tohost = a0 (non-zero), then spin. */
    .globl __d1_exit
__d1_exit:
    fence
    la t0, tohost
    sd a0, 0(t0)
1:  j 1b

    .globl __d1_thread_entry
    .balign 4
__d1_thread_entry:
    la gp, __global_pointer$
    la t0, __d1_trap
    csrw mtvec, t0
    jal t0, __d1_stack
    csrr s0, mhartid
    slli s1, s0, 3
    la t0, __d1_thread_fn
    add t0, t0, s1
    ld t1, 0(t0)
    la t0, __d1_thread_arg
    add t0, t0, s1
    ld a0, 0(t0)
    jalr t1
    la t0, __d1_thread_ret
    add t0, t0, s1
    sd a0, 0(t0)
    fence
    la t0, __d1_thread_done
    add t0, t0, s1
    li t1, 1
    sd t1, 0(t0)
    fence
    sll t1, t1, s0
    csrc D1_CSR_MTHREADCTL, t1
1:  j 1b

/* Default trap handler: report the trap through tohost and stop. */
    .globl __d1_trap
    .balign 4
__d1_trap:
    csrr a0, mepc
    slli a0, a0, 8
    csrr t0, mcause
    slli t0, t0, 1
    or a0, a0, t0
    ori a0, a0, D1_TRAP_TAG
    j __d1_exit
