// SPDX-License-Identifier: MIT
/* The status page's HTML escaping (ns_exthttp_html_text), which every node
 * name on the page goes through. Names reaching the table are DNS-1123 today
 * (the wire check refuses anything else, and nodescore-pub will not even send
 * one), so the live page cannot be fed a hostile name: this is where the
 * escaping itself is pinned. tests/statuspage_itest.sh covers the live page. */
#include <stdlib.h>
#include <string.h>

#include "nodescore/buf.h"
#include "nodescore/exthttp.h"
#include "check.h"

static char *esc(const char *s)
{
	struct ns_buf b = {0};
	size_t n;
	char *p;

	ns_exthttp_html_text(&b, s);
	ns_buf_putc(&b, '\0');
	p = ns_buf_take(&b, &n);
	return p;
}

static void test_specials_escaped(void)
{
	char *p = esc("<script>alert('x')</script>&\"");

	CHECK_EQ_STR(p, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
	free(p);
	p = esc("a<b>&c");
	CHECK_EQ_STR(p, "a&lt;b&gt;&amp;c");
	free(p);
}

static void test_dns_names_unchanged(void)
{
	char *p = esc("node-1.zone-a.example");

	CHECK_EQ_STR(p, "node-1.zone-a.example");
	free(p);
	p = esc("");
	CHECK_EQ_STR(p, "");
	free(p);
}

/* No byte of the output may open a tag or an attribute or an entity that
 * the input did not ask for: every '<', '>', '"', '\'' is gone, every '&'
 * starts one of the five entities. */
static void test_every_byte(void)
{
	char in[256], *p;
	int k = 0;

	for (int c = 1; c < 256; c++)
		in[k++] = (char)c;
	in[k] = '\0';
	p = esc(in);
	CHECK(p);
	CHECK(!strchr(p, '<') && !strchr(p, '>') && !strchr(p, '"') && !strchr(p, '\''));
	for (const char *q = p; (q = strchr(q, '&')); q++)
		CHECK(!strncmp(q, "&amp;", 5) || !strncmp(q, "&lt;", 4) || !strncmp(q, "&gt;", 4) ||
		      !strncmp(q, "&quot;", 6) || !strncmp(q, "&#39;", 5));
	CHECK_EQ_INT(strlen(p), 255 - 5 + 5 + 4 + 4 + 6 + 5);
	free(p);
}

int main(void)
{
	RUN(test_specials_escaped);
	RUN(test_dns_names_unchanged);
	RUN(test_every_byte);
	return CHECK_SUMMARY();
}
