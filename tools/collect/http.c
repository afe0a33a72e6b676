// SPDX-License-Identifier: MIT
/* nodescore-collect: the one HTTP request it makes (libcurl), bounded in
 * time and in reply size, http/https only, no redirects. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "promq.h"

struct sink {
	struct ns_buf *b;
	size_t max;
	int over;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	/* Counted after decompression, so a small gzip reply cannot inflate
	 * past the bound. */
	if (s->b->len + n > s->max) {
		s->over = 1;
		return 0;
	}
	ns_buf_put(s->b, p, n);
	return s->b->oom ? 0 : n;
}

int pq_http_post(const char *url, const char *body, size_t body_len, uint64_t timeout_ms,
		 size_t max, long *http, struct ns_buf *resp, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct sink s = {.b = resp, .max = max};
	CURL *c = curl_easy_init();
	CURLcode rc;

	*http = 0;
	if (!c) {
		snprintf(err, errlen, "libcurl initialisation failed");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < 10000 ? timeout_ms : 10000));
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "nodescore-collect");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
	curl_easy_cleanup(c);
	if (s.over) {
		snprintf(
		    err, errlen,
		    "reply larger than %zu bytes (raise --max-response, or lower --chunk-points "
		    "or the number of nodes)",
		    max);
		return -1;
	}
	if (resp->oom) {
		snprintf(err, errlen, "out of memory reading the reply");
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}
