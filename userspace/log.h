/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The daemon's one log sink: levels, stderr, libbpf routed in one level lower. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum log_level {
	LOG_LVL_WARN = 0,	/* always shown */
	LOG_LVL_INFO,		/* default */
	LOG_LVL_DEBUG,		/* -v */
	LOG_LVL_TRACE,		/* -vv: libbpf's debug chatter */
};

/* Show messages up to @lvl; also routes libbpf's messages here. */
void log_init(enum log_level lvl);

/* Print one line at @lvl (a trailing newline is added when missing). */
void log_print(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(...) log_print(LOG_LVL_WARN, __VA_ARGS__)
#define pr_info(...) log_print(LOG_LVL_INFO, __VA_ARGS__)
#define pr_debug(...) log_print(LOG_LVL_DEBUG, __VA_ARGS__)

#endif /* SLUICE_LOG_H */
