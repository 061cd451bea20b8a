# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice build: BPF objects and skeletons, the userspace library, tools, tests.

BUILD    ?= build

include mk/common.mk

BPF_CFLAGS += -Iinclude -Ibpf
CFLAGS     += -Iinclude -Iuserspace -I$(BUILD)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
HDRS      := $(wildcard include/*.h bpf/*.h userspace/*.h)

MAINS     := userspace/sluiced.c userspace/sluicectl.c userspace/sluice-backend.c
LIB_SRCS  := $(filter-out $(MAINS),$(wildcard userspace/*.c))
LIB_OBJS  := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libsluice.a
PROGS     := $(patsubst userspace/%.c,$(BUILD)/%,$(wildcard $(MAINS)))

UNIT_SRCS := $(wildcard tests/unit/*.c)
PKT_SRCS  := $(wildcard tests/bpf/*.c)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TEST_BINS := $(if $(UNIT_SRCS),$(BUILD)/tests/unit_tests) \
	     $(if $(PKT_SRCS),$(BUILD)/tests/bpf_tests) \
	     $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))

.PHONY: all compile deps test bench demo clean help install

all: deps
	$(Q)$(MAKE) --no-print-directory compile

help:
	@echo 'make            install missing packages, build everything into $(BUILD)/'
	@echo 'make deps       install the Debian packages the build and tests need'
	@echo 'make test       build and run every test (unit, packet, integration)'
	@echo 'make demo       build a lab in network namespaces and show sluice balancing'
	@echo 'make bench      benchmarks against same-run baselines (QUICK=1: short)'
	@echo 'make install    install the programs, the unit and docs (PREFIX, DESTDIR)'
	@echo 'make clean      remove $(BUILD)/'
	@echo 'V=1             show full commands'

deps:
	$(Q)sh tools/deps.sh

compile: $(BPF_OBJS) $(SKELS) $(LIB) $(PROGS) $(TEST_BINS)

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/obj/%.o: userspace/%.c $(HDRS) $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/%: userspace/%.c $(LIB) $(HDRS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/unit_tests: $(UNIT_SRCS) $(LIB) $(HDRS) $(wildcard tests/unit/*.h tests/*.h)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests $(UNIT_SRCS) $(LIB) $(LDLIBS) -lcriterion -lm -o $@

$(BUILD)/tests/bpf_tests: $(PKT_SRCS) $(LIB) $(HDRS) $(wildcard tests/bpf/*.h tests/*.h)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests $(PKT_SRCS) $(LIB) $(LDLIBS) -lcriterion -o $@

$(BUILD)/tests/%: tests/tools/%.c $(HDRS) $(wildcard tests/tools/*.h)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(BUILD):
	$(Q)mkdir -p $@

test: deps
	$(Q)$(MAKE) --no-print-directory compile
	$(Q)sh tests/run.sh $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory compile
	$(Q)sh tests/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory compile
	$(Q)test -f bench/run.sh || { echo "make bench: bench/run.sh is missing" >&2; exit 1; }
	$(Q)QUICK=$(QUICK) sh bench/run.sh

PREFIX  ?= /usr/local
DESTDIR ?=

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/sluice $(DESTDIR)/etc/sluice
	install -m 0755 $(BUILD)/sluiced $(BUILD)/sluicectl $(BUILD)/sluice-backend \
		$(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 configs/sluiced.service $(DESTDIR)/etc/systemd/system/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/sluice/
	test -e $(DESTDIR)/etc/sluice/sluice.conf || \
		install -m 0644 configs/sluice.conf $(DESTDIR)/etc/sluice/sluice.conf

clean:
	$(Q)rm -rf $(BUILD)
