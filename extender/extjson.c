// SPDX-License-Identifier: MIT
/* Streaming ExtenderArgs reader: one pass, no tree, spans into the body. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "nodescore/extjson.h"
#include "nodescore/quantity.h"

struct rd {
	const char *p, *end, *base;
	int depth;
	struct ns_ext_args *a;
};

/* Resource totals of one pod, per resource, saturating at INT64_MAX. */
struct res {
	int64_t cpu, mem;
};

struct pod_acc {
	struct res containers, sidecars, init_max, overhead;
};

/* Bytes that end a run of plain string characters. */
static int str_stop(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

static int fail(struct rd *r, const char *msg)
{
	if (!r->a->err[0])
		snprintf(r->a->err, sizeof(r->a->err), "%s at byte %zu", msg,
			 (size_t)(r->p - r->base));
	return -EINVAL;
}

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static int expect(struct rd *r, char c, const char *msg)
{
	ws(r);
	if (r->p >= r->end || *r->p != c)
		return fail(r, msg);
	r->p++;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Advances r->p to the first '"', '\\' or control byte, or to the end.
 * Strings are most of a 20 MB Node list: 16 bytes at a time with SSE2,
 * else 8 with word tricks, then byte by byte. */
static void scan_plain(struct rd *r)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	/* Unsigned c < 0x20 as a signed compare after flipping the top bit. */
	const __m128i flip = _mm_set1_epi8((char)0x80), lim = _mm_set1_epi8((char)(0x20 ^ 0x80));

	while (r->end - r->p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)r->p);
		__m128i m =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
				 _mm_cmplt_epi8(_mm_xor_si128(x, flip), lim));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits) {
			r->p += __builtin_ctz(bits);
			return;
		}
		r->p += 16;
	}
#endif
	while (r->end - r->p >= 8) {
		uint64_t x, q, b;
		memcpy(&x, r->p, 8);
		q = x ^ 0x2222222222222222ull;
		b = x ^ 0x5c5c5c5c5c5c5c5cull;
		if ((((q - 0x0101010101010101ull) & ~q) | ((b - 0x0101010101010101ull) & ~b) |
		     ((x - 0x2020202020202020ull) & ~x)) &
		    0x8080808080808080ull)
			break;
		r->p += 8;
	}
	while (r->p < r->end && !str_stop((unsigned char)*r->p))
		r->p++;
}

/* At '"': validates a string, returns its token span and whether it has escapes. */
static int read_string(struct rd *r, const char **tok, size_t *toklen, int *esc)
{
	const char *s = r->p;

	*esc = 0;
	r->p++;
	for (;;) {
		scan_plain(r);
		if (r->p >= r->end)
			return fail(r, "unterminated string");
		if (*r->p == '"')
			break;
		if ((unsigned char)*r->p < 0x20)
			return fail(r, "control character in string");
		/* backslash */
		*esc = 1;
		if (r->end - r->p < 2)
			return fail(r, "unterminated string");
		switch (r->p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			r->p += 2;
			break;
		case 'u':
			if (r->end - r->p < 6)
				return fail(r, "truncated \\u escape");
			for (int i = 2; i < 6; i++)
				if (hexval(r->p[i]) < 0)
					return fail(r, "bad \\u escape");
			r->p += 6;
			break;
		default:
			return fail(r, "bad escape in string");
		}
	}
	r->p++;
	*tok = s;
	*toklen = (size_t)(r->p - s);
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static unsigned hex4(const char *p)
{
	return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 |
			  hexval(p[3]));
}

/* Decodes a validated string token into out (room for toklen bytes is
 * enough: no escape grows). Lone surrogates become U+FFFD, as in Go. */
static size_t decode_string(const char *tok, size_t toklen, char *out)
{
	const char *p = tok + 1, *e = tok + toklen - 1;
	size_t n = 0;

	while (p < e) {
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			unsigned cp = hex4(p + 2);
			p += 6;
			if (cp >= 0xd800 && cp < 0xdc00 && e - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u') {
				unsigned lo = hex4(p + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			n += put_utf8(out + n, cp);
			continue;
		}
		default:
			out[n++] = p[1];
			break;
		}
		p += 2;
	}
	return n;
}

static int skip_value(struct rd *r);

static int read_number(struct rd *r)
{
	const char *p = r->p;

	if (p < r->end && *p == '-')
		p++;
	if (p >= r->end)
		return fail(r, "bad number");
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return fail(r, "bad number");
	}
	if (p < r->end && *p == '.') {
		p++;
		if (p >= r->end || *p < '0' || *p > '9')
			return fail(r, "bad number");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= r->end || *p < '0' || *p > '9')
			return fail(r, "bad number");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	r->p = p;
	return 0;
}

static int literal(struct rd *r, const char *lit, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return fail(r, "invalid literal");
	r->p += n;
	return 0;
}

static int is_null(struct rd *r)
{
	ws(r);
	if (r->end - r->p >= 4 && memcmp(r->p, "null", 4) == 0) {
		r->p += 4;
		return 1;
	}
	return 0;
}

static int enter(struct rd *r, char open)
{
	ws(r);
	if (r->p >= r->end || *r->p != open)
		return fail(r, open == '{' ? "expected object" : "expected array");
	if (++r->depth > NS_EXTJSON_MAX_DEPTH)
		return fail(r, "nesting too deep");
	r->p++;
	return 0;
}

/* One step of object or array iteration, n members read so far: 0 after
 * the closing bracket, 1 with r->p past any ',' at the next member, or
 * -EINVAL. */
static int list_step(struct rd *r, int n, char close, const char *unterminated, const char *bad_sep)
{
	ws(r);
	if (r->p >= r->end)
		return fail(r, unterminated);
	if (*r->p == close) {
		r->p++;
		r->depth--;
		return 0;
	}
	if (n) {
		if (*r->p != ',')
			return fail(r, bad_sep);
		r->p++;
		ws(r);
	}
	return 1;
}

/* Opens a value that may be null: 0 for null (nothing to read), 1 inside
 * the object or array, or -EINVAL with what as the error. */
static int enter_nullable(struct rd *r, char open, const char *what)
{
	if (is_null(r))
		return 0;
	if (enter(r, open) < 0)
		return fail(r, what);
	return 1;
}

/* Object iteration: *n counts members so far. Returns 1 with the key token
 * and r->p at the value, 0 after the closing brace, or -EINVAL. */
static int obj_next(struct rd *r, int *n, const char **key, size_t *klen, int *kesc)
{
	int rc = list_step(r, *n, '}', "unterminated object", "expected ',' or '}'");

	if (rc <= 0)
		return rc;
	if (r->p >= r->end || *r->p != '"')
		return fail(r, "expected object key");
	if (read_string(r, key, klen, kesc) < 0 || expect(r, ':', "expected ':'") < 0)
		return -EINVAL;
	ws(r);
	(*n)++;
	return 1;
}

/* Array iteration: returns 1 with r->p at the next element, 0 after ']'. */
static int arr_next(struct rd *r, int *n)
{
	int rc = list_step(r, *n, ']', "unterminated array", "expected ',' or ']'");

	if (rc <= 0)
		return rc;
	if (*n && r->p < r->end && *r->p == ']')
		return fail(r, "trailing comma");
	(*n)++;
	return 1;
}

static int skip_value(struct rd *r)
{
	const char *tok, *k;
	size_t tl, kl;
	int esc, n = 0, rc;

	ws(r);
	if (r->p >= r->end)
		return fail(r, "unexpected end of input");
	switch (*r->p) {
	case '{':
		if (enter(r, '{') < 0)
			return -EINVAL;
		while ((rc = obj_next(r, &n, &k, &kl, &esc)) == 1)
			if (skip_value(r) < 0)
				return -EINVAL;
		return rc;
	case '[':
		if (enter(r, '[') < 0)
			return -EINVAL;
		while ((rc = arr_next(r, &n)) == 1)
			if (skip_value(r) < 0)
				return -EINVAL;
		return rc;
	case '"':
		return read_string(r, &tok, &tl, &esc);
	case 't':
		return literal(r, "true", 4);
	case 'f':
		return literal(r, "false", 5);
	case 'n':
		return literal(r, "null", 4);
	default:
		return read_number(r);
	}
}

/* Compares a key token with name; struct fields match case-insensitively
 * as Go's encoding/json does, map keys (labels, resources) exactly. */
static int key_is(const char *tok, size_t tl, int esc, const char *name, int ci)
{
	char buf[64];
	const char *s = tok + 1;
	size_t n = tl - 2, want = strlen(name);

	if (esc) {
		if (tl > sizeof(buf))
			return 0;
		n = decode_string(tok, tl, buf);
		s = buf;
	}
	if (n != want)
		return 0;
	return ci ? strncasecmp(s, name, n) == 0 : memcmp(s, name, n) == 0;
}

static int read_str_value(struct rd *r, const char **tok, size_t *tl, int *esc, const char *what)
{
	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return fail(r, what);
	return read_string(r, tok, tl, esc);
}

/* Decoded view of a string token: in place when it has no escapes. */
static int str_view(struct rd *r, const char *tok, size_t tl, int esc, const char **s, size_t *n)
{
	struct ns_ext_args *a = r->a;

	if (!esc) {
		*s = tok + 1;
		*n = tl - 2;
		return 0;
	}
	if (!a->arena || a->arena_cap < (size_t)(r->end - r->base)) {
		/* One allocation the size of the body holds every decoded string,
		 * so earlier pointers never move. */
		free(a->arena);
		a->arena_cap = (size_t)(r->end - r->base);
		a->arena = malloc(a->arena_cap);
		if (!a->arena) {
			a->arena_cap = 0;
			snprintf(a->err, sizeof(a->err), "out of memory");
			return -ENOMEM;
		}
	}
	*s = a->arena + a->arena_len;
	*n = decode_string(tok, tl, a->arena + a->arena_len);
	a->arena_len += *n;
	return 0;
}

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
