# SPDX-License-Identifier: GPL-2.0
#
# refmdev: reference mediated device for VFIO.
#
#   make                 build refmdev.ko (KDIR=<kernel build tree> to choose);
#                        installs nothing ("make deps" installs host packages)
#   make run             boot the default Debian kernel in QEMU and demo it
#   make check [T=pat]   run the selftests in QEMU; T filters test names
#   make bench [ONLY=s]  measure the DMA engine in QEMU; writes bench.json;
#                        ONLY names the sections to run (copy p2p revoke
#                        lifecycle)
#   make fuzz [SEED=n] [DURATION=s] [KERNEL=...]
#                        the concurrency fuzzer alone (default: 600 s on
#                        the debug kernel, with fault injection)
#   make checkpatch      kernel style check of the driver sources
#
# The Kbuild file describes the module; this file only drives things.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/refmdev
export CACHE
# BUILD: where userspace programs and VM logs go; a second checkout or a
# parallel run can point it elsewhere.
BUILD ?= $(TOP)/build
export BUILD
T ?=

# KDIR: given, or the running kernel's build tree, or the default kernel.
ifeq ($(KDIR),)
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
ifneq ($(wildcard $(RUNNING_KDIR)/Makefile),)
KDIR := $(RUNNING_KDIR)
endif
endif

CC ?= gcc
USER_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -static \
	       -I$(TOP)/include/uapi -I$(TOP)/selftests/lib -I$(TOP)/samples/lib

SELFTESTS := $(patsubst $(TOP)/selftests/%.c,%,$(wildcard $(TOP)/selftests/*.c))
SAMPLES := $(patsubst $(TOP)/samples/%.c,%,$(wildcard $(TOP)/samples/*.c))
SAMPLELIB := $(wildcard $(TOP)/samples/lib/*.c)
SAMPLELIB_H := $(wildcard $(TOP)/samples/lib/*.h) $(TOP)/include/uapi/linux/refmdev.h
# fill_random() is the samples' one: samples/lib is what a user copies,
# and the tests check data with the same generator.
TESTLIB := $(wildcard $(TOP)/selftests/lib/*.c) $(TOP)/samples/lib/fill_pattern.c
TESTLIB_H := $(wildcard $(TOP)/selftests/lib/*.h $(TOP)/selftests/importer/*.h) \
	     $(TOP)/samples/lib/fill_pattern.h $(TOP)/include/uapi/linux/refmdev.h
# The benchmark (selftests/bench) uses the selftests' VFIO helpers but not
# their runner.
BENCHES := $(patsubst $(TOP)/selftests/bench/%.c,%,$(wildcard $(TOP)/selftests/bench/*.c))
BENCHLIB := $(filter-out %/ktap.c,$(TESTLIB))

.PHONY: all modules userspace deps run check fuzz bench checkpatch clean

all: modules

# refmdev.ko alone: no test module (REFMDEV_SELFTESTS unset), and no host
# package installed. A missing tool fails with a message naming
# `make deps`, which installs what every target needs.
modules:
	@kdir="$(KDIR)"; \
	if [ -z "$$kdir" ]; then \
		scripts/host-deps.sh --module || exit 1; \
		kdir=$$(scripts/fetch-kernel.sh)/build || exit 1; \
	fi; \
	scripts/host-deps.sh --module "$$kdir" || exit 1; \
	echo "  KDIR    $$kdir"; \
	$(MAKE) -C "$$kdir" M=$(TOP) W=1 modules

# Host packages for everything here (the VM runner, the debug kernel,
# the selftests, DKMS): installed with apt-get as root.
deps:
	@scripts/host-deps.sh

userspace: $(addprefix $(BUILD)/selftests/,$(SELFTESTS)) $(BUILD)/selftests/fuzz \
	   $(addprefix $(BUILD)/samples/,$(SAMPLES)) \
	   $(BUILD)/nested/refmdev-guest-test \
	   $(addprefix $(BUILD)/bench/,$(BENCHES))

$(BUILD)/selftests/%: $(TOP)/selftests/%.c $(TESTLIB) $(TESTLIB_H)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -pthread -o $@ $< $(TESTLIB)

# The fuzzer is one program of several files (selftests/fuzz/fuzz.c).
FUZZ_SRC := $(wildcard $(TOP)/selftests/fuzz/*.c)

$(BUILD)/selftests/fuzz: $(FUZZ_SRC) $(TOP)/selftests/fuzz/fuzz.h $(TESTLIB) $(TESTLIB_H)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -pthread -o $@ $(FUZZ_SRC) $(TESTLIB)

# p2p_vgem imports into vgem through libdrm; static like the rest, so it
# links Debian's libdrm.a (libdrm-dev). Expanded when the recipe runs,
# after "deps" has installed the package.
LIBDRM_CFLAGS = $(shell pkg-config --cflags libdrm)
LIBDRM_LIBS = $(shell pkg-config --static --libs libdrm)

$(BUILD)/selftests/p2p_vgem: $(TOP)/selftests/p2p_vgem.c $(TESTLIB) $(TESTLIB_H)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(LIBDRM_CFLAGS) -o $@ $< $(TESTLIB) $(LIBDRM_LIBS)

$(BUILD)/samples/%: $(TOP)/samples/%.c $(SAMPLELIB) $(SAMPLELIB_H)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -I$(TOP)/samples/lib -o $@ $< $(SAMPLELIB)

# The nested-VM guest's test program (selftests/nested/). It drives the
# guest driver of samples/guest/ (refmdev_guest.ko, built by
# scripts/build-guest-module.sh) through that driver's uAPI header.
$(BUILD)/nested/refmdev-guest-test: $(TOP)/selftests/nested/refmdev-guest-test.c \
		$(TOP)/samples/guest/refmdev_guest.h $(TOP)/include/uapi/linux/refmdev.h \
		$(TOP)/samples/lib/fill_pattern.c $(TOP)/samples/lib/fill_pattern.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -I$(TOP)/samples/guest -I$(TOP)/samples/lib -pthread \
		-o $@ $< $(TOP)/samples/lib/fill_pattern.c

$(BUILD)/bench/%: $(TOP)/selftests/bench/%.c $(BENCHLIB) $(TESTLIB_H)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -o $@ $< $(BENCHLIB)

run: deps userspace
	@scripts/make-run.sh

check: deps userspace
	@T="$(T)" scripts/make-check.sh

fuzz: deps userspace
	@KERNEL="$(or $(KERNEL),debug)" ONLY=fuzz FUZZ_SEED="$(SEED)" \
		FUZZ_DURATION="$(or $(DURATION),600)" scripts/make-check.sh

bench: deps userspace
	@BENCH_ONLY="$(ONLY)" scripts/make-bench.sh

checkpatch: deps
	@scripts/checkpatch.sh

clean:
	@kdir="$(KDIR)"; [ -z "$$kdir" ] || $(MAKE) -C "$$kdir" M=$(TOP) clean
	rm -rf $(BUILD) *.ko *.o .module-common.o *.mod *.mod.c .*.cmd \
		modules.order Module.symvers \
		mdev/*.o mdev/.*.cmd p2p/*.o p2p/.*.cmd
