/* toggl.h: the Toggl Track client (API v9, Webhooks v1, Reports v3) on top of http_client. It knows the
 * wire: Basic auth "<token>:api_token", plain-text error sentences, the quota headers and what each status
 * means. It classifies every answer, keeps the quota of each budget (the user-scoped one and one per
 * organisation), and waits inline (quota reset, 429 backoff, 5xx with jitter) only up to max_wait_s: past
 * that it returns the classification with retry_after_s, and the caller (a job) retries later. */
#ifndef TB_API_TOGGL_H
#define TB_API_TOGGL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/http_client.h"
#include "util/limits.h"

/* What an answer means for the caller. */
enum api_toggl_res {
	API_TOGGL_OK = 0,
	API_TOGGL_QUOTA,        /* 402 with quota headers: the budget is used up; retry after retry_after_s */
	API_TOGGL_PAID,         /* 402 without quota headers: the plan lacks the feature; never retry */
	API_TOGGL_RATE,         /* 429: back off retry_after_s (>= 60 s, doubling per 429 in a row, jittered) */
	API_TOGGL_UNAVAILABLE,  /* 5xx, or no answer at all: retry after retry_after_s (jittered) */
	API_TOGGL_AUTH,         /* 403: the token is wrong, reset or lost access; the user must fix it */
	API_TOGGL_NOT_FOUND,    /* 404 */
	API_TOGGL_REJECTED,     /* 400 and the other 4xx: our request is wrong; err holds Toggl's sentence */
	API_TOGGL_GONE,         /* 410: the endpoint is retired; do not call it again */
	API_TOGGL_BAD_ANSWER,   /* a 2xx whose body is not what the API documents */
	API_TOGGL__MAX
};

/* Is the result worth retrying later (quota, 429, 5xx)? */
#define API_TOGGL_TRANSIENT(r) ((r) == API_TOGGL_QUOTA || (r) == API_TOGGL_RATE || (r) == API_TOGGL_UNAVAILABLE)

#define API_TOGGL_BUCKET_LEN 40   /* "user" or "org:<id>" or "ws:<id>" */
#define API_TOGGL_BUCKETS    16   /* budgets tracked per client; the oldest is forgotten beyond */
#define API_TOGGL_ORGS       64   /* workspace -> organisation pairs a client knows */

/* One quota budget as the last answer of its scope described it. */
struct api_toggl_bucket {
	char     name[API_TOGGL_BUCKET_LEN];  /* "user": the user-scoped 30/hour; "org:N"; "ws:W" (org unknown) */
	int64_t  organization_id;             /* 0 for "user" and "ws:" */
	long     remaining;                   /* X-Toggl-Quota-Remaining (may be negative when not enforced) */
	int64_t  resets_at_ms;                /* wall clock: now + X-Toggl-Quota-Resets-In */
};

struct api_toggl;

/* Hooks. on_wait is called before each inline wait with a sentence saying why and for how long; a
 * non-zero return cancels the wait (the call returns its classification). on_quota is called after every
 * answer that carried quota headers. Either may be NULL. */
typedef int  (*api_toggl_wait_fn)(void *arg, const char *why, double seconds);
typedef void (*api_toggl_quota_fn)(void *arg, const struct api_toggl_bucket *b);

struct api_toggl {
	struct http_client *http;            /* borrowed */
	char               *base;            /* owned: TIMEBRIDGE_TOGGL_URL without a trailing slash */
	char               *token;           /* owned, wiped by api_toggl_free() */
	const char         *log_ctx;         /* "job 42", "cli"; may be NULL */
	double              max_wait_s;      /* total inline waiting allowed per call (0: never wait) */
	api_toggl_wait_fn   on_wait;
	api_toggl_quota_fn  on_quota;
	void               *hook_arg;

	struct api_toggl_bucket buckets[API_TOGGL_BUCKETS];
	size_t              nbuckets;
	struct { int64_t wid, org; } orgs[API_TOGGL_ORGS];
	size_t              norgs;

	/* The last call. */
	enum api_toggl_res  res;
	long                status;          /* HTTP status, 0 when none arrived */
	char                err[LIMIT_TOGGL_ERROR_TEXT * 4 + 300]; /* one line for the user, "" after success */
	double              retry_after_s;   /* for the transient results */
	long                next_row;        /* X-Next-Row-Number of a reports answer, 0 when absent */
	int                 user_scoped;     /* the last call was user-scoped (/me...): a 403 there is the token */
	/* Running totals, for summaries and tests. */
	int                 rate_strikes;    /* 429s in a row: the exponent of the next backoff */
	long                requests;        /* HTTP requests sent */
	long                waits;           /* inline waits done */
	double              waited_s;
};

/* Set up t (zeroed first) on http with base and token (both copied). 0, or -1 when out of memory or the
 * token is empty, longer than LIMIT_TOGGL_TOKEN_MAX or holds characters a token never has. */
int  api_toggl_init(struct api_toggl *t, struct http_client *http, const char *base, const char *token)
	__attribute__((warn_unused_result));
void api_toggl_free(struct api_toggl *t);
/* Tell the client which organisation workspace wid belongs to, so its quota lands in the right budget. */
void api_toggl_set_org(struct api_toggl *t, int64_t wid, int64_t org);
/* Seed a budget known from an earlier run (the database), so a new client does not spend a request to
 * learn that the budget is empty. */
void api_toggl_seed_bucket(struct api_toggl *t, const struct api_toggl_bucket *b);

/* ---- API v9. Each returns the classification (also in t->res); on API_TOGGL_OK *out is a new reference
 * (an array for listings: a JSON null body counts as an empty array), else NULL. ---- */
enum api_toggl_res api_toggl_me(struct api_toggl *t, json_t **out) __attribute__((warn_unused_result));
enum api_toggl_res api_toggl_organizations(struct api_toggl *t, json_t **out) __attribute__((warn_unused_result));
enum api_toggl_res api_toggl_workspaces(struct api_toggl *t, json_t **out) __attribute__((warn_unused_result));
/* One page (1-based) of a workspace's projects, active and archived; per_page <= LIMIT_TOGGL_PER_PAGE. */
enum api_toggl_res api_toggl_projects(struct api_toggl *t, int64_t wid, int page, int per_page, json_t **out)
	__attribute__((warn_unused_result));
enum api_toggl_res api_toggl_clients(struct api_toggl *t, int64_t wid, json_t **out)
	__attribute__((warn_unused_result));
enum api_toggl_res api_toggl_tags(struct api_toggl *t, int64_t wid, int page, int per_page, json_t **out)
	__attribute__((warn_unused_result));

/* GET /me/time_entries. since > 0: entries changed since then (unix s), deleted ones included. start <
 * end (unix s, both > 0): entries whose start is in the window. Either, both or neither. At most
 * LIMIT_TOGGL_ENTRIES_CAP rows come back, newest start first. */
struct api_toggl_entries_query {
	int64_t since;
	int64_t start, end;
};
enum api_toggl_res api_toggl_time_entries(struct api_toggl *t, const struct api_toggl_entries_query *q,
    json_t **out) __attribute__((warn_unused_result));

/* GET /me/time_entries/{id}: API_TOGGL_NOT_FOUND when it was deleted (or is not the user's). */
enum api_toggl_res api_toggl_time_entry(struct api_toggl *t, int64_t id, json_t **out)
	__attribute__((warn_unused_result));

/* ---- Webhooks v1 ---- */
enum api_toggl_res api_toggl_subscriptions(struct api_toggl *t, int64_t wid, json_t **out)
	__attribute__((warn_unused_result));
/* body: {"url_callback", "event_filters", "enabled", "description", "secret"}. Toggl pings the callback
 * before it answers. */
enum api_toggl_res api_toggl_subscription_create(struct api_toggl *t, int64_t wid, const json_t *body,
    json_t **out) __attribute__((warn_unused_result));
enum api_toggl_res api_toggl_subscription_update(struct api_toggl *t, int64_t wid, int64_t sid,
    const json_t *body, json_t **out) __attribute__((warn_unused_result));
enum api_toggl_res api_toggl_subscription_enable(struct api_toggl *t, int64_t wid, int64_t sid, int enabled,
    json_t **out) __attribute__((warn_unused_result));
enum api_toggl_res api_toggl_subscription_delete(struct api_toggl *t, int64_t wid, int64_t sid)
	__attribute__((warn_unused_result));
enum api_toggl_res api_toggl_subscription_ping(struct api_toggl *t, int64_t wid, int64_t sid)
	__attribute__((warn_unused_result));
/* GET /limits/{wid}. */
enum api_toggl_res api_toggl_limits(struct api_toggl *t, int64_t wid, long *max_webhooks, long *max_events)
	__attribute__((warn_unused_result));

/* ---- Reports v3: POST /workspace/{wid}/search/time_entries (detailed). body is the search object; the
 * next page starts at t->next_row (0: this was the last page). ---- */
enum api_toggl_res api_toggl_reports_search(struct api_toggl *t, int64_t wid, const json_t *body, json_t **out)
	__attribute__((warn_unused_result));

/* ---- Pure helpers (unit-tested, fuzzed) ---- */
const char *api_toggl_strerror(enum api_toggl_res r);
/* What a status means, given whether the answer carried both quota headers. */
enum api_toggl_res api_toggl_classify(long status, int has_quota_headers);
/* Parse the two quota header values (either may be NULL). 0 when both are present and well-formed
 * integers (remaining may be negative, resets_in must be >= 0), else -1 and the outputs are untouched. */
int    api_toggl_quota_parse(const char *remaining, const char *resets_in, long *rem, long *resets_in_s)
	__attribute__((warn_unused_result));
/* 429 backoff: LIMIT_TOGGL_RATE_BACKOFF_MIN_S doubling per strike (1 = the first 429), capped at
 * LIMIT_TOGGL_RATE_BACKOFF_MAX_S, times 1 + u/2 for jitter (u in [0, 1)): never below the minimum. */
double api_toggl_backoff_rate(int strikes, double u);
/* 5xx backoff: LIMIT_TOGGL_5XX_BACKOFF_S doubling per attempt, capped, full jitter over the upper half. */
double api_toggl_backoff_5xx(int attempt, double u);
/* Toggl's error body as one printable line of at most LIMIT_TOGGL_ERROR_TEXT chars into out: plain text
 * as is, a JSON string unquoted, a JSON object's "message"/"error"; control characters become spaces. */
void   api_toggl_error_text(const char *body, size_t len, char *out, size_t outsz);
/* Parse X-Next-Row-Number: a positive integer, else 0. */
long   api_toggl_next_row(const char *value);

#endif
