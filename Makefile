# SPDX-License-Identifier: GPL-2.0
#
# rust_gup: build, test and benchmark.
#
#   make              build the module and the selftests
#   make bench        rust_gup against the kernel's C gup_test, with a report
#                     (BENCH_ARGS="--quick", "--icount", ...: see scripts/bench -h)
#   make check        build everything, run the tests on the 6.12 and 7.3 test
#                     kernels
#   make check-full   the same, the whole suite on the debug kernel (KASAN,
#                     kmemleak, lockdep, ...) and the concurrency tests on
#                     the KCSAN kernel: what CI runs
#   make vm           interactive shell in the test VM, rust_gup loaded
#   make lint         rustfmt --check and clippy, warnings are errors
#   make compile-fail the layer's rules broken on purpose must not compile
#   make fmt          rustfmt the Rust sources
#   make clean
#
# Without KDIR, the project's own test kernel (Debian's linux-source-6.12,
# CONFIG_RUST=y; with KERNEL=7.3, mainline: linux-source-7.3) is built on
# first use and cached under ~/.cache/rust_gup; missing build dependencies
# are installed first. KERNEL=7.3 also selects mainline for make vm and
# make bench. KDIR=/path/to/tree builds against your own Rust-enabled 6.12
# or 7.3 tree instead (configured and built, with `make headers_install`
# done for the selftests).

# A setting of scripts/lib.sh, the one place the pinned versions and the
# cache location are kept.
lib_sh = $(shell bash -c '. $(CURDIR)/scripts/lib.sh && echo "$$$(1)"')

RUST_TOOLCHAIN ?= $(call lib_sh,RUST_TOOLCHAIN)
export RUSTUP_TOOLCHAIN := $(RUST_TOOLCHAIN)

BUILD := $(CURDIR)/build
TARGETS := all modules selftests initramfs lint fmt compile-fail

ifeq ($(origin KDIR),undefined)
# Set up the test kernel, then run the same target against it.
$(TARGETS):
	@kdir=$$($(CURDIR)/scripts/kernel.sh) && \
		$(MAKE) --no-print-directory KDIR="$$kdir" $@
else
# The kernel versions rust_gup builds against (scripts/lib.sh). Any other
# tree stops here, at once, rather than with compiler errors from a kernel
# crate whose API has moved.
SUPPORTED_KERNELS := $(call lib_sh,SUPPORTED_KERNELS)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
KDIR_VERSION := $(shell sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p' $(KDIR)/Makefile 2>/dev/null | paste -sd.)
ifeq ($(KDIR_VERSION),)
$(error KDIR=$(KDIR) is not a kernel source tree (no Makefile with VERSION and PATCHLEVEL))
endif
ifeq ($(filter $(SUPPORTED_KERNELS),$(KDIR_VERSION)),)
$(error KDIR=$(KDIR) is Linux $(KDIR_VERSION); the versions rust_gup supports are $(SUPPORTED_KERNELS) (the 6.12 LTS, and mainline as Debian's linux-source-$(lastword $(SUPPORTED_KERNELS))))
endif
endif

# The module is built with the compiler the tree was built with: clang N
# (LLVM=-N) when the tree's .config says so and clang-N is installed (the
# deps target installs Debian's), and its libclang for the bindgen pass;
# else LLVM=1, the default clang. Expanded when a recipe runs, after deps.
KDIR_CLANG := $(shell sed -n 's/^CONFIG_CLANG_VERSION=\([0-9]*\)[0-9]\{4\}$$/\1/p' $(KDIR)/.config 2>/dev/null)
KDIR_LLVM = $(if $(and $(KDIR_CLANG),$(shell command -v clang-$(KDIR_CLANG))),-$(KDIR_CLANG),1)
KDIR_LIBCLANG = $(if $(KDIR_CLANG),$(wildcard /usr/lib/llvm-$(KDIR_CLANG)/lib))

BINDGEN ?= $(or $(wildcard $(call lib_sh,BINDGEN)),bindgen)
# The kernel's build, for an external module's directory (M=).
KBUILD_TREE = $(if $(KDIR_LIBCLANG),LIBCLANG_PATH=$(KDIR_LIBCLANG)) $(MAKE) -C $(KDIR) LLVM=$(KDIR_LLVM) BINDGEN=$(BINDGEN)
KBUILD = $(KBUILD_TREE) M=$(CURDIR)
ifeq ($(WERROR),1)
KBUILD += KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror
endif
# Crate roots (rustfmt follows their modules) and the compile-fail cases.
RUST_CRATES := module/rust_gup.rs $(wildcard samples/*.rs) $(wildcard rust/compile_fail/*.rs)
RUSTFMT := rustfmt --edition 2021 --config-path $(KDIR)/.rustfmt.toml

all: modules selftests

# The compilers, the Rust toolchain and bindgen, installed when missing.
deps:
	@$(CURDIR)/scripts/deps.sh build $(KDIR_CLANG)

$(filter-out all,$(TARGETS)): | deps

modules:
	$(KBUILD) modules

# The kernel's own rustfmt settings; clippy as the kernel runs it. The
# lint build leaves clippy-built objects behind, so the next build redoes
# them with rustc.
lint:
	$(RUSTFMT) --check $(RUST_CRATES)
	@if grep -nE '^[^/]*(\bunsafe\b|bindings::)' $(wildcard module/*.rs samples/*.rs); then \
		echo "lint: unsafe and bindings:: belong in rust/ (the abstraction layer)"; exit 1; fi
	$(KBUILD) CLIPPY=1 KRUSTFLAGS=-Dwarnings modules

fmt:
	$(RUSTFMT) $(RUST_CRATES)

# The layer's rules that must not compile (rust/compile_fail/, one crate
# each, built against the layer the module was just built with).
compile-fail: modules
	$(CURDIR)/scripts/compile-fail $(BUILD)/compile-fail env $(KBUILD_TREE) KRUSTFLAGS=-Dwarnings

selftests:
	$(MAKE) -C selftests KDIR=$(KDIR) O=$(BUILD)/selftests

initramfs: modules selftests
	$(CURDIR)/scripts/initramfs.sh $(KDIR) $(BUILD)
endif

check:
	@$(CURDIR)/scripts/check.sh

check-full:
	@CHECK_DEBUG=1 CHECK_KCSAN=1 $(CURDIR)/scripts/check.sh

bench:
	@$(CURDIR)/scripts/bench $(BENCH_ARGS)

vm:
	@$(CURDIR)/scripts/vm

# Works without a kernel tree: removes what Kbuild and the scripts made.
clean:
	rm -rf $(BUILD) rust/bindings_generated.rs modules.order Module.symvers
	find . -path ./.git -prune -o \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name '.*.d' \) -type f -print0 | \
		xargs -0 rm -f

.PHONY: $(TARGETS) deps check check-full bench vm clean
