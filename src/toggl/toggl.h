/* toggl.h: the Toggl side of timebridge, prefix toggl_. Pure parsing of Toggl's JSON (time entries, webhook
 * envelopes) in entry.c; the API client, subscriptions, import and reconciliation add their own sections
 * below. Nothing here talks to the network or the database unless its section says so. */
#ifndef TB_TOGGL_H
#define TB_TOGGL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/limits.h"

/* ---- entry.c: time entries and webhook envelopes (pure) ---------------------------------------------- */

/* What toggl_entry_parse() expects of the object. */
enum toggl_entry_mode {
	TOGGL_ENTRY_FULL = 0,   /* created/updated events and API v9 objects: id, start, duration and at needed */
	TOGGL_ENTRY_DELETED     /* a delete: only the id is needed; whatever else is there is parsed if valid */
};

/*
 * One time entry as Toggl sends it (webhook payload or API v9 object), normalised: legacy names (wid, uid,
 * pid, tid) folded into the current ones, a running entry recognised by its negative duration (webhooks
 * carry minus the start epoch, the API -1) whose stop is then always absent. Strings and arrays are
 * borrowed from the parsed JSON and live as long as it does. A `has_` flag is 0 when the member was absent
 * or null.
 */
struct toggl_entry {
	int64_t      id;                 /* > 0 */
	int64_t      workspace_id;       /* workspace_id, or legacy wid */
	int64_t      user_id;            /* user_id, or legacy uid: the Toggl user who owns the entry */
	int64_t      project_id;         /* project_id, or legacy pid */
	int64_t      task_id;            /* task_id, or legacy tid */
	int          has_workspace, has_user, has_project, has_task;
	const char  *description;        /* NULL when null or absent (Toggl sends null until one is set) */
	int          billable;           /* false when absent */
	const char  *start;              /* RFC 3339 as sent; NULL only in TOGGL_ENTRY_DELETED mode */
	int64_t      start_ms;
	const char  *stop;               /* as sent; NULL while running (whenever duration < 0) and when derived */
	int64_t      stop_ms;            /* valid when stop or stop_derived */
	int          stop_derived;       /* stopped but no stop sent: stop_ms = start + duration, stop NULL */
	int64_t      duration;           /* seconds as sent; negative = running, never counted */
	int          has_duration;
	int          running;            /* duration < 0 */
	const char  *at;                 /* Toggl's last-change time; NULL only in TOGGL_ENTRY_DELETED mode */
	int64_t      at_ms;
	const char  *server_deleted_at;  /* the tombstone time, NULL when not deleted */
	int64_t      server_deleted_ms;
	json_t      *tags;               /* array of strings (names), never NULL: an empty array for null */
	json_t      *tag_ids;            /* array of integers, never NULL */
};

/*
 * Parse a time-entry object into *out. Returns 0, or -1 with a one-line reason in err (naming the member)
 * and *out unusable. The caller owns obj and must keep it alive while it uses *out; toggl_entry_free()
 * releases the references *out holds (call it after a 0 return only).
 */
int  toggl_entry_parse(json_t *obj, enum toggl_entry_mode mode, struct toggl_entry *out, char *err,
         size_t errsz) __attribute__((warn_unused_result));
void toggl_entry_free(struct toggl_entry *e);

/* Kinds of webhook deliveries. */
enum toggl_event_kind {
	TOGGL_EVENT_PING = 0,    /* payload "ping": subscription created, updated or POST /ping */
	TOGGL_EVENT_ENTITY       /* a model/action event; model and action may be anything, or absent */
};

/*
 * A webhook delivery body (envelope), parsed from the JSON object. Strings and objects are borrowed from
 * the JSON. metadata ids arrive as strings ("123"): they are parsed into integers, 0 when absent or bad.
 */
struct toggl_webhook {
	enum toggl_event_kind kind;
	int64_t      event_id;           /* > 0 for entity events; pings carry 0 */
	int64_t      subscription_id;    /* Toggl's subscription id, 0 when absent */
	const char  *created_at;         /* when the event happened (NULL when absent) */
	const char  *timestamp;          /* when this delivery was sent; changes on each retry (NULL if absent) */
	const char  *url_callback;       /* the URL Toggl posted to, as it says (NULL if absent) */
	const char  *validation_code;    /* pings of a subscription not yet validated; NULL otherwise */
	const char  *model;              /* metadata.model, e.g. "time_entry"; NULL when absent */
	const char  *action;             /* metadata.action: created, updated, deleted...; NULL when absent */
	int64_t      model_owner_id;     /* metadata.model_owner_id: the Toggl user owning the object */
	int64_t      object_id;          /* metadata.<model>_id, e.g. time_entry_id */
	json_t      *payload;            /* the payload when it is an object, else NULL */
};

/*
 * Parse a webhook delivery (the whole body, already a JSON value) into *out. Returns 0, or -1 with a
 * reason in err: not an object, no integer event_id (entity events need one > 0), a validation code that
 * is not a short printable string, or members of the wrong type. Unknown members are ignored.
 */
int  toggl_webhook_parse(json_t *body, struct toggl_webhook *out, char *err, size_t errsz)
         __attribute__((warn_unused_result));

/*
 * Read an id member that Toggl sends as a JSON integer or as a decimal string (webhook metadata). Returns
 * 1 with *out set (> 0 unless allow_zero), 0 when absent or null, -1 when present but not an id.
 */
int  toggl_json_id(json_t *obj, const char *key, int allow_zero, int64_t *out);

/* ---- the Toggl API client, connect, subscriptions, import and reconciliation add sections below ----- */

/* ---- sync: connect.c, metadata.c, webhooks.c, import.c, reconcile.c ----------------------------------
 * The outbound side, run by the worker's toggl.* jobs and by the CLI (never on a web request: the
 * *_enqueue() functions are what web handlers call, they only touch the database). Each operation takes a
 * struct toggl_sync opened for one user and returns an enum toggl_rc with a sentence for the user in
 * s->err. */

#include "api/toggl.h"

struct db;
struct http_client;

enum toggl_rc {
	TOGGL_OK = 0,
	TOGGL_RETRY,      /* transient (quota, 429, 5xx, database): again after s->retry_after_s (0: backoff) */
	TOGGL_FATAL,      /* permanent: rejected request, a paid feature, a bad answer; s->err says what to do */
	TOGGL_AUTH,       /* Toggl refuses the token (403): the account is marked invalid_token */
	TOGGL_NOTFOUND,   /* no such user, account, workspace or subscription */
	TOGGL_CONFLICT    /* e.g. the plan's webhooks all used by subscriptions that are not ours */
};

/* Counters of an import or a reconciliation, and where it is (for progress). */
struct toggl_import_stats {
	long        fetched, inserted, updated, unchanged, deleted, skipped;
	long        requests, windows, splits, quota_waits, resumes, verified;
	const char *method;          /* "reports", "time_entries" or "since" */
	int64_t     lo, hi;          /* the range, unix s */
	int64_t     pos;             /* done up to here (unix s), for a progress bar */
	double      waited_s;
	int64_t     run_id;
};

typedef void (*toggl_progress_fn)(void *arg, const struct toggl_import_stats *st);

struct toggl_sync {
	struct db          *db;
	struct api_toggl    api;
	int                 api_ready;
	int64_t             user_id;
	int64_t             toggl_user_id;      /* 0 until connected */
	int64_t             job_id;             /* the job running this, 0 for the CLI */
	int                 connected;          /* a toggl_accounts row exists */
	int                 invalid_token;      /* ... and it is marked invalid_token */
	int                 loaded_strikes;     /* the 429 streak stored when opened */
	double              rate_wait_s;        /* a stored 429 backoff still running when opened */
	char                status_detail[2048]; /* why the token is invalid, as stored */
	long                n_orgs, n_workspaces, n_projects, n_clients, n_tags, n_meta_changed; /* last refresh */
	const char         *ctx;                /* log context */
	char                err[4096];          /* one sentence for the user */
	double              retry_after_s;      /* TOGGL_RETRY: when to try again (0: the usual backoff) */
	int                 quota_wait;         /* TOGGL_RETRY because of a quota or 429: not a failure */
	/* hooks, optional */
	api_toggl_wait_fn   on_wait;            /* before an inline wait (the CLI prints it, a job renews its lease) */
	toggl_progress_fn   progress;           /* after each page of an import */
	void               *hook_arg;
};

/* Open s for user_id with the stored token (secrets kind toggl_token, AAD "toggl_token:<user_id>").
 * max_wait_s bounds the inline waits of each call (the CLI waits long, a job briefly). TOGGL_NOTFOUND when
 * the user has no token; TOGGL_AUTH when the account is already marked invalid_token (nothing is sent). */
enum toggl_rc toggl_sync_open(struct toggl_sync *s, struct db *db, struct http_client *http, int64_t user_id,
    const char *ctx, double max_wait_s) __attribute__((warn_unused_result));
/* The same with a token given (connecting: nothing stored yet). -1 on a malformed token (s->err). */
enum toggl_rc toggl_sync_open_token(struct toggl_sync *s, struct db *db, struct http_client *http,
    int64_t user_id, const char *token, const char *ctx, double max_wait_s) __attribute__((warn_unused_result));
void toggl_sync_close(struct toggl_sync *s);
/* Before an operation: the account must exist and its token not be marked invalid; a stored 429 backoff
 * is waited out inline (within max_wait_s) or returned as TOGGL_RETRY. */
enum toggl_rc toggl_sync_require(struct toggl_sync *s) __attribute__((warn_unused_result));
/* Map the client's last result to a toggl_rc, set s->err and s->retry_after_s, and record what it means:
 * a 403 is confirmed with GET /me and marks the account invalid_token; a 429 streak is persisted. what
 * names the operation for the message. */
enum toggl_rc toggl_sync_fail(struct toggl_sync *s, const char *what);

/* connect.c */
/* Verify the token (GET /me), store the account and, when store_token, the token sealed; then refresh the
 * metadata and schedule the reconciliation. A 403 is TOGGL_AUTH with "the token is wrong" in s->err. */
enum toggl_rc toggl_connect(struct toggl_sync *s, int store_token) __attribute__((warn_unused_result));
/* For web handlers: store the token sealed and queue a toggl.connect job that verifies it (and resume the
 * user's toggl jobs paused on a bad token). 0, or -1 with err set. */
int  toggl_connect_enqueue(struct db *db, int64_t user_id, const char *token, char *err, size_t errsz)
	__attribute__((warn_unused_result));
/* The account as JSON (status, detail, quota budgets, last pull, workspaces), or NULL when not connected. */
json_t *toggl_account_json(struct db *db, int64_t user_id);

/* metadata.c */
/* Fetch organisations, workspaces and, per workspace, projects (all pages), clients and tags. */
enum toggl_rc toggl_metadata_refresh(struct toggl_sync *s) __attribute__((warn_unused_result));
/* Ask for a refresh soon, batched: one toggl.metadata job per user (dedupe key), requests within
 * LIMIT_TOGGL_METADATA_DELAY_S fold into it. For code that meets an unknown project, client or tag. The
 * webhook receiver asks inside its one event statement, through the SQL function of the same name
 * (sql/008_toggl_metadata.sql), with the same kind and dedupe key "toggl.metadata:<user id>": keep the two
 * in step. Safe inside a caller's transaction. 0, or -1 (db->err). */
int  toggl_metadata_request(struct db *db, int64_t user_id) __attribute__((warn_unused_result));
/* Count the unknown projects/tags/clients named by the user's entries changed since since_s; request a
 * refresh when there are any. Returns that count, -1 on a database error. */
long toggl_metadata_check(struct db *db, int64_t user_id, int64_t since_s);

/* webhooks.c */
/* Make sure workspace wid has one working subscription of ours (see the file comment for the rules);
 * *out (may be NULL) receives its status object. Idempotent. */
enum toggl_rc toggl_webhook_setup(struct toggl_sync *s, int64_t wid, json_t **out)
	__attribute__((warn_unused_result));
/* Delete our subscription upstream and revoke its token: the old URL answers 404. */
enum toggl_rc toggl_webhook_remove(struct toggl_sync *s, int64_t wid) __attribute__((warn_unused_result));
/* Refresh from Toggl and return the status of our subscriptions (wid 0: every workspace of the user) as
 * a JSON array; when Toggl cannot be asked, the stored status with "stale": true. */
enum toggl_rc toggl_webhook_status(struct toggl_sync *s, int64_t wid, json_t **out)
	__attribute__((warn_unused_result));
/* The stored status only (for web pages: no outbound call). user_id/wid 0: all. NULL on a DB error. */
json_t *toggl_webhook_status_db(struct db *db, int64_t user_id, int64_t wid);
/* Queue toggl.webhook_setup or toggl.webhook_remove (kind) for wid. 0, or -1. */
int  toggl_webhook_enqueue(struct db *db, int64_t user_id, int64_t wid, const char *kind)
	__attribute__((warn_unused_result));

/* import.c */
struct toggl_import_opts {
	int64_t since_s;    /* first day, 00:00 UTC */
	int64_t until_s;    /* the day after the last one, 00:00 UTC */
	int     restart;    /* forget an unfinished run of the same range */
};
/* Import the history of [since, until): Reports API where the plan allows, else /me/time_entries
 * windows. Idempotent, resumable (checkpointed in toggl_import_runs), batched writes. */
enum toggl_rc toggl_import(struct toggl_sync *s, const struct toggl_import_opts *o, struct toggl_import_stats *st)
	__attribute__((warn_unused_result));
/* Queue a toggl.import job for dates "YYYY-MM-DD" (until may be NULL: today). 0, or -1 with err. */
int  toggl_import_enqueue(struct db *db, int64_t user_id, const char *since, const char *until, char *err,
         size_t errsz) __attribute__((warn_unused_result));
/* The latest import run of the user as JSON (progress for admin), NULL when none or on error. */
json_t *toggl_import_last(struct db *db, int64_t user_id);
/* Merge an array of API v9 time entries (or Reports rows converted by toggl_report_row_entry) into
 * time_entries with the receiver's rules; counts into st. run_id 0: not part of an import. */
enum toggl_rc toggl_entries_merge(struct toggl_sync *s, json_t *entries, int64_t run_id,
    struct toggl_import_stats *st) __attribute__((warn_unused_result));
/* Pure: a record for STMT_TOGGL_ENTRIES_MERGE from one API v9 time entry (new reference), or NULL with
 * err. default_user fills a missing user_id. */
json_t *toggl_entry_record(json_t *entry, int64_t default_user, char *err, size_t errsz);
/* Pure: the API v9 shape of one Reports v3 detailed row's time entry (new reference), NULL when the row
 * is malformed. The row gives the owner and fields, te one element of its time_entries array. */
json_t *toggl_report_row_entry(json_t *row, json_t *te, int64_t wid);
/* Pure: window sizing of the /me/time_entries walk. After a window of span seconds returned rows rows
 * (< the cap), the next span aims at LIMIT_TOGGL_WINDOW_TARGET rows, within [span/4, span*4] and
 * [LIMIT_TOGGL_WINDOW_MIN_S, LIMIT_TOGGL_WINDOW_MAX_S]. */
int64_t toggl_window_next(int64_t span, long rows);
/* Pure: the span to retry a full window with (half), or -1 when it cannot be split further. */
int64_t toggl_window_split(int64_t span);

/* reconcile.c */
#define TOGGL_RECONCILE_CRON_DEFAULT "0 2,14 * * *"
#define TOGGL_RECONCILE_CRON_SETTING "toggl.reconcile_cron"
/* Pull everything changed since the last pull (deleted entries included) and apply it. */
enum toggl_rc toggl_reconcile(struct toggl_sync *s, struct toggl_import_stats *st)
	__attribute__((warn_unused_result));
int  toggl_reconcile_enqueue(struct db *db, int64_t user_id) __attribute__((warn_unused_result));
/* Create or update the user's schedule (name "toggl.reconcile:<user id>") from the setting. 0, or -1. */
int  toggl_reconcile_schedule(struct db *db, int64_t user_id, char *err, size_t errsz)
	__attribute__((warn_unused_result));
/* Re-plan every connected user's schedule (after the setting changed). Number updated, or -1. */
int  toggl_reconcile_schedule_all(struct db *db, char *err, size_t errsz) __attribute__((warn_unused_result));
/* Is cron acceptable for reconciliation: valid, and never two firings closer than
 * LIMIT_TOGGL_RECONCILE_MIN_GAP_S (the user-scoped quota is 30 requests an hour, webhooks or not). */
int  toggl_reconcile_cron_check(const char *cron, char *err, size_t errsz) __attribute__((warn_unused_result));

#endif
