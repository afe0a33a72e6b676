// SPDX-License-Identifier: MIT
/* nanomsg SUB receive loop: verify, replay-check and store score messages. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "nodescore/clock.h"
#include "nodescore/extsub.h"
#include "nodescore/log.h"

/* Poll timeout: how quickly the thread notices a stop request. */
#define SUB_POLL_MS 100
/* nanomsg closes a connection that sends a larger frame (uncounted: it
 * happens inside nanomsg), so garbage cannot make us buffer megabytes.
 * Frames up to this size are received, counted as bad_length and the
 * connection kept; real messages are at most NS_WIRE_MAX_LEN. */
#define SUB_RCVMAXSIZE 65536
/* Niceness of the receive thread: a fleet publishing in step arrives as a
 * burst, and the scheduler's requests should not queue behind it on a
 * small control-plane node. The table still gets its CPU share. */
#define SUB_NICE 5
/* Inbound queue: a second of 10,000 nodes at ~110 B with room for bursts. */
#define SUB_RCVBUF (4 << 20)

struct ns_extsub {
	int sock;
	int rcvfd;
	pthread_t thread;
	atomic_int stop;
	struct ns_table *t;
	const struct ns_key *key;
	uint64_t skew_ms;
};

static void *sub_loop(void *arg)
{
	struct ns_extsub *s = arg;
	/* One byte more than a valid message so oversize frames are detectable. */
	uint8_t buf[NS_WIRE_MAX_LEN + 1];
	struct pollfd pfd = {.fd = s->rcvfd, .events = POLLIN};

	/* Per-thread on Linux; failure only loses the preference. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), SUB_NICE) < 0)
		log_warning_errno("subscriber", "cannot lower receive thread priority");
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		int rc = poll(&pfd, 1, SUB_POLL_MS);
		if (rc < 0 && errno != EINTR) {
			log_error_errno("subscriber", "poll failed");
			break;
		}
		if (rc <= 0)
			continue;
		/* Drain everything queued; the fd is level-ish (signalled while
		 * messages are pending), so stop on EAGAIN. */
		for (;;) {
			int n = nn_recv(s->sock, buf, sizeof(buf), NN_DONTWAIT);
			if (n < 0) {
				if (nn_errno() != EAGAIN && nn_errno() != EINTR &&
				    nn_errno() != ETERM)
					log_warning("subscriber", "receive failed error=\"%s\"",
						    nn_strerror(nn_errno()));
				break;
			}
			if ((size_t)n >= sizeof(buf)) {
				ns_table_count_reject(s->t, NS_WIRE_ERR_LENGTH);
				continue;
			}
			ns_table_ingest(s->t, buf, (size_t)n, s->key->bytes, s->key->len,
					ns_now_ms(), ns_mono_ns() / 1000000u, s->skew_ms);
		}
	}
	return NULL;
}

int ns_extsub_start(const char *url, struct ns_table *t, const struct ns_key *key, uint64_t skew_ms,
		    struct ns_extsub **out, char *err, size_t errlen)
{
	struct ns_extsub *s = calloc(1, sizeof(*s));
	size_t fdlen = sizeof(int);
	int maxsz = SUB_RCVMAXSIZE, rcvbuf = SUB_RCVBUF, e;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->t = t;
	s->key = key;
	s->skew_ms = skew_ms;
	s->sock = nn_socket(AF_SP, NN_SUB);
	if (s->sock < 0) {
		e = nn_errno();
		snprintf(err, errlen, "nn_socket: %s", nn_strerror(e));
		free(s);
		return -e;
	}
	if (nn_setsockopt(s->sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz)) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0 ||
	    nn_getsockopt(s->sock, NN_SOL_SOCKET, NN_RCVFD, &s->rcvfd, &fdlen) < 0) {
		e = nn_errno();
		snprintf(err, errlen, "nanomsg socket options: %s", nn_strerror(e));
		goto fail;
	}
	if (nn_bind(s->sock, url) < 0) {
		e = nn_errno();
		snprintf(err, errlen, "cannot bind scores address=%s: %s", url, nn_strerror(e));
		goto fail;
	}
	e = pthread_create(&s->thread, NULL, sub_loop, s);
	if (e) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	nn_close(s->sock);
	free(s);
	return -e;
}

void ns_extsub_stop(struct ns_extsub *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	nn_close(s->sock);
	free(s);
}
