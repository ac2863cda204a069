#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# DMA API check for a debug kernel (CONFIG_DMA_API_DEBUG): the errors the
# DMA API's debugging counted while the tests above ran. It reports the
# first one as a WARN (which the harness sees), and only counts the rest.
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
