/* Machine-mode trap entry for the qemu-rv32 port: saves the caller-saved registers, calls
 * qrv_trap(mcause, mepc, sp) in C, which returns the address to resume at, and returns with
 * mret. Callee-saved registers are preserved by the C ABI. */
    .option arch, +zicsr
    .section .text.qrv_trap_entry, "ax"
    .globl qrv_trap_entry
    .align 4
qrv_trap_entry:
    addi sp, sp, -64
    sw ra, 0(sp)
    sw t0, 4(sp)
    sw t1, 8(sp)
    sw t2, 12(sp)
    sw a0, 16(sp)
    sw a1, 20(sp)
    sw a2, 24(sp)
    sw a3, 28(sp)
    sw a4, 32(sp)
    sw a5, 36(sp)
    sw a6, 40(sp)
    sw a7, 44(sp)
    sw t3, 48(sp)
    sw t4, 52(sp)
    sw t5, 56(sp)
    sw t6, 60(sp)
    csrr a0, mcause
    csrr a1, mepc
    mv a2, sp
    call qrv_trap
    csrw mepc, a0
    lw ra, 0(sp)
    lw t0, 4(sp)
    lw t1, 8(sp)
    lw t2, 12(sp)
    lw a0, 16(sp)
    lw a1, 20(sp)
    lw a2, 24(sp)
    lw a3, 28(sp)
    lw a4, 32(sp)
    lw a5, 36(sp)
    lw a6, 40(sp)
    lw a7, 44(sp)
    lw t3, 48(sp)
    lw t4, 52(sp)
    lw t5, 56(sp)
    lw t6, 60(sp)
    addi sp, sp, 64
    mret

/* Where a deadline's timer interrupt resumes (qrv_trap): runs the deadline function in thread
 * context on the interrupted code's stack. The function unwinds the guest call with longjmp,
 * or returns (an engine that defers the unwind while the guest is in host code); then the
 * interrupted code resumes at the pc qrv_deadline_run returns with every register as it was. */
    .section .text.qrv_deadline_entry, "ax"
    .globl qrv_deadline_entry
    .align 2
qrv_deadline_entry:
    addi sp, sp, -64
    sw ra, 0(sp)
    sw t0, 4(sp)
    sw t1, 8(sp)
    sw t2, 12(sp)
    sw a0, 16(sp)
    sw a1, 20(sp)
    sw a2, 24(sp)
    sw a3, 28(sp)
    sw a4, 32(sp)
    sw a5, 36(sp)
    sw a6, 40(sp)
    sw a7, 44(sp)
    sw t3, 48(sp)
    sw t4, 52(sp)
    sw t5, 56(sp)
    sw t6, 60(sp)
    call qrv_deadline_run
    csrci mstatus, 8 /* MIE off: nothing may change mepc before the mret */
    csrw mepc, a0
    li t0, 0x1880 /* MPP machine, MPIE: the mret enables interrupts again, as they were */
    csrs mstatus, t0
    lw ra, 0(sp)
    lw t0, 4(sp)
    lw t1, 8(sp)
    lw t2, 12(sp)
    lw a0, 16(sp)
    lw a1, 20(sp)
    lw a2, 24(sp)
    lw a3, 28(sp)
    lw a4, 32(sp)
    lw a5, 36(sp)
    lw a6, 40(sp)
    lw a7, 44(sp)
    lw t3, 48(sp)
    lw t4, 52(sp)
    lw t5, 56(sp)
    lw t6, 60(sp)
    addi sp, sp, 64
    mret
