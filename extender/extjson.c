// SPDX-License-Identifier: MIT
/* Streaming ExtenderArgs reader: one pass, no tree, spans into the body.
 * The ExtenderArgs schema (node names or Node objects, the pod's requests,
 * labels and metadata) lives here; the JSON tokenizer under it in
 * extjson_tok.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodescore/extjson.h"
#include "nodescore/quantity.h"
#include "extjson_tok.h"

/* Resource totals of one pod, per resource, saturating at INT64_MAX. */
struct res {
	int64_t cpu, mem;
};

struct pod_acc {
	struct res containers, sidecars, init_max, overhead;
};

static struct ns_ext_node *add_node(struct rd *r)
{
	struct ns_ext_args *a = r->a;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct ns_ext_node *nn = realloc(a->nodes, cap * sizeof(*nn));
		if (!nn) {
			snprintf(a->err, sizeof(a->err), "out of memory");
			return NULL;
		}
		a->nodes = nn;
		a->cap = cap;
	}
	memset(&a->nodes[a->n], 0, sizeof(a->nodes[0]));
	return &a->nodes[a->n++];
}

static int parse_names(struct rd *r)
{
	const char *tok;
	size_t tl;
	int esc, n = 0, rc;

	if (enter(r, '[') < 0)
		return fail(r, "NodeNames must be an array of strings");
	while ((rc = arr_next(r, &n)) == 1) {
		struct ns_ext_node *nd;
		if (read_str_value(r, &tok, &tl, &esc, "NodeNames must be an array of strings") < 0)
			return -EINVAL;
		if (!(nd = add_node(r)))
			return -ENOMEM;
		nd->name_tok = tok;
		nd->name_tok_len = tl;
		if ((rc = str_view(r, tok, tl, esc, &nd->name, &nd->name_len)) < 0)
			return rc;
	}
	return rc;
}

static int parse_node_meta(struct rd *r, struct ns_ext_node *nd)
{
	const char *k, *tok;
	size_t kl, tl;
	int kesc, esc, n = 0, rc;

	if (enter(r, '{') < 0)
		return fail(r, "Node metadata must be an object");
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		if (!key_is(k, kl, kesc, "name", 1)) {
			if (skip_value(r) < 0)
				return -EINVAL;
			continue;
		}
		if (read_str_value(r, &tok, &tl, &esc, "Node metadata.name must be a string") < 0)
			return -EINVAL;
		nd->name_tok = tok;
		nd->name_tok_len = tl;
		if ((rc = str_view(r, tok, tl, esc, &nd->name, &nd->name_len)) < 0)
			return rc;
	}
	return rc;
}

static int parse_items(struct rd *r)
{
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	if ((rc = enter_nullable(r, '[', "Nodes.items must be an array")) <= 0)
		return rc;
	while ((rc = arr_next(r, &n)) == 1) {
		struct ns_ext_node *nd;
		const char *start = r->p;
		int m = 0;
		if (!(nd = add_node(r)))
			return -ENOMEM;
		if (enter(r, '{') < 0)
			return fail(r, "Nodes.items[] must be objects");
		while ((rc = obj_next(r, &m, &k, &kl, &kesc)) == 1) {
			rc = key_is(k, kl, kesc, "metadata", 1) ? parse_node_meta(r, nd)
								: skip_value(r);
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		if (!nd->name_tok)
			return fail(r, "Nodes.items[] without metadata.name");
		nd->obj = start;
		nd->obj_len = (size_t)(r->p - start);
	}
	return rc;
}

static int parse_nodelist(struct rd *r)
{
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	if (enter(r, '{') < 0)
		return fail(r, "Nodes must be an object or null");
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		rc = key_is(k, kl, kesc, "items", 1) ? parse_items(r) : skip_value(r);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static void res_add(struct res *d, const struct res *s)
{
	d->cpu = sat_add(d->cpu, s->cpu);
	d->mem = sat_add(d->mem, s->mem);
}

static void res_max(struct res *d, const struct res *s)
{
	if (s->cpu > d->cpu)
		d->cpu = s->cpu;
	if (s->mem > d->mem)
		d->mem = s->mem;
}

static int parse_quantity(struct rd *r, int scale, int64_t *out)
{
	const char *tok, *s;
	char buf[80];
	size_t tl, n;
	int esc, rc;

	ws(r);
	if (is_null(r)) {
		*out = 0;
		return 0;
	}
	if (r->p < r->end && *r->p == '"') {
		if (read_string(r, &tok, &tl, &esc) < 0)
			return -EINVAL;
		if (esc) {
			if (tl > sizeof(buf))
				return fail(r, "invalid resource quantity");
			n = decode_string(tok, tl, buf);
			s = buf;
		} else {
			s = tok + 1;
			n = tl - 2;
		}
	} else {
		/* Quantity also unmarshals from a bare JSON number. */
		s = r->p;
		if (read_number(r) < 0)
			return fail(r, "resource quantity must be a string or number");
		n = (size_t)(r->p - s);
	}
	rc = ns_quantity_parse(s, n, scale, out);
	if (rc == -ERANGE)
		return fail(r, "resource quantity out of range");
	if (rc < 0)
		return fail(r, "invalid resource quantity");
	if (*out < 0)
		return fail(r, "negative resource quantity");
	return 0;
}

static int parse_reslist(struct rd *r, struct res *out)
{
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	if ((rc = enter_nullable(r, '{', "resource list must be an object")) <= 0)
		return rc;
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		if (key_is(k, kl, kesc, "cpu", 0))
			rc = parse_quantity(r, 3, &out->cpu);
		else if (key_is(k, kl, kesc, "memory", 0))
			rc = parse_quantity(r, 0, &out->mem);
		else
			rc = skip_value(r);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int parse_resources(struct rd *r, struct res *req)
{
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	if ((rc = enter_nullable(r, '{', "container resources must be an object")) <= 0)
		return rc;
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		rc = key_is(k, kl, kesc, "requests", 1) ? parse_reslist(r, req) : skip_value(r);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Kubernetes' PodRequests: containers summed; init containers run one at a
 * time (max), alongside the restartable (sidecar) ones started before them. */
static int parse_containers(struct rd *r, struct pod_acc *acc, int init)
{
	const char *k, *tok;
	size_t kl, tl;
	int kesc, esc, n = 0, rc;

	if ((rc = enter_nullable(r, '[', "containers must be an array")) <= 0)
		return rc;
	while ((rc = arr_next(r, &n)) == 1) {
		struct res req = {0, 0};
		int m = 0, sidecar = 0;
		if (enter(r, '{') < 0)
			return fail(r, "container must be an object");
		while ((rc = obj_next(r, &m, &k, &kl, &kesc)) == 1) {
			if (key_is(k, kl, kesc, "resources", 1)) {
				rc = parse_resources(r, &req);
			} else if (key_is(k, kl, kesc, "restartPolicy", 1)) {
				if (is_null(r))
					continue;
				rc = read_str_value(r, &tok, &tl, &esc,
						    "restartPolicy must be a string");
				sidecar = rc == 0 && key_is(tok, tl, esc, "Always", 0);
			} else {
				rc = skip_value(r);
			}
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		if (!init) {
			res_add(&acc->containers, &req);
		} else if (sidecar) {
			res_add(&acc->sidecars, &req);
			res_max(&acc->init_max, &acc->sidecars);
		} else {
			res_add(&req, &acc->sidecars);
			res_max(&acc->init_max, &req);
		}
	}
	return rc;
}

static int parse_spec(struct rd *r, struct pod_acc *acc)
{
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	if (enter(r, '{') < 0)
		return fail(r, "Pod spec must be an object");
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		if (key_is(k, kl, kesc, "containers", 1))
			rc = parse_containers(r, acc, 0);
		else if (key_is(k, kl, kesc, "initContainers", 1))
			rc = parse_containers(r, acc, 1);
		else if (key_is(k, kl, kesc, "overhead", 1))
			rc = parse_reslist(r, &acc->overhead);
		else
			rc = skip_value(r);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int parse_labels(struct rd *r)
{
	const char *k, *tok;
	size_t kl, tl;
	int kesc, esc, n = 0, rc;

	if ((rc = enter_nullable(r, '{', "Pod labels must be an object")) <= 0)
		return rc;
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		if (!key_is(k, kl, kesc, NS_CLASS_LABEL, 0)) {
			if (skip_value(r) < 0)
				return -EINVAL;
			continue;
		}
		if (read_str_value(r, &tok, &tl, &esc, "label values must be strings") < 0)
			return -EINVAL;
		/* Unknown classes keep the default weights rather than fail the pod. */
		if (key_is(tok, tl, esc, "latency-critical", 0))
			r->a->cls = NS_CLASS_LATENCY;
		else if (key_is(tok, tl, esc, "batch", 0))
			r->a->cls = NS_CLASS_BATCH;
		else
			r->a->cls = NS_CLASS_DEFAULT;
	}
	return rc;
}

/* The pod's name and namespace only label shadow-mode logs: a value of
 * another type is skipped, as before they were read, rather than refused. */
static int pod_str(struct rd *r, const char **s, size_t *n)
{
	const char *tok;
	size_t tl;
	int esc;

	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return skip_value(r);
	if (read_string(r, &tok, &tl, &esc) < 0)
		return -EINVAL;
	return str_view(r, tok, tl, esc, s, n);
}

static int parse_pod_meta(struct rd *r)
{
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	if ((rc = enter_nullable(r, '{', "Pod metadata must be an object")) <= 0)
		return rc;
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		if (key_is(k, kl, kesc, "labels", 1))
			rc = parse_labels(r);
		else if (key_is(k, kl, kesc, "name", 1))
			rc = pod_str(r, &r->a->pod_name, &r->a->pod_name_len);
		else if (key_is(k, kl, kesc, "namespace", 1))
			rc = pod_str(r, &r->a->pod_ns, &r->a->pod_ns_len);
		else
			rc = skip_value(r);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int parse_pod(struct rd *r)
{
	struct pod_acc acc;
	struct res total;
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;

	memset(&acc, 0, sizeof(acc));
	if (is_null(r))
		return fail(r, "Pod is null");
	if (enter(r, '{') < 0)
		return fail(r, "Pod must be an object");
	while ((rc = obj_next(r, &n, &k, &kl, &kesc)) == 1) {
		if (key_is(k, kl, kesc, "metadata", 1))
			rc = parse_pod_meta(r);
		else if (key_is(k, kl, kesc, "spec", 1))
			rc = is_null(r) ? 0 : parse_spec(r, &acc);
		else
			rc = skip_value(r);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	total = acc.containers;
	res_add(&total, &acc.sidecars);
	res_max(&total, &acc.init_max);
	res_add(&total, &acc.overhead);
	r->a->cpu_milli = total.cpu;
	r->a->mem_bytes = total.mem;
	return 0;
}

int ns_extjson_parse(struct ns_ext_args *a, const char *body, size_t len)
{
	struct rd r = {.p = body, .end = body + len, .base = body, .a = a};
	const char *k;
	size_t kl;
	int kesc, n = 0, rc;
	int seen_pod = 0, seen_nodes = 0, seen_names = 0;
	enum ns_ext_mode mode = 0;

	a->n = 0;
	a->arena_len = 0;
	a->cpu_milli = a->mem_bytes = 0;
	a->cls = NS_CLASS_DEFAULT;
	a->mode = 0;
	a->pod_name = a->pod_ns = NULL;
	a->pod_name_len = a->pod_ns_len = 0;
	a->err[0] = '\0';
	if (!body)
		return fail(&r, "empty body");
	if (enter(&r, '{') < 0) {
		a->err[0] = '\0';
		return fail(&r, "request must be a JSON object (ExtenderArgs)");
	}
	while ((rc = obj_next(&r, &n, &k, &kl, &kesc)) == 1) {
		if (key_is(k, kl, kesc, "Pod", 1)) {
			if (seen_pod++)
				return fail(&r, "duplicate key Pod");
			rc = parse_pod(&r);
		} else if (key_is(k, kl, kesc, "Nodes", 1)) {
			if (seen_nodes++)
				return fail(&r, "duplicate key Nodes");
			if (is_null(&r))
				continue;
			if (mode)
				return fail(&r, "both Nodes and NodeNames are set");
			mode = NS_EXT_OBJECTS;
			rc = parse_nodelist(&r);
		} else if (key_is(k, kl, kesc, "NodeNames", 1)) {
			if (seen_names++)
				return fail(&r, "duplicate key NodeNames");
			if (is_null(&r))
				continue;
			if (mode)
				return fail(&r, "both Nodes and NodeNames are set");
			mode = NS_EXT_NAMES;
			rc = parse_names(&r);
		} else {
			rc = skip_value(&r);
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	ws(&r);
	if (r.p != r.end)
		return fail(&r, "trailing data after the request object");
	if (!seen_pod)
		return fail(&r, "missing Pod");
	if (!mode)
		return fail(&r, "missing NodeNames or Nodes");
	a->mode = mode;
	return 0;
}

int ns_extjson_reset(struct ns_ext_args *a, size_t n)
{
	a->n = 0;
	a->arena_len = 0;
	a->cpu_milli = a->mem_bytes = 0;
	a->cls = NS_CLASS_DEFAULT;
	a->mode = NS_EXT_NAMES;
	a->pod_name = a->pod_ns = NULL;
	a->pod_name_len = a->pod_ns_len = 0;
	a->err[0] = '\0';
	if (n > a->cap) {
		struct ns_ext_node *nn = realloc(a->nodes, n * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		a->nodes = nn;
		a->cap = n;
	}
	if (n)
		memset(a->nodes, 0, n * sizeof(*a->nodes));
	return 0;
}

void ns_extjson_free(struct ns_ext_args *a)
{
	free(a->nodes);
	free(a->arena);
	memset(a, 0, sizeof(*a));
}
