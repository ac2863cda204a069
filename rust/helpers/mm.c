// SPDX-License-Identifier: GPL-2.0
/*
 * Address spaces, their accounting, the calling task, and the workqueue
 * its deferred work runs on.
 */
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/mmap_lock.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/workqueue.h>

#include "helpers.h"

struct mm_struct *rust_gup_current_mm(void)
{
	return current->mm;
}

int rust_gup_mmap_read_lock_killable(struct mm_struct *mm)
{
	return mmap_read_lock_killable(mm);
}

void rust_gup_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

void rust_gup_mmget(struct mm_struct *mm)
{
	mmget(mm);
}

bool rust_gup_mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero(mm);
}

void rust_gup_mmgrab(struct mm_struct *mm)
{
	mmgrab(mm);
}

void rust_gup_mmdrop(struct mm_struct *mm)
{
	mmdrop(mm);
}

s64 rust_gup_atomic64_add_return(s64 i, atomic64_t *v)
{
	return atomic64_add_return(i, v);
}

void rust_gup_atomic64_sub(s64 i, atomic64_t *v)
{
	atomic64_sub(i, v);
}

unsigned long rust_gup_task_rlimit(const struct task_struct *task,
				   unsigned int limit)
{
	return task_rlimit(task, limit);
}

unsigned long rust_gup_task_size(void)
{
	return TASK_SIZE;
}

#ifdef CONFIG_COMPAT
void __user *rust_gup_compat_ptr(u32 uptr)
{
	return compat_ptr(uptr);
}
#endif

/*
 * current->group_leader. Not an inline, but a field the 6.12 kernel crate
 * cannot read: with CONFIG_SCHEDSTATS=n, bindgen gives the empty
 * ____cacheline_aligned struct sched_statistics no alignment, so every
 * field of its task_struct after `stats` is 16 bytes early, and
 * Task::group_leader() reads the wrong one (seen: 0x3f8 against C's
 * 0x408).
 */
struct task_struct *rust_gup_current_group_leader(void)
{
	return current->group_leader;
}

void rust_gup_cond_resched(void)
{
	cond_resched();
}

bool rust_gup_fatal_signal_pending(struct task_struct *p)
{
	return fatal_signal_pending(p);
}

/*
 * Whether @cred holds CAP_IPC_LOCK in the initial user namespace, as the
 * commoncap check grants it: nothing audited, no PF_SUPERPRIV, no LSM's
 * capable hook asked. The rule on every kernel: 7.3 exports neither
 * has_capability_noaudit() nor security_capable(), and the answer is only
 * recorded (whether an owner may go past RLIMIT_MEMLOCK later), never an
 * access decision of its own.
 */
static bool cred_ipc_lock(const struct cred *cred)
{
	return cred->user_ns == &init_user_ns && cap_raised(cred->cap_effective, CAP_IPC_LOCK);
}

bool rust_gup_task_ipc_lock(struct task_struct *t)
{
	const struct cred *cred = get_task_cred(t);
	bool ret = cred_ipc_lock(cred);

	put_cred(cred);
	return ret;
}

bool rust_gup_current_ipc_lock(void)
{
	return cred_ipc_lock(current_cred());
}

/* An unbound workqueue named name (alloc_workqueue() is a macro in 7.3). */
struct workqueue_struct *rust_gup_alloc_workqueue(const char *name)
{
	return alloc_workqueue("%s", WQ_UNBOUND, 0, name);
}
