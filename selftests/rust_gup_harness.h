/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kselftest_harness.h for the rust_gup selftests, with one change: a SKIP()
 * after a failed check keeps the test failed.
 *
 * The harness's SKIP() sets the test's exit code to KSFT_SKIP whatever it
 * was, so an EXPECT that failed before it is reported as a skip, which
 * counts as a pass. Here the failure stands and the skip's reason is
 * logged. The body is the harness's own otherwise (6.12 and 7.3 agree).
 */
#ifndef RUST_GUP_HARNESS_H
#define RUST_GUP_HARNESS_H

#include "kselftest_harness.h"

#undef SKIP
#define SKIP(statement, fmt, ...) do { \
	if (_metadata->exit_code == KSFT_FAIL) { \
		TH_LOG("a check failed before this skip, so the test fails: " fmt, \
		       ##__VA_ARGS__); \
		statement; \
	} \
	snprintf(_metadata->results->reason, \
		 sizeof(_metadata->results->reason), fmt, ##__VA_ARGS__); \
	if (TH_LOG_ENABLED) { \
		fprintf(TH_LOG_STREAM, "#      SKIP      %s\n", \
			_metadata->results->reason); \
	} \
	_metadata->exit_code = KSFT_SKIP; \
	_metadata->trigger = 0; \
	statement; \
} while (0)

#endif /* RUST_GUP_HARNESS_H */
