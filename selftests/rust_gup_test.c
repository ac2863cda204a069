// SPDX-License-Identifier: GPL-2.0
/*
 * rust_gup_test: the kernel's gup_test CLI (tools/testing/selftests/mm/
 * gup_test.c), for /dev/rust_gup or, with -D, any device speaking the same
 * ABI, such as /sys/kernel/debug/gup_test.
 *
 * Options as upstream:
 *   -u GUP_FAST_BENCHMARK (default)  -U GUP_BASIC_TEST
 *   -a PIN_FAST_BENCHMARK            -b PIN_BASIC_TEST
 *   -L PIN_LONGTERM_BENCHMARK        -c DUMP_USER_PAGES_TEST [page...]
 *   -p dump with pins (-c)           -F FLAGS extra gup_flags
 *   -j THREADS   -m MB   -r REPEATS  -n PAGES per GUP call
 *   -t THP (MADV_HUGEPAGE)           -T no THP (MADV_NOHUGEPAGE)
 *   -w write (default)   -W read     -f FILE to map (default /dev/zero)
 *   -S MAP_SHARED        -H MAP_HUGETLB
 *   -z let GUP fault the pages in instead of touching them first
 * rust_gup additions:
 *   -D DEVICE   the device (default /dev/rust_gup)
 *   -q          quiet: no per-repeat timing lines
 *
 * Differences from upstream, on purpose: -z does not add a FOLL_TOUCH bit
 * (upstream's 0x2 is FOLL_GET in 6.12, which makes the pin commands WARN);
 * and a call that takes less than the whole range, or fails, fails the
 * test instead of being printed as "truncated".
 *
 * What the device did is checked on what it cannot have written itself
 * (root only, as the harness runs it): the kernel's FOLL_PIN counters moved
 * by exactly the pages of every pin command (and not at all for the FOLL_GET
 * ones), every page pinned was released, the first and last pages' reference
 * counts are what they were before (a FOLL_GET reference not put shows
 * there; read through a set of /dev/rust_gup, taken and dropped around the
 * run), the output fields the command writes were overwritten (they are
 * poisoned first), and a THP (-t) run is backed by huge pages before it
 * starts, as /proc/kpageflags says.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "kselftest.h"
#include "rust_gup_util.h"

#define MB (1ul << 20)

static const char *device = RUST_GUP_DEVICE;
static unsigned long cmd = GUP_FAST_BENCHMARK;
static unsigned long size = 128 * MB;
static int repeats = 1, quiet;
static int dev_fd;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *cmd_name(unsigned long c)
{
	switch (c) {
	case GUP_FAST_BENCHMARK: return "GUP_FAST_BENCHMARK";
	case PIN_FAST_BENCHMARK: return "PIN_FAST_BENCHMARK";
	case PIN_LONGTERM_BENCHMARK: return "PIN_LONGTERM_BENCHMARK";
	case GUP_BASIC_TEST: return "GUP_BASIC_TEST";
	case PIN_BASIC_TEST: return "PIN_BASIC_TEST";
	case DUMP_USER_PAGES_TEST: return "DUMP_USER_PAGES_TEST";
	}
	return "unknown";
}

static int is_benchmark(unsigned long c)
{
	return c == GUP_FAST_BENCHMARK || c == PIN_FAST_BENCHMARK ||
	       c == PIN_LONGTERM_BENCHMARK;
}

static int is_pin(unsigned long c, const struct gup_test *gup)
{
	return c == PIN_FAST_BENCHMARK || c == PIN_BASIC_TEST || c == PIN_LONGTERM_BENCHMARK ||
	       (c == DUMP_USER_PAGES_TEST && gup->test_flags & GUP_TEST_FLAG_DUMP_PAGES_USE_PIN);
}

/* What an output field holds before the device writes it. */
#define POISON 0xdeadbeefdeadbeefull

/* A page's reference count and frame, read through a set of /dev/rust_gup
 * taken (FOLL_GET, the fast path, which leaves the LRU alone) and dropped
 * at once: its own reference is in the count, the same before and after.
 * 0 if it cannot be read. Taken with the LRU batches drained. */
struct probe {
	unsigned long long pfn;
	unsigned int refcount;
};

/*
 * Empties every CPU's LRU folio batches, which hold a reference to each
 * folio they hold (a GUP that marks a page accessed may put its folio in
 * one): lru_add_drain(), which MADV_COLD makes on the CPU it runs on, on
 * each CPU the process may run on in turn.
 */
static void drain_lru_batches(void)
{
	static char *page;
	cpu_set_t all, one;

	if (!page) {
		page = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	}
	if (sched_getaffinity(0, sizeof(all), &all))
		ksft_exit_fail_msg("sched_getaffinity: %s\n", strerror(errno));
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		page[0] = 1;
		if (sched_setaffinity(0, sizeof(one), &one) ||
		    madvise(page, getpagesize(), MADV_COLD))
			ksft_exit_fail_msg("draining CPU %d's LRU batches: %s\n", cpu,
					   strerror(errno));
	}
	if (sched_setaffinity(0, sizeof(all), &all))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
}

static struct probe probe_page(int fd, char *page)
{
	struct rust_gup_page_info info;
	struct probe p = { 0 };
	long pages;
	__u32 id;

	if (fd < 0 || hold(fd, page, getpagesize(), RUST_GUP_OP_GET_FAST, 0, &id, &pages))
		return p;
	if (query(fd, id, &info, 1) == 1)
		p = (struct probe){ .pfn = info.pfn, .refcount = info.refcount };
	unhold(fd, id);
	return p;
}

/* One thread: the command, `repeats` times for the benchmarks. */
static void *run(void *arg)
{
	struct gup_test gup = *(struct gup_test *)arg;
	int rounds = is_benchmark(cmd) ? repeats : 1;
	const char *why = NULL;
	int err = 0;

	for (int i = 0; i < rounds && !why; i++) {
		gup.size = size;
		gup.get_delta_usec = gup.put_delta_usec = POISON;
		if (ioctl(dev_fd, cmd, &gup)) {
			err = errno;
			why = "ioctl failed";
			break;
		}
		if (gup.size != size)
			why = "took less than the whole range";
		else if (gup.get_delta_usec == POISON || gup.put_delta_usec == POISON)
			why = "did not write get_delta_usec and put_delta_usec";
		pthread_mutex_lock(&print_lock);
		if (!is_benchmark(cmd))
			ksft_print_msg("%s: done\n", cmd_name(cmd));
		else if (!quiet)
			ksft_print_msg("%s: Time: get:%llu put:%llu us\n", cmd_name(cmd),
				       (unsigned long long)gup.get_delta_usec,
				       (unsigned long long)gup.put_delta_usec);
		if (gup.size != size)
			ksft_print_msg("size %llu of %lu\n", (unsigned long long)gup.size, size);
		pthread_mutex_unlock(&print_lock);
	}
	if (why)
		ksft_test_result_fail("%s: %s%s%s\n", cmd_name(cmd), why,
				      err ? ": " : "", err ? strerror(err) : "");
	else
		ksft_test_result_pass("%s\n", cmd_name(cmd));
	return NULL;
}

/* The shmem THP mode to put back, when a run changed it. */
static char shmem_mode[32];

/*
 * A shared mapping of /dev/zero is shmem, where THP is off unless the shmem
 * knob allows it: a THP run there asks for it ("advise", as MADV_HUGEPAGE
 * does), and the mode is put back at the end.
 */
static void shmem_thp_for(int map_flags)
{
	if (!(map_flags & MAP_SHARED) || (map_flags & MAP_HUGETLB))
		return;
	if (shmem_thp(shmem_mode, sizeof(shmem_mode)))
		ksft_exit_fail_msg("cannot read %s\n", SHMEM_THP);
	if (write_file(SHMEM_THP, "advise"))
		ksft_exit_fail_msg("cannot write %s (not root?)\n", SHMEM_THP);
}

/* A THP run is backed by huge pages, a no-THP one by none: the label is
 * what the pages are, as /proc/kpageflags says (only with -z not given). */
static void check_thp(char *p, int thp)
{
	int total, huge = thp_blocks(p, size, &total);

	ksft_print_msg("%d of %d 2 MiB blocks backed by a THP\n", huge, total);
	if (huge < 0)
		ksft_exit_fail_msg("cannot read /proc/self/pagemap or /proc/kpageflags\n");
	if (thp && (total == 0 || huge != total))
		ksft_exit_fail_msg("a THP run not backed by THPs\n");
	if (!thp && huge)
		ksft_exit_fail_msg("a no-THP run backed by THPs\n");
}

/* A page's reference count after the run is what it was before. */
static void check_refcount(const char *which, struct probe before, struct probe after)
{
	if (!before.refcount || !after.refcount || before.pfn != after.pfn) {
		ksft_print_msg("%s page: reference count not compared (no probe, or it moved)\n",
			       which);
		return;
	}
	if (after.refcount > before.refcount)
		ksft_exit_fail_msg("%s page: %u references after the run, %u before: not put\n",
				   which, after.refcount, before.refcount);
}

int main(int argc, char **argv)
{
	struct gup_test gup = { 0 };
	struct probe first, last;
	long acquired, released, pins;
	int probe_fd;
	int opt, nr_pages = 1, thp = -1, write = 1, nthreads = 1, touch = 1;
	int map_flags = MAP_PRIVATE, file_fd;
	const char *file = "/dev/zero";
	pthread_t *threads;
	char *p;

	while ((opt = getopt(argc, argv, "m:r:n:F:f:abcj:tTLUuwWSHpzD:q")) != -1) {
		switch (opt) {
		case 'a': cmd = PIN_FAST_BENCHMARK; break;
		case 'b': cmd = PIN_BASIC_TEST; break;
		case 'L': cmd = PIN_LONGTERM_BENCHMARK; break;
		case 'U': cmd = GUP_BASIC_TEST; break;
		case 'u': cmd = GUP_FAST_BENCHMARK; break;
		case 'c':
			cmd = DUMP_USER_PAGES_TEST;
			gup.which_pages[0] = 1;	/* page 0 unless pages are named */
			break;
		case 'p': gup.test_flags |= GUP_TEST_FLAG_DUMP_PAGES_USE_PIN; break;
		case 'F': gup.gup_flags = strtoul(optarg, NULL, 0); break;
		case 'j': nthreads = atoi(optarg); break;
		case 'm': size = strtoul(optarg, NULL, 0) * MB; break;
		case 'r': repeats = atoi(optarg); break;
		case 'n': nr_pages = atoi(optarg); break;
		case 't': thp = 1; break;
		case 'T': thp = 0; break;
		case 'w': write = 1; break;
		case 'W': write = 0; break;
		case 'f': file = optarg; break;
		case 'S': map_flags = (map_flags & ~MAP_PRIVATE) | MAP_SHARED; break;
		case 'H': map_flags |= MAP_HUGETLB | MAP_ANONYMOUS; break;
		case 'z': touch = 0; break;
		case 'D': device = optarg; break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: %s [-uUabLc] [-p] [-F flags] [-j threads] [-m MB]\n"
				"       [-r repeats] [-n pages] [-tT] [-wW] [-f file] [-SH] [-z]\n"
				"       [-D device] [-q] [page...]\n", argv[0]);
			return KSFT_FAIL;
		}
	}
	/* Pages to dump with -c, 0-based on the command line. */
	for (int i = 0; optind < argc && i < GUP_TEST_MAX_PAGES_TO_DUMP; i++)
		gup.which_pages[i] = strtol(argv[optind++], NULL, 0) + 1;

	if (nthreads < 1 || repeats < 1 || nr_pages < 1 || size == 0) {
		fprintf(stderr, "-j, -r, -n and -m must be positive\n");
		return KSFT_FAIL;
	}

	ksft_print_header();
	ksft_set_plan(nthreads);
	ksft_print_msg("%s on %s: %lu MiB, %d pages per call, %s%s%s%s\n", cmd_name(cmd),
		       device, size / MB, nr_pages, write ? "write" : "read",
		       map_flags & MAP_SHARED ? ", shared" : ", private",
		       map_flags & MAP_HUGETLB ? ", hugetlb" : "",
		       thp == 1 ? ", THP" : thp == 0 ? ", no THP" : "");

	dev_fd = open(device, O_RDWR);
	if (dev_fd < 0) {
		if (errno == ENOENT || errno == EACCES)
			ksft_exit_skip("cannot open %s: %s\n", device, strerror(errno));
		ksft_exit_fail_msg("open %s: %s\n", device, strerror(errno));
	}
	file_fd = open(file, O_RDWR | O_CREAT, 0664);
	if (file_fd < 0)
		ksft_exit_fail_msg("open %s: %s\n", file, strerror(errno));

	gup.nr_pages_per_call = nr_pages;
	if (write)
		gup.gup_flags |= RUST_GUP_FOLL_WRITE;

	if (thp == 1)
		shmem_thp_for(map_flags);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, map_flags, file_fd, 0);
	if (p == MAP_FAILED) {
		if (map_flags & MAP_HUGETLB)
			ksft_exit_skip("no %lu MiB of hugetlb pages: %s\n", size / MB,
				       strerror(errno));
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	}
	gup.addr = (unsigned long)p;
	if (thp >= 0 && madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		ksft_exit_fail_msg("madvise: %s\n", strerror(errno));
	if (touch)
		for (unsigned long off = 0; off < size; off += getpagesize())
			p[off] = 0;
	if (touch && thp >= 0 && !(map_flags & MAP_HUGETLB))
		check_thp(p, thp);

	probe_fd = open(RUST_GUP_DEVICE, O_RDWR);
	drain_lru_batches();
	first = probe_page(probe_fd, p);
	last = probe_page(probe_fd, p + size - getpagesize());
	acquired = vmstat("nr_foll_pin_acquired");
	released = vmstat("nr_foll_pin_released");

	threads = calloc(nthreads, sizeof(*threads));
	if (!threads)
		ksft_exit_fail_msg("out of memory\n");
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, run, &gup))
			ksft_exit_fail_msg("pthread_create failed\n");
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);

	/* What the kernel saw, which the device cannot have written. */
	pins = is_pin(cmd, &gup) ? (long)nthreads * (is_benchmark(cmd) ? repeats : 1) *
				   (long)(size / getpagesize()) : 0;
	acquired = vmstat("nr_foll_pin_acquired") - acquired;
	released = vmstat("nr_foll_pin_released") - released;
	if (acquired < 0 || released < 0)
		ksft_print_msg("FOLL_PIN counters not read (not root?): not checked\n");
	else if (acquired != pins || released != pins)
		ksft_exit_fail_msg("%ld pages pinned and %ld released where the command pins %ld\n",
				   acquired, released, pins);
	drain_lru_batches();
	check_refcount("first", first, probe_page(probe_fd, p));
	check_refcount("last", last, probe_page(probe_fd, p + size - getpagesize()));
	if (probe_fd >= 0)
		close(probe_fd);
	if (shmem_mode[0])
		write_file(SHMEM_THP, shmem_mode);
	munmap(p, size);
	ksft_finished();
}
