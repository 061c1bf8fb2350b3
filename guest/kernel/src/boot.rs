//! The first instructions: two ways in, one way on.
//!
//! * `_start` (64-bit, higher half): microvmm's VMM enters here in long mode
//!   on its own boot page tables with the Linux GDT layout already loaded.
//! * `pvh_entry32` (32-bit, paging off): QEMU's `-kernel` enters here through
//!   the PVH ELF note; it builds long mode on the static `pvh_*` tables and
//!   jumps to `_start_pvh` with the hvm_start_info pointer in rdi. Its
//!   APs, started by the kernel (apboot.rs), come in at `pvh_ap_entry`.
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
    .set AP_START_MAGIC, {ap_magic}
    .set MAX_CPUS, {max_cpus}

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
    movabs $AP_START_MAGIC, %rax    /* an application processor? (smp.rs) */
    cmp %rax, %rdi
    je ap_start
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

/* An application processor (rsi = its vCPU index, 1..MAX_CPUS-1): check
 * in, wait until vCPU 0 has set up the machine (smp.rs sets AP_GO: the
 * kernel page table, this CPU's TSS descriptor), then the same prefix as
 * vCPU 0 with this CPU's stack, TSS (0x40 + 16 * index), syscall entry
 * and VIF page, and into Rust (smp::ap_main). vCPU 0 found the platform:
 * AP_GO is 2 under PVM, 1 on x86. */
ap_start:
    lock incl APS_ONLINE(%rip)
6:  pause
    movl AP_GO(%rip), %eax
    test %eax, %eax
    jz 6b
    mov %eax, %r14d
    mov %rsi, %r13
    lea 1(%rsi), %rax
    shl $16, %rax
    lea kstacks(%rip), %rsp
    add %rax, %rsp
    lgdt boot_gdt_ptr(%rip)
    mov %r13d, %eax
    shl $4, %eax
    add $0x40, %eax
    ltr %ax
    lidt boot_idt_ptr(%rip)
    mov %cr4, %rax
    or $0x600, %eax
    mov %rax, %cr4
    mov $0xc0000080, %ecx
    rdmsr
    or $1, %eax
    wrmsr
    mov $0xc0000081, %ecx
    xor %eax, %eax
    mov $0x00230010, %edx
    wrmsr
    mov $0xc0000082, %ecx           /* LSTAR: this CPU's syscall entry */
    mov %r13, %rax
    shl $6, %rax
    lea syscall_entry(%rip), %rdx
    add %rdx, %rax
    mov %rax, %rdx
    shr $32, %rdx
    wrmsr
    mov $0xc0000084, %ecx
    mov $0x47700, %eax
    xor %edx, %edx
    wrmsr
    cmp $2, %r14d
    jne 7f
    mov $0x4b564d10, %ecx           /* register this CPU's VIF page */
    mov %r13, %rax
    shl $12, %rax
    add $boot_vif_gpa, %rax
    or $PV_FLAGS, %eax
    xor %edx, %edx
    wrmsr
7:  mov %r13, %rdi
    call ap_main
8:  hlt
    jmp 8b

/* An AP the kernel started under PVH (apboot.rs): from its trampoline, in
 * long mode on the pvh_* tables. vCPU 0's CR4 and XCR0, then take the CPU
 * index vCPU 0 offers (0: it gave up on this AP: halt for ever) and go on
 * as an AP microvmm started. */
    .globl pvh_ap_entry
pvh_ap_entry:
    mov PVH_AP_CR4(%rip), %rax
    mov %rax, %cr4
    mov PVH_AP_XCR0(%rip), %rax
    test %rax, %rax
    jz 9f
    mov %rax, %rdx
    shr $32, %rdx
    xor %ecx, %ecx
    xsetbv
9:  xor %esi, %esi
    xchg %esi, PVH_AP_TICKET(%rip)
    test %esi, %esi
    jnz ap_start
10: cli
    hlt
    jmp 10b

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
    .word (8 + 2 * MAX_CPUS) * 8 - 1
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
    .quad boot_tss_desc_lo          /* 0x40 TSS of vCPU 0 */
    .quad boot_tss_desc_hi
    .skip (MAX_CPUS - 1) * 16       /* 0x50...: the others' (smp.rs) */
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

/* ---- kernel stacks, one per CPU (the top page of each is its PVM entry
 * stack; smp::cpu finds the CPU from rsp), VIF pages, one per CPU ---- */
    .section .bss.kstack, "aw", @nobits
    .balign 65536
    .globl kstacks
kstacks:
    .skip 65536 * MAX_CPUS
    .globl kstack_top
    .set kstack_top, kstacks + 65536
    .balign 4096
    .globl boot_vif
boot_vif:
    .skip 4096 * MAX_CPUS
"#,
    pv_flags = const PV_FLAGS,
    ap_magic = const abi::layout::AP_START_MAGIC,
    max_cpus = const abi::layout::MAX_CPUS,
    options(att_syntax)
);
