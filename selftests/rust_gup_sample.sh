#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load the sample module, run its test, unload it.
DIR=$(dirname "$0")
insmod "$DIR/rust_gup_sample.ko" || exit 1
"$DIR/rust_gup_sample_test"
rc=$?
rmmod rust_gup_sample || rc=1
exit $rc
