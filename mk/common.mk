# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Toolchain and flags shared by the top-level Makefile and bench/{xdp,ctl}:
# every BPF object and program, ours and the benchmark's, is built alike.
# The including Makefile adds its include paths.

.DELETE_ON_ERROR:
.SUFFIXES:

CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null)
PKGS       := libbpf libmnl libconfig json-c

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Werror \
	      -idirafter /usr/include/$(MULTIARCH) $(EXTRA_BPF_CFLAGS)
CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	      -Wno-missing-field-initializers $(EXTRA_CFLAGS)
LDLIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz -lpthread -lm
