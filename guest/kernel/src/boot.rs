//! The first instructions: two ways in, one way on.
//!
//! * `_start` (64-bit, higher half): microvmm's VMM enters here in long mode
//!   on its own boot page tables with the Linux GDT layout already loaded.
//! * `pvh_entry32` (32-bit, paging off): QEMU's `-kernel` enters here through
//!   the PVH ELF note; it builds long mode on the static `pvh_*` tables and
//!   jumps to `_start_pvh` with the hvm_start_info pointer in rdi.
//!
//! On PVM every instruction before the registering `wrmsr` runs in KVM's
//! instruction emulator (~1 us each, no SSE), so the common prefix is a few
//! dozen integer instructions: load GDT/TSS/IDT, the syscall MSRs, probe for
//! PVM (`rdmsr 0x4b564d11` raises #GP elsewhere: `boot_gp` catches it), and
//! register the VIF page with flags 0x417 (pv_kpti: the host switches to the
//! user PGD at CR3 | 0x1000 on every return to user mode; CR2 in the VIF
//! page). Then Rust.
//!
//! Descriptors and physical addresses come from link.ld, precomputed.

use core::arch::global_asm;

/// PVM flags: bit 0 pv_kpti, bit 1 switch to the kernel PGD before the
/// handler runs, bit 2 hardware-like syscall (see HOST-KVM.md); bit 4 the
/// host writes each page fault's address into the VIF page (offset 8),
/// so the handler need not read CR2, a trapped and emulated instruction
/// (found on 2026-12-03: with it a demand fault costs 4.1 VM exits, not
/// 5.2; `arch::fault_address` checks that the host kept the bit).
pub const PV_FLAGS: u64 = 0x417;

global_asm!(
    r#"
    .set PV_FLAGS, {pv_flags}

/* ---- PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), desc = 32-bit entry ---- */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad pvh_entry32_pa
    .balign 4

/* ---- 32-bit PVH entry (QEMU): protected mode, paging off, ebx = start_info ---- */
    .section .text.boot32, "ax"
    .code32
    .globl pvh_entry32
pvh_entry32:
    cli
    cld
    mov %ebx, %edi
    lgdt pvh_gdt_ptr_pa
    mov $0x18, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov $pvh_stack_top_pa, %esp
    mov %cr4, %eax
    or $0x620, %eax                 /* PAE | OSFXSR | OSXMMEXCPT */
    mov %eax, %cr4
    /* LA57 offered (CPUID.7.0:ECX[16])? Then 5-level paging: it can only
     * be chosen now, before paging is on. */
    xor %eax, %eax
    cpuid
    cmp $7, %eax
    jb 4f
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    test $0x10000, %ecx
    jz 4f
    mov %cr4, %eax
    or $0x1000, %eax                /* CR4.LA57 */
    mov %eax, %cr4
    mov $pvh_pml5_pa, %eax
    jmp 5f
4:  mov $pvh_pml4_pa, %eax
5:  mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or $0x901, %eax                 /* SCE | LME | NXE */
    wrmsr
    mov %cr0, %eax
    and $0xfffffffb, %eax           /* clear EM */
    or $0x80010023, %eax            /* PG | WP | NE | MP | PE */
    mov %eax, %cr0
    ljmp $0x10, $pvh_entry64_pa
    .code64
    .globl pvh_entry64
pvh_entry64:
    movabs $_start_pvh, %rax
    jmp *%rax

/* ---- 64-bit entry: the common, emulated-on-PVM prefix ---- */
    .section .text._start, "ax"
    .globl _start
_start:
    xor %r15d, %r15d                /* no hvm_start_info */
    jmp 1f
    .globl _start_pvh
_start_pvh:
    mov %rdi, %r15
1:  rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r12                  /* TSC at the first instruction */
    lea kstack_top(%rip), %rsp
    lgdt boot_gdt_ptr(%rip)
    mov $0x40, %eax
    ltr %ax
    lidt boot_idt_ptr(%rip)
    mov %cr4, %rax
    or $0x600, %eax                 /* OSFXSR | OSXMMEXCPT: SSE in Rust */
    mov %rax, %cr4
    mov $0xc0000080, %ecx           /* EFER.SCE */
    rdmsr
    or $1, %eax
    wrmsr
    mov $0xc0000081, %ecx           /* STAR: user base 0x23, kernel 0x10 */
    xor %eax, %eax
    mov $0x00230010, %edx
    wrmsr
    mov $0xc0000082, %ecx           /* LSTAR */
    lea syscall_entry(%rip), %rax
    mov %rax, %rdx
    shr $32, %rdx
    wrmsr
    mov $0xc0000084, %ecx           /* SFMASK: IF TF DF AC NT ... */
    mov $0x47700, %eax
    xor %edx, %edx
    wrmsr
    mov $0x4b564d11, %ecx           /* PVM signature; #GP -> boot_gp */
    rdmsr
    cmp $0x4d5650, %eax
    jne boot_not_pvm
    dec %ecx                        /* 0x4b564d10: register the VIF page */
    mov $boot_vif_gpa, %eax
    or $PV_FLAGS, %eax
    xor %edx, %edx
    wrmsr                           /* native from here on */
    mov $2, %esi
    jmp 2f
boot_not_pvm:
    mov $1, %esi
2:  mov %r12, %rdi
    mov %r15, %rdx
    call rust_start
3:  hlt
    jmp 3b

/* #GP while probing for PVM (rdmsr of an unknown MSR): resume at boot_not_pvm. */
    .globl boot_gp
boot_gp:
    add $8, %rsp
    lea boot_not_pvm(%rip), %rax
    mov %rax, (%rsp)
    iretq

    .section .rodata
    .balign 8
boot_gdt_ptr:
    .word 10 * 8 - 1
    .quad boot_gdt
boot_idt_ptr:
    .word 4095
    .quad boot_idt
    .globl pvh_gdt_ptr
pvh_gdt_ptr:
    .word 10 * 8 - 1
    .long boot_gdt_pa

/* ---- entry area: each on its own page (see link.ld) ---- */
    .section .entry.idt, "aw"
    .balign 4096
    .globl boot_idt
boot_idt:
    .skip 13 * 16
    .quad boot_gp_gate_lo
    .quad boot_gp_gate_hi
    .skip (256 - 14) * 16

    .section .entry.gdt, "aw"
    .balign 4096
    .globl boot_gdt
boot_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08 kernel CS32 */
    .quad 0x00af9b000000ffff        /* 0x10 kernel CS64 */
    .quad 0x00cf93000000ffff        /* 0x18 kernel DS */
    .quad 0x00cffb000000ffff        /* 0x23 user CS32 */
    .quad 0x00cff3000000ffff        /* 0x2b user DS */
    .quad 0x00affb000000ffff        /* 0x33 user CS64 */
    .quad 0
    .quad boot_tss_desc_lo          /* 0x40 TSS */
    .quad boot_tss_desc_hi
    .balign 4096

    .section .entry.tss, "aw"
    .balign 4096
    .globl boot_tss
boot_tss:
    .long 0
    .quad kstack_top                /* rsp0: where the CPU (or PVM) pushes a user trap frame */
    .skip 102 - 12
    .word 104                       /* no I/O bitmap */
    .balign 4096

/* ---- static page tables for the PVH path: identity + higher half, 1 GiB ---- */
    .section .data.pvh, "aw"
    .balign 4096
    .globl pvh_pml5
pvh_pml5:                           /* 5-level: both halves lead to pvh_pml4 */
    .quad pvh_pml4_pa + 3
    .skip 510 * 8
    .quad pvh_pml4_pa + 3
    .globl pvh_pml4
pvh_pml4:
    .quad pvh_pdpt_low_pa + 3
    .skip 510 * 8
    .quad pvh_pdpt_high_pa + 3
    .globl pvh_pdpt_low
pvh_pdpt_low:
    .quad pvh_pd_pa + 3
    .skip 511 * 8
    .globl pvh_pdpt_high
pvh_pdpt_high:
    .skip 510 * 8
    .quad pvh_pd_pa + 3
    .quad 0
    .globl pvh_pd
pvh_pd:
    .set i, 0
    .rept 512
    .quad (i << 21) | 0x83
    .set i, i + 1
    .endr

/* ---- kernel stack (its top page is the PVM entry stack), VIF page ---- */
    .section .bss.kstack, "aw", @nobits
    .balign 4096
    .globl kstack_bottom
kstack_bottom:
    .skip 65536
    .globl kstack_top
kstack_top:
    .balign 4096
    .globl boot_vif
boot_vif:
    .skip 4096
"#,
    pv_flags = const PV_FLAGS,
    options(att_syntax)
);
