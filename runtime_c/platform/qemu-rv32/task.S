/* Cooperative task switch for the qemu-rv32 port (rt_os_task_switch, rt_platform.h): saves
 * the callee-saved state of the C ABI (ra, sp, s0-s11; rv32imac has no FP registers) in the
 * current context and loads the next one. A new context starts in qrv_task_start with the
 * entry function in s0 and its argument in s1 (see rt_os_task_init in platform.c). */
    .section .text.qrv_ctx_switch, "ax"
    .globl qrv_ctx_switch
    .align 2
/* void qrv_ctx_switch(uint32_t *from, const uint32_t *to) */
qrv_ctx_switch:
    sw ra, 0(a0)
    sw sp, 4(a0)
    sw s0, 8(a0)
    sw s1, 12(a0)
    sw s2, 16(a0)
    sw s3, 20(a0)
    sw s4, 24(a0)
    sw s5, 28(a0)
    sw s6, 32(a0)
    sw s7, 36(a0)
    sw s8, 40(a0)
    sw s9, 44(a0)
    sw s10, 48(a0)
    sw s11, 52(a0)
    lw ra, 0(a1)
    lw sp, 4(a1)
    lw s0, 8(a1)
    lw s1, 12(a1)
    lw s2, 16(a1)
    lw s3, 20(a1)
    lw s4, 24(a1)
    lw s5, 28(a1)
    lw s6, 32(a1)
    lw s7, 36(a1)
    lw s8, 40(a1)
    lw s9, 44(a1)
    lw s10, 48(a1)
    lw s11, 52(a1)
    ret

    .section .text.qrv_task_start, "ax"
    .globl qrv_task_start
    .align 2
qrv_task_start:
    mv a0, s1
    jalr s0
    /* entry never returns (rt_platform.h); stop here if it does */
1:  j 1b
