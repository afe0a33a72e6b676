/* SPDX-License-Identifier: MIT */
/* Streaming reader for kube-scheduler extender requests (ExtenderArgs):
 * validates the whole body as JSON without building a tree and extracts
 * only what the extender uses, as spans into the caller's body. */
#ifndef NODESCORE_EXTJSON_H
#define NODESCORE_EXTJSON_H

#include <stddef.h>
#include <stdint.h>

#define NS_EXTJSON_MAX_DEPTH 128

/* Which nodeCacheCapable mode the scheduler used. */
enum ns_ext_mode {
	NS_EXT_NAMES = 1,   /* "NodeNames": [...] */
	NS_EXT_OBJECTS = 2, /* "Nodes": {"items": [...]} */
};

enum ns_pod_class {
	NS_CLASS_DEFAULT = 0,
	NS_CLASS_LATENCY, /* nodescore.io/class: latency-critical */
	NS_CLASS_BATCH,	  /* nodescore.io/class: batch */
};

#define NS_CLASS_LABEL "nodescore.io/class"

struct ns_ext_node {
	const char *name; /* decoded name (into the body or the arena), not NUL-terminated */
	size_t name_len;
	const char *name_tok; /* the name's JSON string token as received, quotes included */
	size_t name_tok_len;
	const char *obj; /* objects mode: the Node object's bytes as received */
	size_t obj_len;
};

struct ns_ext_args {
	enum ns_ext_mode mode;
	struct ns_ext_node *nodes;
	size_t n, cap;
	int64_t cpu_milli; /* the pod's effective requests, as the scheduler sums them */
	int64_t mem_bytes;
	enum ns_pod_class cls;
	const char *pod_name, *pod_ns; /* decoded metadata.name/namespace, NULL if absent */
	size_t pod_name_len, pod_ns_len;
	char *arena; /* decoded names that contained escapes */
	size_t arena_len, arena_cap;
	char err[160];
};

/* Parses body[0..len) (need not be NUL-terminated; never read past len).
 * Spans in *a point into body, which must outlive them. a must be zeroed
 * before first use; it may be reused across calls (allocations are kept).
 * Returns 0, -EINVAL with a one-line reason in a->err (malformed JSON, wrong
 * types, missing Pod, neither or both of NodeNames/Nodes, bad quantity,
 * nesting deeper than NS_EXTJSON_MAX_DEPTH), or -ENOMEM. */
int ns_extjson_parse(struct ns_ext_args *a, const char *body, size_t len);
/* For in-process callers that build the request themselves (nodescore-sim):
 * empties a as a NodeNames request with default pod fields and room for n
 * zeroed nodes; the caller fills nodes[0..n).name/name_len, sets a->n and the
 * pod's requests. 0 or -ENOMEM. */
int ns_extjson_reset(struct ns_ext_args *a, size_t n);
void ns_extjson_free(struct ns_ext_args *a);

#endif
