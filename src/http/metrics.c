/* metrics.c: request counts by route and status, a latency histogram, webhook results. Per process:
 * Prometheus scrapes each FastCGI instance, which is how several hosts add up. */
#include "config.h"

#include <stdatomic.h>

#include "http/http.h"
#include "http/metrics.h"

/* Statuses we emit get their own slot; anything else counts as "other". */
static const int status_slots[] = { 200, 201, 204, 302, 303, 304, 400, 401, 403, 404, 405, 409, 410, 413,
	414, 415, 422, 429, 500, 502, 503, 504 };
#define NSTATUS (sizeof(status_slots) / sizeof(status_slots[0]) + 1)
#define MAX_ROUTES 128

/* Upper bounds of the latency buckets, in microseconds. */
static const int64_t bucket_us[] = { 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000 };
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

static atomic_ulong req_count[MAX_ROUTES + 1][NSTATUS];
static atomic_ulong lat_bucket[NBUCKETS + 1];
static atomic_ullong lat_sum_us;
static atomic_ulong lat_count;
static atomic_ulong webhook_count[WEBHOOK__MAX];
static atomic_ulong batch_count, batch_events, batch_splits;

static const char *const webhook_names[WEBHOOK__MAX] = {
	"accepted", "duplicate", "stale", "ping", "ignored", "unknown_token", "too_large", "bad_signature",
	"bad_json", "db_error",
};

static size_t
status_slot(int status)
{
	for (size_t i = 0; i + 1 < NSTATUS; i++)
		if (status_slots[i] == status)
			return i;
	return NSTATUS - 1;
}

void
metrics_request(size_t route, int status, int64_t us)
{
	size_t b = 0;

	if (route > MAX_ROUTES)
		route = MAX_ROUTES;
	atomic_fetch_add_explicit(&req_count[route][status_slot(status)], 1, memory_order_relaxed);
	while (b < NBUCKETS && us > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&lat_bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_sum_us, (unsigned long long)(us > 0 ? us : 0), memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_count, 1, memory_order_relaxed);
}

void
metrics_webhook(enum webhook_result res)
{
	if (res < WEBHOOK__MAX)
		atomic_fetch_add_explicit(&webhook_count[res], 1, memory_order_relaxed);
}

void
metrics_webhook_batch(int n, int split)
{
	atomic_fetch_add_explicit(&batch_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&batch_events, (unsigned long)n, memory_order_relaxed);
	if (split)
		atomic_fetch_add_explicit(&batch_splits, 1, memory_order_relaxed);
}

void
metrics_render(struct buf *out)
{
	size_t nroutes = http_route_count();
	unsigned long cum = 0, v;

	buf_puts(out, "# HELP timebridge_http_requests_total Requests answered, by route and status.\n"
	    "# TYPE timebridge_http_requests_total counter\n");
	for (size_t r = 0; r <= nroutes && r <= MAX_ROUTES; r++)
		for (size_t s = 0; s < NSTATUS; s++) {
			if ((v = atomic_load_explicit(&req_count[r][s], memory_order_relaxed)) == 0)
				continue;
			if (s + 1 < NSTATUS)
				buf_printf(out, "timebridge_http_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
				    http_route_name_at(r), status_slots[s], v);
			else
				buf_printf(out, "timebridge_http_requests_total{route=\"%s\",status=\"other\"} %lu\n",
				    http_route_name_at(r), v);
		}
	buf_puts(out, "# HELP timebridge_http_request_duration_seconds Time from request start to response.\n"
	    "# TYPE timebridge_http_request_duration_seconds histogram\n");
	for (size_t b = 0; b <= NBUCKETS; b++) {
		cum += atomic_load_explicit(&lat_bucket[b], memory_order_relaxed);
		if (b < NBUCKETS)
			buf_printf(out, "timebridge_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
			    (double)bucket_us[b] / 1e6, cum);
		else
			buf_printf(out, "timebridge_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
	}
	buf_printf(out, "timebridge_http_request_duration_seconds_sum %.6f\n",
	    (double)atomic_load_explicit(&lat_sum_us, memory_order_relaxed) / 1e6);
	buf_printf(out, "timebridge_http_request_duration_seconds_count %lu\n",
	    atomic_load_explicit(&lat_count, memory_order_relaxed));
	buf_puts(out, "# HELP timebridge_webhook_events_total Toggl webhook deliveries, by result.\n"
	    "# TYPE timebridge_webhook_events_total counter\n");
	for (size_t i = 0; i < WEBHOOK__MAX; i++)
		buf_printf(out, "timebridge_webhook_events_total{result=\"%s\"} %lu\n", webhook_names[i],
		    atomic_load_explicit(&webhook_count[i], memory_order_relaxed));
	buf_printf(out, "# HELP timebridge_webhook_batches_total Group commits of webhook entry upserts.\n"
	    "# TYPE timebridge_webhook_batches_total counter\ntimebridge_webhook_batches_total %lu\n"
	    "# HELP timebridge_webhook_batched_events_total Entry upserts committed in those batches.\n"
	    "# TYPE timebridge_webhook_batched_events_total counter\ntimebridge_webhook_batched_events_total %lu\n"
	    "# HELP timebridge_webhook_batch_splits_total Batches that failed and ran their events one by one.\n"
	    "# TYPE timebridge_webhook_batch_splits_total counter\ntimebridge_webhook_batch_splits_total %lu\n",
	    atomic_load_explicit(&batch_count, memory_order_relaxed),
	    atomic_load_explicit(&batch_events, memory_order_relaxed),
	    atomic_load_explicit(&batch_splits, memory_order_relaxed));
}
