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
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rust_gup.h>

#include "kselftest.h"

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

/* One thread: the command, `repeats` times for the benchmarks. */
static void *run(void *arg)
{
	struct gup_test gup = *(struct gup_test *)arg;
	int rounds = is_benchmark(cmd) ? repeats : 1;
	const char *why = NULL;
	int err = 0;

	for (int i = 0; i < rounds && !why; i++) {
		gup.size = size;
		if (ioctl(dev_fd, cmd, &gup)) {
			err = errno;
			why = "ioctl failed";
			break;
		}
		if (gup.size != size)
			why = "took less than the whole range";
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

int main(int argc, char **argv)
{
	struct gup_test gup = { 0 };
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

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, map_flags, file_fd, 0);
	if (p == MAP_FAILED) {
		if (map_flags & MAP_HUGETLB)
			ksft_exit_skip("no %lu MiB of hugetlb pages: %s\n", size / MB,
				       strerror(errno));
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	}
	gup.addr = (unsigned long)p;
	if (thp == 1)
		madvise(p, size, MADV_HUGEPAGE);
	else if (thp == 0)
		madvise(p, size, MADV_NOHUGEPAGE);
	if (touch)
		for (unsigned long off = 0; off < size; off += getpagesize())
			p[off] = 0;

	threads = calloc(nthreads, sizeof(*threads));
	if (!threads)
		ksft_exit_fail_msg("out of memory\n");
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, run, &gup))
			ksft_exit_fail_msg("pthread_create failed\n");
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	munmap(p, size);
	ksft_finished();
}
