// SPDX-License-Identifier: MIT
/* Strict Kubernetes quantity parser with exact integer arithmetic. */
#include <errno.h>
#include <stdint.h>

#include "nodescore/quantity.h"

#define QTY_MAX_LEN 64
/* Mantissa digits kept exactly; the rest only decide rounding up. */
#define QTY_MAX_DIGITS 19

/* GCC/Clang 128-bit integers (every 64-bit target we build for): a 19-digit
 * mantissa times 2^60 (Ei) is exact, no overflow dance. */
typedef unsigned __int128 u128;

static const u128 U128_MAX = ~(u128)0;

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Suffix -> (power of ten, power of two). */
static int suffix_scale(const char *s, size_t n, int *p10, int *p2)
{
	static const struct {
		const char *sfx;
		int p10, p2;
	} tab[] = {
	    {"m", -3, 0},  {"k", 3, 0},	  {"M", 6, 0},	 {"G", 9, 0},	{"T", 12, 0},
	    {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30},
	    {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
	};

	*p10 = 0;
	*p2 = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t k = 0;
		while (tab[i].sfx[k] && k < n && tab[i].sfx[k] == s[k])
			k++;
		if (!tab[i].sfx[k] && k == n) {
			*p10 = tab[i].p10;
			*p2 = tab[i].p2;
			return 0;
		}
	}
	/* Exponent form; "E" alone was exa above. */
	if (s[0] == 'e' || s[0] == 'E') {
		size_t i = 1;
		int neg = 0, v = 0;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			neg = s[i++] == '-';
		if (i == n)
			return -EINVAL;
		for (; i < n; i++) {
			if (!is_digit(s[i]))
				return -EINVAL;
			if (v > 1000) /* far beyond any int64; keep counting cheaply */
				continue;
			v = v * 10 + (s[i] - '0');
		}
		*p10 = neg ? -v : v;
		return 0;
	}
	return -EINVAL;
}

int ns_quantity_parse(const char *s, size_t len, int scale, int64_t *out)
{
	size_t i = 0, nint = 0, nfrac = 0;
	int neg = 0, p10, p2, sticky = 0, ndig = 0;
	uint64_t m = 0;
	u128 v;

	if (!s || len == 0 || len > QTY_MAX_LEN)
		return -EINVAL;
	if (s[i] == '+' || s[i] == '-')
		neg = s[i++] == '-';
	/* Integer digits beyond the kept precision still scale by ten each. */
	int shift10 = 0;
	for (; i < len && is_digit(s[i]); i++, nint++) {
		if (m == 0 && s[i] == '0')
			continue;
		if (ndig < QTY_MAX_DIGITS) {
			m = m * 10 + (uint64_t)(s[i] - '0');
			ndig++;
		} else {
			sticky |= s[i] != '0';
			shift10++;
		}
	}
	if (i < len && s[i] == '.') {
		i++;
		for (; i < len && is_digit(s[i]); i++, nfrac++) {
			if (m == 0 && s[i] == '0') {
				shift10--;
				continue;
			}
			if (ndig < QTY_MAX_DIGITS) {
				m = m * 10 + (uint64_t)(s[i] - '0');
				ndig++;
				shift10--;
			} else {
				sticky |= s[i] != '0';
			}
		}
	}
	if (nint + nfrac == 0)
		return -EINVAL;
	if (suffix_scale(s + i, len - i, &p10, &p2) < 0)
		return -EINVAL;

	/* value = (m + sticky fraction) * 10^(shift10 + p10 + scale) * 2^p2 */
	long e = (long)shift10 + p10 + scale;
	v = (u128)m << p2; /* m < 2^64, p2 <= 60: fits */
	if (v == 0) {
		*out = 0;
		return 0;
	}
	for (; e > 0; e--) {
		if (v > U128_MAX / 10)
			return -ERANGE;
		v *= 10;
	}
	for (; e < 0 && v > 0; e++) {
		sticky |= v % 10 != 0;
		v /= 10;
	}
	if (sticky)
		v++;
	if (v > (u128)INT64_MAX)
		return -ERANGE;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}
