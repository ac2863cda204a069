#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# with_module.sh MODULE TEST [ARG...]: load MODULE.ko from this directory,
# run TEST, unload the module; fails if any step does.
DIR=$(dirname "$0")
MODULE=$1
shift
insmod "$DIR/$MODULE.ko" || exit 1
"$DIR/$@"
rc=$?
rmmod "$MODULE" || rc=1
exit $rc
