/* SPDX-License-Identifier: MIT */
/* The JSON tokenizer under the ExtenderArgs reader (extjson.c): the reader
 * state, whitespace, strings (validated, then decoded on demand), numbers,
 * literals, object/array stepping, skipping a whole value, key matching and
 * decoded string views. Private to extjson.c, which includes it once: the
 * functions stay static so the compiler inlines them on the request path,
 * where a 20 MB body of Node objects is walked byte by byte. */
#ifndef NODESCORE_EXTJSON_TOK_H
#define NODESCORE_EXTJSON_TOK_H

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

struct rd {
	const char *p, *end, *base;
	int depth;
	struct ns_ext_args *a;
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

#endif
