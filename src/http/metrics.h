/* metrics.h: process-wide counters for GET /metrics (Prometheus text format). Lock-free atomics, so the
 * request threads never wait on each other to count. */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stdint.h>

#include "util/buf.h"

enum webhook_result {
	WEBHOOK_ACCEPTED = 0,   /* a new event stored */
	WEBHOOK_DUPLICATE,      /* seen before: 200, nothing changed */
	WEBHOOK_STALE,          /* older than what we have: 200, nothing changed */
	WEBHOOK_PING,
	WEBHOOK_IGNORED,        /* unknown model/action, or another user's entry */
	WEBHOOK_UNKNOWN_TOKEN,  /* 404 */
	WEBHOOK_TOO_LARGE,      /* 413 */
	WEBHOOK_BAD_SIGNATURE,  /* 401 */
	WEBHOOK_BAD_JSON,       /* 400 */
	WEBHOOK_DB_ERROR,       /* 503 */
	WEBHOOK__MAX
};

/* route: index from http_route_index(); status: the HTTP status; us: time taken. */
void metrics_request(size_t route, int status, int64_t us);
void metrics_webhook(enum webhook_result res);
/* A group-committed batch of n entry upserts; split: it failed and its events ran one by one. */
void metrics_webhook_batch(int n, int split);
/* Append the process counters in Prometheus text format. */
void metrics_render(struct buf *out);

#endif
