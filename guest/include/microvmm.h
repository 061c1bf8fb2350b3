/*
 * microvmm's system-call extensions for C programs run with `--run`.
 *
 * The guest kernel speaks the Linux x86-64 system-call ABI; microvmm's own
 * calls are numbered from 1000 up (guest/abi/src/syscall.rs). Call them
 * through syscall(2): on success it returns 0, on failure -1 with errno
 * set (ENOSYS on a kernel that is not microvmm's, EFAULT for a bad
 * pointer). The structs mirror guest/abi/src/msg/ byte for byte.
 */
#ifndef MICROVMM_H
#define MICROVMM_H

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MICROVMM_SYS_WHEREIS 1000
#define MICROVMM_SYS_STATS 1001

/* microvmm_whereis_answer.status */
#define MICROVMM_WHEREIS_OK 0
#define MICROVMM_WHEREIS_NOT_MAPPED 1 /* not mapped in the asker's page table */
#define MICROVMM_WHEREIS_NO_VMM 2     /* no microvmm VMM to ask: gpa only */
#define MICROVMM_WHEREIS_REFUSED 3    /* outside the asker's address space */

/* microvmm_whereis_answer.hpa_status */
#define MICROVMM_HPA_OK 0
#define MICROVMM_HPA_NEEDS_CAP 1     /* the VMM lacks CAP_SYS_ADMIN for pagemap */
#define MICROVMM_HPA_NOT_PRESENT 2
#define MICROVMM_HPA_UNAVAILABLE 3

#define MICROVMM_WALK_MAX 5

/* One level of the guest page walk (abi::msg::WalkStep). */
struct microvmm_walk_step {
	uint64_t entry_gpa;
	uint64_t entry;
	uint64_t entry_hpa; /* 0 unless hpa_status is MICROVMM_HPA_OK */
};

/* Where a guest-virtual address lives (abi::msg::WhereisAnswer). */
struct microvmm_whereis_answer {
	uint32_t status;
	uint32_t hpa_status;
	uint64_t gva;
	uint64_t gpa;
	uint64_t hva;
	uint64_t hpa;
	uint64_t guest_page_size;
	uint64_t host_page_size;
	uint64_t kvm_gpa; /* what KVM_TRANSLATE said (UINT64_MAX if it failed) */
	uint32_t levels;  /* valid entries of walk, top level first */
	uint32_t _pad;
	struct microvmm_walk_step walk[MICROVMM_WALK_MAX];
};
_Static_assert(sizeof(struct microvmm_whereis_answer) == 192,
	       "abi::msg::WhereisAnswer is 192 bytes");

/* Demand-paging counts of the calling process (abi::syscall::Stats). */
struct microvmm_stats {
	uint64_t heap_faults;
	uint64_t stack_faults;
	uint64_t pages_resident;
	uint64_t tsc_khz;
};
_Static_assert(sizeof(struct microvmm_stats) == 32, "abi::syscall::Stats is 32 bytes");

/* Ask the VMM where `addr` lives in this process: 0, or -1 with errno. */
static inline long microvmm_whereis(const void *addr, struct microvmm_whereis_answer *out)
{
	return syscall(MICROVMM_SYS_WHEREIS, addr, out);
}

static inline long microvmm_stats(struct microvmm_stats *out)
{
	return syscall(MICROVMM_SYS_STATS, out);
}

#endif
