/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The one contract between sluiced's epoll loop and the modules it drives. */
#ifndef SLUICE_EVLOOP_H
#define SLUICE_EVLOOP_H

struct ev_source { int fd; void (*fn)(struct ev_source *src, unsigned int events); };
/* sluiced's epoll stores a struct ev_source * in epoll_event.data.ptr and calls src->fn(src, events). */

#endif /* SLUICE_EVLOOP_H */
