// SPDX-License-Identifier: MIT
/* Score publisher: nanomsg PUB connected to each extender replica. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "nodescore/log.h"
#include "nodescore/publish.h"

struct ns_publisher {
	int sock;
	size_t nendpoints;
	uint64_t sent, errors;
	int last_errno; /* for one log line per error kind, not per message */
};

int ns_publish_open(const char *endpoints, struct ns_publisher **out, char *err, size_t errlen)
{
	struct ns_publisher *p;
	char buf[4096], *save = NULL, *tok;
	int linger = 0, e;

	*out = NULL;
	if (!endpoints || !*endpoints) {
		snprintf(err, errlen, "no --publish endpoint given");
		return -EINVAL;
	}
	if (strlen(endpoints) >= sizeof(buf)) {
		snprintf(err, errlen, "--publish list too long (max %zu bytes)", sizeof(buf) - 1);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->sock = nn_socket(AF_SP, NN_PUB);
	if (p->sock < 0) {
		e = nn_errno();
		snprintf(err, errlen, "nn_socket(NN_PUB): %s", nn_strerror(e));
		free(p);
		return -e;
	}
	/* Shutdown must not wait for a dead extender to drain. */
	nn_setsockopt(p->sock, NN_SOL_SOCKET, NN_LINGER, &linger, sizeof(linger));
	snprintf(buf, sizeof(buf), "%s", endpoints);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (p->nendpoints == NS_PUBLISH_MAX_ENDPOINTS) {
			snprintf(err, errlen, "too many --publish endpoints (max %d)",
				 NS_PUBLISH_MAX_ENDPOINTS);
			ns_publish_close(p);
			return -E2BIG;
		}
		if (nn_connect(p->sock, tok) < 0) {
			e = nn_errno();
			snprintf(err, errlen, "bad --publish endpoint '%s': %s", tok,
				 nn_strerror(e));
			ns_publish_close(p);
			return -e;
		}
		p->nendpoints++;
	}
	if (p->nendpoints == 0) {
		snprintf(err, errlen, "no --publish endpoint given");
		ns_publish_close(p);
		return -EINVAL;
	}
	*out = p;
	return 0;
}

int ns_publish_send(struct ns_publisher *p, const uint8_t *buf, size_t len)
{
	int n = nn_send(p->sock, buf, len, NN_DONTWAIT);

	if (n < 0) {
		int e = nn_errno();

		p->errors++;
		if (e != p->last_errno)
			log_warning("publish", "send failed error=\"%s\"", nn_strerror(e));
		p->last_errno = e;
		return -e;
	}
	if (p->last_errno)
		log_info("publish", "sending again");
	p->last_errno = 0;
	p->sent++;
	return 0;
}

uint64_t ns_publish_sent(const struct ns_publisher *p)
{
	return p->sent;
}

uint64_t ns_publish_errors(const struct ns_publisher *p)
{
	return p->errors;
}

size_t ns_publish_endpoints(const struct ns_publisher *p)
{
	return p->nendpoints;
}

void ns_publish_close(struct ns_publisher *p)
{
	if (!p)
		return;
	if (p->sock >= 0)
		nn_close(p->sock);
	free(p);
}
