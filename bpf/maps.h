/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The maps of the balancer program; layout in include/sluice_abi.h. */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sluice_abi.h"

/* VIPs by {address, port, proto}, plus one marker entry per VIP address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_VIPS * 2);
	__type(key, struct sl_vip_key);
	__type(value, struct sl_vip_meta);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} sluice_vips SEC(".maps");

/* One entry: the filter of VIP addresses. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_vip_bits);
} sluice_vip_bits SEC(".maps");

/* Per CPU: flow-table inserts this second, for the new-flow limit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_rate);
} sluice_rate SEC(".maps");

/* One Maglev table generation: table index -> backend id. */
struct sl_ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
	__uint(map_flags, BPF_F_MMAPABLE);
};

/* VIP id -> its current table; userspace swaps whole tables atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SLUICE_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct sl_ring);
} sluice_rings SEC(".maps");

/* Backend id -> address, next hop and state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_backend);
} sluice_backends SEC(".maps");

/* 5-tuple -> backend chosen for it; per-CPU LRU lists avoid a global lock. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_MAX_FLOWS);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_flow);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
} sluice_flows SEC(".maps");

/* Per CPU: recently used flows, direct-mapped by flow hash (a lookup without hashing twice). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_FLOW_CACHE);
	__type(key, __u32);
	__type(value, struct sl_fcache);
} sluice_fcache SEC(".maps");

/* Per-VIP counters left by backend slots that were freed (written by userspace). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_counters);
} sluice_vip_st SEC(".maps");

/* Per-backend traffic counters, by backend id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_counters);
} sluice_be_st SEC(".maps");

/* Packets by verdict reason (enum sl_reason). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_REASON_MAX);
	__type(key, __u32);
	__type(value, struct sl_reason_count);
} sluice_reasons SEC(".maps");

#endif /* SLUICE_BPF_MAPS_H */
