/* handlers.h: every request handler, one section per file. Only src/http/router.c includes this. */
#ifndef TB_HANDLERS_H
#define TB_HANDLERS_H

struct req;

/* h_health.c */
void h_healthz(struct req *r);
void h_readyz(struct req *r);
void h_metrics(struct req *r);

/* -- features add their sections below, one per file -- */

/* h_webhook.c: POST /webhook/toggl/{token} (Toggl webhook deliveries) */
void h_webhook_toggl(struct req *r);

#endif
