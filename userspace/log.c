// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The daemon's one log sink: levels, stderr, libbpf routed in one level lower. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "log.h"

static enum log_level log_max = LOG_LVL_INFO;

static const char *const log_tag[] = { "warning", "info", "debug", "trace" };

static void log_vprint(enum log_level lvl, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (lvl > log_max)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	fprintf(stderr, "sluiced: %s: %s\n", log_tag[lvl], buf);
}

void log_print(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(lvl, fmt, ap);
	va_end(ap);
}

/* libbpf's warnings become our debug lines; its debug output needs -vv. */
static int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	log_vprint(level == LIBBPF_WARN ? LOG_LVL_DEBUG : LOG_LVL_TRACE, fmt, ap);
	return 0;
}

void log_init(enum log_level lvl)
{
	log_max = lvl;
	libbpf_set_print(log_libbpf);
}
