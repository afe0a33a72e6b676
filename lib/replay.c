// SPDX-License-Identifier: MIT
/* Replay guard: skew window and per-node (nonce, seq) ordering. */
#include "nodescore/replay.h"

enum ns_wire_status ns_replay_check(const struct ns_replay_state *st, const struct ns_msg *msg,
				    uint64_t now_ms, uint64_t skew_ms, uint64_t future_ms)
{
	/* The future bound is what a new epoch can claim: a message dated
	 * now + F locks the node's current agent out for F at most. */
	if (future_ms > skew_ms)
		future_ms = skew_ms;
	if (msg->ts_ms > now_ms ? msg->ts_ms - now_ms > future_ms : now_ms - msg->ts_ms > skew_ms)
		return NS_WIRE_ERR_SKEW;
	if (!st->valid)
		return NS_WIRE_OK;
	if (msg->boot_nonce == st->nonce)
		return msg->seq > st->seq ? NS_WIRE_OK : NS_WIRE_ERR_REPLAY;
	/* A new nonce is an agent restart; only a message newer than anything
	 * accepted may start a new epoch, or old-boot messages could be replayed. */
	return msg->ts_ms > st->ts_ms ? NS_WIRE_OK : NS_WIRE_ERR_REPLAY;
}

void ns_replay_commit(struct ns_replay_state *st, const struct ns_msg *msg)
{
	st->nonce = msg->boot_nonce;
	st->seq = msg->seq;
	st->ts_ms = msg->ts_ms;
	st->valid = 1;
}
