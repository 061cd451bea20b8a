/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Criterion tests that build real kernel objects: shell commands and private namespaces. */
#ifndef SLUICE_TEST_SHELL_H
#define SLUICE_TEST_SHELL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs a shell command built like printf; returns its exit status, or -1. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	if (ret == -1 || !WIFEXITED(ret))
		return -1;
	return WEXITSTATUS(ret);
}

/* A shell command that must succeed. */
#define SH(...) cr_assert_eq(sh(__VA_ARGS__), 0, "command failed: " __VA_ARGS__)

/*
 * Moves this test process into a network namespace of its own, gone when
 * it exits (Criterion runs every test in a process of its own).
 */
static inline void netns_private(void)
{
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
}

#endif /* SLUICE_TEST_SHELL_H */
