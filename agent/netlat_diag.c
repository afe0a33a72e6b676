// SPDX-License-Identifier: MIT
/* sock_diag fallback: libmnl dump of tcp_info for established TCP sockets
 * (IPv4 and IPv6) of the caller's network namespace. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include "nodescore/clock.h"
#include "nodescore/lathist.h"
#include "nodescore/log.h"
#include "netlat_int.h"

/* include/net/tcp_states.h is not uapi: TCP_ESTABLISHED is state 1. */
#define DIAG_TCP_ESTABLISHED 1
/* Bounds the memory a node with a huge socket count can make us use. */
#define DIAG_MAX_SOCKS 65536
#define DIAG_RCVBUF (32 * 1024)

struct sockent {
	uint64_t cookie;
	uint32_t retrans; /* tcpi_total_retrans */
};

struct ns_netlat_diag {
	struct mnl_socket *nl;
	unsigned int portid;
	unsigned int seq;
	struct sockent *prev, *cur;
	size_t nprev, ncur;
	uint32_t *rtts;
	size_t nrtts;
	int truncated;
	uint64_t last_ns;
	char buf[DIAG_RCVBUF];
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	/* Unknown attributes are newer kernels talking: ignore, do not fail. */
	if (mnl_attr_type_valid(attr, INET_DIAG_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ns_netlat_diag *d = data;
	const struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
	const struct inet_diag_msg *msg;
	struct tcp_info ti;
	size_t len;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*msg))
		return MNL_CB_OK;
	msg = mnl_nlmsg_get_payload(nlh);
	if (msg->idiag_state != DIAG_TCP_ESTABLISHED)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*msg), attr_cb, tb) < 0)
		return MNL_CB_OK;
	if (!tb[INET_DIAG_INFO])
		return MNL_CB_OK;
	len = mnl_attr_get_payload_len(tb[INET_DIAG_INFO]);
	/* Older kernels send a shorter tcp_info; we need up to total_retrans. */
	if (len < offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(ti.tcpi_total_retrans))
		return MNL_CB_OK;
	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, mnl_attr_get_payload(tb[INET_DIAG_INFO]), len < sizeof(ti) ? len : sizeof(ti));
	if (d->ncur >= DIAG_MAX_SOCKS) {
		d->truncated = 1;
		return MNL_CB_OK;
	}
	d->cur[d->ncur].cookie =
	    (uint64_t)msg->id.idiag_cookie[0] | (uint64_t)msg->id.idiag_cookie[1] << 32;
	d->cur[d->ncur].retrans = ti.tcpi_total_retrans;
	d->ncur++;
	/* tcpi_rtt is 0 until the first RTT sample: not a measurement. */
	if (ti.tcpi_rtt)
		d->rtts[d->nrtts++] = ti.tcpi_rtt;
	return MNL_CB_OK;
}

static int dump_family(struct ns_netlat_diag *d, uint8_t family)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);
	struct inet_diag_req_v2 *req;
	unsigned int seq = ++d->seq;
	ssize_t n;
	int ret;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = 1u << DIAG_TCP_ESTABLISHED;
	req->idiag_ext = 1u << (INET_DIAG_INFO - 1);
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* The kernel ends every dump with NLMSG_DONE; SO_RCVTIMEO bounds the wait. */
	for (;;) {
		n = mnl_socket_recvfrom(d->nl, d->buf, sizeof(d->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(d->buf, (size_t)n, seq, d->portid, msg_cb, d);
		if (ret < 0)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int cmp_cookie(const void *a, const void *b)
{
	uint64_t x = ((const struct sockent *)a)->cookie, y = ((const struct sockent *)b)->cookie;

	return (x > y) - (x < y);
}

/* One dump of both families into cur/rtts. */
static int dump(struct ns_netlat_diag *d)
{
	int err;

	d->ncur = 0;
	d->nrtts = 0;
	d->truncated = 0;
	err = dump_family(d, AF_INET);
	if (err)
		return err;
	/* No IPv6 in the kernel is not an error for the IPv4 figures. */
	err = dump_family(d, AF_INET6);
	if (err && err != -ENOENT && err != -EAFNOSUPPORT)
		return err;
	if (d->truncated)
		log_warning("netlat", "sock_diag: too many sockets, counting the first max=%d",
			    DIAG_MAX_SOCKS);
	qsort(d->cur, d->ncur, sizeof(*d->cur), cmp_cookie);
	return 0;
}

/* Retransmits since the previous dump: per socket (by cookie), so closed
 * sockets do not make the total go backwards. A socket new since the
 * previous dump contributes all its retransmits. */
static uint64_t retrans_delta(const struct ns_netlat_diag *d)
{
	uint64_t sum = 0;
	size_t j = 0;

	for (size_t i = 0; i < d->ncur; i++) {
		const struct sockent *c = &d->cur[i];

		while (j < d->nprev && d->prev[j].cookie < c->cookie)
			j++;
		if (j < d->nprev && d->prev[j].cookie == c->cookie) {
			if (c->retrans > d->prev[j].retrans)
				sum += c->retrans - d->prev[j].retrans;
		} else {
			sum += c->retrans;
		}
	}
	return sum;
}

int ns_netlat_diag_open(struct ns_netlat_diag **out)
{
	struct ns_netlat_diag *d;
	struct timeval tv = {.tv_sec = 2};
	int err;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->prev = calloc(DIAG_MAX_SOCKS, sizeof(*d->prev));
	d->cur = calloc(DIAG_MAX_SOCKS, sizeof(*d->cur));
	d->rtts = calloc(DIAG_MAX_SOCKS, sizeof(*d->rtts));
	if (!d->prev || !d->cur || !d->rtts) {
		err = -ENOMEM;
		goto cleanup;
	}
	d->nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!d->nl) {
		err = -errno;
		log_error_errno("netlat", "sock_diag: netlink socket failed");
		goto cleanup;
	}
	if (setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		log_error_errno("netlat", "sock_diag: netlink setup failed");
		goto cleanup;
	}
	d->portid = mnl_socket_get_portid(d->nl);
	err = dump(d);
	if (err) {
		errno = -err;
		log_error_errno("netlat", "sock_diag: first dump failed");
		goto cleanup;
	}
	/* Baseline: the first read reports retransmits since now. */
	memcpy(d->prev, d->cur, d->ncur * sizeof(*d->cur));
	d->nprev = d->ncur;
	d->last_ns = ns_mono_ns();
	*out = d;
	return 0;
cleanup:
	ns_netlat_diag_close(d);
	return err;
}

int ns_netlat_diag_read(struct ns_netlat_diag *d, struct ns_netlat_stats *st)
{
	struct sockent *tmp;
	uint64_t now;
	int err;

	st->p50_us = st->p99_us = NAN;
	st->nsocks = st->retrans = 0;
	st->interval_s = 0;
	err = dump(d);
	if (err)
		return err;
	now = ns_mono_ns();
	st->interval_s = (double)(now - d->last_ns) / 1e9;
	d->last_ns = now;
	st->retrans = retrans_delta(d);
	ns_lat_sort_u32(d->rtts, d->nrtts);
	st->nsocks = d->nrtts;
	st->p50_us = ns_lat_quantile_u32(d->rtts, d->nrtts, 0.50);
	st->p99_us = ns_lat_quantile_u32(d->rtts, d->nrtts, 0.99);
	tmp = d->prev;
	d->prev = d->cur;
	d->cur = tmp;
	d->nprev = d->ncur;
	return 0;
}

void ns_netlat_diag_close(struct ns_netlat_diag *d)
{
	if (!d)
		return;
	if (d->nl)
		mnl_socket_close(d->nl);
	free(d->prev);
	free(d->cur);
	free(d->rtts);
	free(d);
}
