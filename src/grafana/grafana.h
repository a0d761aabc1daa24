/* grafana.h: the Grafana JSON API's model (what a simPod JSON, SimpleJSON or Infinity request asks for),
 * its tolerant parsers (payload.c, filters.c), bucket planning and time zones (time.c) and the queries
 * that answer it (query.c). src/handlers/h_grafana.c routes to these; the contract is
 * ../shared/docs/grafana-json-api.md. */
#ifndef TB_GRAFANA_H
#define TB_GRAFANA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

struct db;

/* ---- the model ----------------------------------------------------------------------------------- */

enum grafana_metric {
	GRAFANA_M_HOURS = 0,      /* time series of hours */
	GRAFANA_M_ENTRIES,        /* time series of entry counts (an entry counts in the bucket it starts in) */
	GRAFANA_M_BILLABLE_RATIO, /* billable hours / hours, 0..1, null where nothing was tracked */
	GRAFANA_M_EARNINGS,       /* billable hours x project rate, per currency */
	GRAFANA_M_ENTRIES_TABLE,  /* a table of entries */
	GRAFANA_M_RUNNING,        /* the running entries and how long they have run */
	GRAFANA_M_ANNOTATIONS,    /* entries as annotation regions */
	GRAFANA_M__MAX
};

enum grafana_group {
	GRAFANA_G_NONE = 0, GRAFANA_G_PROJECT, GRAFANA_G_CLIENT, GRAFANA_G_TAG, GRAFANA_G_WORKSPACE,
	GRAFANA_G_BILLABLE, GRAFANA_G_DESCRIPTION, GRAFANA_G_USER, GRAFANA_G__MAX
};

/* Bucket units. AUTO picks from intervalMs; ALL is one bucket over the whole range (totals). */
enum grafana_unit {
	GRAFANA_U_AUTO = 0, GRAFANA_U_HOUR, GRAFANA_U_DAY, GRAFANA_U_WEEK, GRAFANA_U_MONTH, GRAFANA_U_ALL,
	GRAFANA_U__MAX
};

/* Response shapes: DataFrame DTOs (default), legacy {target, datapoints} ("timeserie"), legacy tables. */
enum grafana_format { GRAFANA_F_FRAMES = 0, GRAFANA_F_SERIES, GRAFANA_F_TABLE, GRAFANA_F__MAX };

/* What a filter looks at. USER is for admin tokens only. */
enum grafana_key {
	GRAFANA_K_PROJECT = 0, GRAFANA_K_CLIENT, GRAFANA_K_TAG, GRAFANA_K_WORKSPACE, GRAFANA_K_BILLABLE,
	GRAFANA_K_DESCRIPTION, GRAFANA_K_USER, GRAFANA_K__MAX
};

/* Grafana's ad-hoc operators. */
enum grafana_op { GRAFANA_OP_EQ = 0, GRAFANA_OP_NE, GRAFANA_OP_RE, GRAFANA_OP_NRE, GRAFANA_OP_IN, GRAFANA_OP_NIN,
	GRAFANA_OP__MAX };

/* A list of strings, arena-owned. */
struct grafana_strv {
	const char **v;
	size_t       n;
};

struct grafana_filter {
	enum grafana_key key;
	enum grafana_op  op;
	int              ref;       /* from a payload multi-select: each value is an id or a name (op is IN) */
	struct grafana_strv vals;   /* one value except for IN / NIN */
};

struct grafana_filters {
	struct grafana_filter *v;
	size_t                 n, cap;
};

/* One target of /query (or the implied one of /annotations, /variable...). */
struct grafana_target {
	const char            *ref_id;   /* "A"; never NULL */
	const char            *alias;    /* NULL: none; "{{label}}" is replaced by the series label */
	enum grafana_metric    metric;
	enum grafana_group     group;
	enum grafana_unit      unit;
	enum grafana_format    format;
	const char            *tz;       /* payload tz, NULL: none (checked against the database later) */
	struct grafana_strv    users;    /* payload users: ids, e-mails or "me"; empty: the default scope */
	struct grafana_filters filters;  /* from the payload: projects, clients, tags, workspaces, billable */
	long                   limit;    /* rows of a table; 0: LIMIT_GRAFANA_ROWS_DEFAULT */
};

/* A /query (or /annotations, /tag-values...) request as far as the parsers understand it. */
struct grafana_query {
	int64_t                from_ms, to_ms;  /* [from, to); valid when has_range */
	int                    has_range;
	int64_t                interval_ms;     /* 0: none */
	long                   max_points;      /* 0: none */
	const char            *timezone;        /* the request's "timezone", NULL: none */
	int                    annotation;      /* requestId "AQ...": an annotation query */
	struct grafana_filters adhoc;           /* filters / adhocFilters */
	struct grafana_target *targets;
	size_t                 ntargets;
};

/* An answer other than 200: status, a code for Grafana's Save & test, a message for people. */
struct grafana_err {
	int   status;
	const char *code;       /* static: BAD_REQUEST, FORBIDDEN, TIMEOUT, DB_DOWN, INTERNAL */
	char  msg[512];
};

/* Set e and return -1, so that `return grafana_fail(e, ...)` reads well. */
int grafana_fail(struct grafana_err *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Names, for messages, metrics and SQL parameters. Indexes are the enums above. */
extern const char *const grafana_metric_names[GRAFANA_M__MAX];
extern const char *const grafana_group_names[GRAFANA_G__MAX];
extern const char *const grafana_unit_names[GRAFANA_U__MAX];
extern const char *const grafana_key_names[GRAFANA_K__MAX];
extern const char *const grafana_op_names[GRAFANA_OP__MAX];

/* ---- payload.c: tolerant parsing ------------------------------------------------------------------ */

/*
 * Every option is accepted as a string, an array, a number or a boolean; a string may be comma-joined
 * ("a,b") or in Grafana's glob form ("{a,b}"). Out: arena strings, empties dropped, at most
 * LIMIT_GRAFANA_VALUES_MAX values of at most LIMIT_GRAFANA_VALUE_MAX bytes, no NUL. split: split
 * strings on commas (multi-selects); otherwise a string is one value. where names the field in errors
 * ("targets[0].payload.projects"). 0, or -1 with e set (400).
 */
int grafana_json_strv(struct arena *a, json_t *v, int split, const char *where, struct grafana_strv *out,
	struct grafana_err *e) __attribute__((warn_unused_result));

/* A time: RFC 3339 text, epoch milliseconds (number or digits). 0 or -1. */
int grafana_parse_time(json_t *v, int64_t *ms) __attribute__((warn_unused_result));

/* A metric name (case-insensitive, a few aliases) → its index, or -1. */
int grafana_metric_parse(const char *s);

/* The payload object of one target (also the variable editor's JSON and /annotations' query) into t.
 * Unknown keys are ignored. where prefixes messages. 0 or -1 with e set. */
int grafana_parse_payload(struct arena *a, json_t *payload, const char *where, struct grafana_target *t,
	struct grafana_err *e) __attribute__((warn_unused_result));

/* A whole /query body: range, intervalMs, maxDataPoints, timezone, filters/adhocFilters and targets
 * (hidden ones and ones without a metric dropped; `data` is an alias of `payload`, `type` picks the
 * legacy shapes). need_range: a missing range is an error; admin: the filter key "user" is allowed.
 * 0 or -1 with e set. */
int grafana_parse_query(struct arena *a, json_t *body, int need_range, int admin, struct grafana_query *q,
	struct grafana_err *e) __attribute__((warn_unused_result));

/* Only the range ("range" or Grafana 10's "timeRange" of tag requests); absent is fine (has_range 0). */
int grafana_parse_range(json_t *body, struct grafana_query *q, struct grafana_err *e)
	__attribute__((warn_unused_result));

/* ---- filters.c ------------------------------------------------------------------------------------ */

/* Grafana's ad-hoc filters (an array of {key, operator, value, values}) appended to out. admin: the key
 * "user" is allowed (403 otherwise). 0 or -1 with e set. */
int grafana_parse_adhoc(struct arena *a, json_t *arr, const char *where, int admin, struct grafana_filters *out,
	struct grafana_err *e) __attribute__((warn_unused_result));

/* Append one filter; values are copied by pointer (arena strings). 0 or -1 (out of memory / too many). */
int grafana_filters_add(struct arena *a, struct grafana_filters *f, enum grafana_key key, enum grafana_op op,
	int ref, const struct grafana_strv *vals, struct grafana_err *e) __attribute__((warn_unused_result));

/* The key by name (case-insensitive, plurals accepted), or -1. */
int grafana_key_parse(const char *s);

/* The JSON text the statements take ([{k, op, v}], see GF_FILTER_OK in stmt.c) for every filter of a
 * and b (either may be NULL) except those on key skip (GRAFANA_K__MAX: none). NULL when there are none;
 * else an arena string (NULL on out of memory too: *oom set). */
const char *grafana_filters_sql(struct arena *ar, const struct grafana_filters *a, const struct grafana_filters *b,
	int skip, int *oom);

/* ---- time.c: buckets and zones (pure except the zone cache) ---------------------------------------- */

/* The buckets of one series: unit and units per bucket, and at most count of them. */
struct grafana_plan {
	enum grafana_unit unit;   /* never AUTO */
	int               step;   /* units per bucket, >= 1 */
	int               count;  /* an upper bound on the buckets from..to needs; <= max_points */
};

/*
 * Plan the buckets of [from_ms, to_ms): the unit asked for (AUTO: the smallest of 1h 2h 3h 4h 6h 8h 12h
 * 1d 2d 3d 1w 2w 1M 2M 3M 4M 6M 12M... at least intervalMs wide), widened to a multiple of the unit that
 * is at least interval_ms, then widened again until no series can have more than max_points points.
 * Calendar units are counted at their shortest (a 23-hour day, a 28-day month) so the bound holds
 * across DST changes. max_points <= 0 means LIMIT_GRAFANA_POINTS_DEFAULT; it is capped at
 * LIMIT_GRAFANA_POINTS_MAX; with 1, the plan is one bucket over the range. 0 or -1 (bad range).
 */
int grafana_plan_buckets(int64_t from_ms, int64_t to_ms, enum grafana_unit want, int64_t interval_ms,
	long max_points, struct grafana_plan *out) __attribute__((warn_unused_result));

/* Shortest length of one unit in ms (a 23-hour day, a 7-day-less-an-hour week, a 28-day month). */
int64_t grafana_unit_min_ms(enum grafana_unit u);

/* 1 if a request's "timezone" can name a zone: not "", "browser" or "default" (they carry no zone). */
int grafana_tz_is_candidate(const char *tz);

/* Look tz up among PostgreSQL's zone names (case-insensitive; the list is read once per process). 1 and
 * *canon set to the database's spelling when known, 0 when not, -1 when the list cannot be read. */
int grafana_tz_lookup(struct db *db, const char *tz, const char **canon) __attribute__((warn_unused_result));

/* For tests: look up in a given sorted list instead of the cache. */
int grafana_tz_find(const char *const *names, size_t n, const char *tz, const char **canon);
void grafana_tz_sort(const char **names, size_t n);

/* ---- query.c: running and answering --------------------------------------------------------------- */

/* Who asks and in which transaction; built once per request by the handler. */
struct grafana_ctx {
	struct db    *db;
	struct arena *arena;
	const char   *rid;            /* request id for the log */
	int64_t       user_id;
	int           admin;
	/* the account, read on first need */
	int           have_account;
	const char   *account_tz;     /* the Toggl (else our) zone, canonical; "UTC" when unknown */
	int           beginning_of_week;
};

/* BEGIN a read-only transaction with the statement timeout and settings. 0 or -1 with e set. */
int grafana_begin(struct grafana_ctx *c, struct grafana_err *e) __attribute__((warn_unused_result));
/* COMMIT (0) or, after an error, ROLLBACK. */
int grafana_end(struct grafana_ctx *c, int ok);

/* Answer every target of q, appending response elements (frames, series or tables) to out. */
int grafana_query(struct grafana_ctx *c, const struct grafana_query *q, json_t *out, struct grafana_err *e)
	__attribute__((warn_unused_result));

/* Legacy /annotations: events of the entries in q's range that pass t's filters, each echoing anno. */
int grafana_annotations_legacy(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t,
	json_t *anno, json_t *out, struct grafana_err *e) __attribute__((warn_unused_result));

/* /metrics: the metric list with payload definitions; legacy: plain strings (/search). */
json_t *grafana_metrics(const struct grafana_ctx *c, int legacy, const char *match);

/* Choices of a list (project client tag workspace user, or the static group_by billable bucket format
 * metric) as {value, label} (style 0), {__text, __value} (style 1) or strings (style 2); narrowed by
 * t's workspaces and clients. -1 with e (400) when the list is unknown. */
int grafana_list(struct grafana_ctx *c, const char *list, const struct grafana_target *t, int style, json_t *out,
	struct grafana_err *e) __attribute__((warn_unused_result));

/* /tag-keys and /tag-values (values of key among entries in q's range, passing q's other filters). */
json_t *grafana_tag_keys(const struct grafana_ctx *c);
int grafana_tag_values(struct grafana_ctx *c, const char *key, const struct grafana_query *q, json_t *out,
	struct grafana_err *e) __attribute__((warn_unused_result));

#endif
