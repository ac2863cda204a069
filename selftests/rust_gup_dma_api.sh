#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# DMA API check for a debug kernel (CONFIG_DMA_API_DEBUG): the errors the
# DMA API's debugging counted while the tests above ran, and whether it is
# still on. It reports the first error as a WARN, which fails the boot
# (panic_on_warn) before this script runs; what this adds is that the
# checks stayed on for the tests above, and a count should the guest ever
# run without panic_on_warn.
# run_vmtests.sh runs it after the tests that map memory for DMA and before
# the fault-injection test: fail-nth can fail dma-debug's own allocations,
# and then it turns itself off ("cacheline tracking ENOMEM").
DIR=/sys/kernel/debug/dma-api

[ -e $DIR/error_count ] || { echo "# no $DIR: not a DMA_API_DEBUG kernel"; exit 4; }

errors=$(cat $DIR/error_count)
disabled=$(cat $DIR/disabled)
echo "# dma-api: $errors errors; disabled: $disabled;" \
	"$(cat $DIR/num_free_entries) of $(cat $DIR/nr_total_entries) entries free"
[ "$errors" = 0 ] && [ "$disabled" = N ]
