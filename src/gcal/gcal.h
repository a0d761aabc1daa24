/* gcal.h: Google Calendar out, prefix gcal_: OAuth consent (oauth.c), tokens (tokens.c), the app calendar
 * (calendar.c), the live mirror of time entries (mirror.c), validation (validate.c) and backfill
 * (backfill.c). The worker's google.* jobs (src/worker/job_google.c) and the OAuth handlers
 * (src/handlers/h_oauth.c) are thin layers over this module, which depends only on util, db and api.
 *
 * The rules, in one place:
 * - Every change of a time entry queues a google.sync_entry job from the database itself (the triggers of
 *   sql/005_google.sql), in the changing transaction. Jobs carry the entry version they were queued for.
 * - A sync holds a per-entry advisory lock from its read to its commit: two jobs of one entry never overlap.
 *   After the claim it is one read, one Google call (two on a 409 or 404) and one statement that commits
 *   the mirror row with the job's done mark and releases the lock. If the entry changed meanwhile, the row
 *   stays pending: the newer job (queued by that change) wins.
 * - Event ids are deterministic (gcal_event_id), so an insert repeated after a crash is a 409, then a patch.
 * - Rate and quota errors back off the whole user (google_accounts.backoff_until), without using up the
 *   jobs' attempts. invalid_grant marks the connection needs_reconnect and pauses the user's google jobs;
 *   the OAuth callback of a reconnect resumes them.
 * - Validations and running-entry refreshes reschedule themselves (a validation queues the user's next one,
 *   a sync of a running entry its next refresh), so nothing runs for users without Google; the hourly
 *   google.validate and google.refresh_running schedules only restart a chain that broke.
 */
#ifndef TB_GCAL_H
#define TB_GCAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/google.h"
#include "db/db.h"
#include "util/buf.h"
#include "util/limits.h"

/* Defaults of the settings (table settings) and per-user columns (google_accounts). */
#define GCAL_DEFAULT_CALENDAR_NAME   "Toggl"
#define GCAL_DEFAULT_BACKFILL_DAYS   30
#define GCAL_DEFAULT_REFRESH_MIN     5
#define GCAL_DEFAULT_VALIDATE_MIN    10      /* setting SYNC_VALIDATE_INTERVAL */
#define GCAL_DEFAULT_VALIDATE_DAYS   7       /* setting SYNC_VALIDATE_DAYS */
#define GCAL_DEFAULT_BACKFILL_RATE   5       /* setting GOOGLE_BACKFILL_RATE, syncs per second per user */

#define GCAL_SETTING_VALIDATE_INTERVAL "SYNC_VALIDATE_INTERVAL"
#define GCAL_SETTING_VALIDATE_DAYS     "SYNC_VALIDATE_DAYS"
#define GCAL_SETTING_BACKFILL_RATE     "GOOGLE_BACKFILL_RATE"

/* Secrets: kinds in the secrets table / AAD prefixes. */
#define GCAL_SECRET_REFRESH  "google_refresh"
#define GCAL_AAD_ACCESS      "google_access"
#define GCAL_AAD_VERIFIER    "google_verifier"

#define GCAL_EVENT_ID_MAX    64      /* "tb" + a 19-digit id in base32hex is 34 characters */
#define GCAL_TOGGL_URL       "https://track.toggl.com/timer"

/* ---- mirror.c: the pure part (tests/unit/test_gcal.c) ------------------------------------------------ */

/* The event palette (upstream-apis.md D: "Colors"), index 1..11. */
extern const char *const gcal_event_colors[12];

/* One time entry with what its event needs. Strings are borrowed; NULL when absent. */
struct gcal_entry {
	int64_t      id;
	int64_t      version;
	int64_t      workspace_id;
	int64_t      project_id;        /* 0: none */
	int64_t      client_id;         /* 0: none */
	int64_t      toggl_user_id;
	const char  *description;
	const char  *project_name;
	const char  *project_color;     /* "#rrggbb" */
	const char  *client_name;
	const char  *tags;              /* names joined by ", "; NULL or "" when none */
	int          billable;
	int          deleted;           /* tombstoned */
	int64_t      start_ms;
	int64_t      stop_ms;           /* valid when !running */
	int          running;           /* stop NULL: a running entry */
	int          rule_tag, rule_project, rule_client, rule_workspace;   /* colour rules that matched, 0 none */
};

/* "tb" + decimal entry id, in lowercase base32hex without padding (only a-v and 0-9, >= 5 characters).
 * Returns 0, or -1 for an id <= 0. */
int  gcal_event_id(int64_t entry_id, char out[GCAL_EVENT_ID_MAX]);
/* The reverse, for tests and tools: the entry id, or -1 when id is not one of ours. */
int64_t gcal_event_id_decode(const char *id);
/* The palette colour (1..11) nearest to "#rrggbb" (or "#rgb"), 0 when hex is not a colour. */
int  gcal_color_nearest(const char *hex);
/* The event colour: 8 (grey) while running; else the first rule of tag, project, client, workspace; else
 * the colour nearest the project's; 0 (the calendar's own colour) when there is none. */
int  gcal_color_pick(const struct gcal_entry *e);
/* The event's end in ms: the stop, or for a running entry now but at least LIMIT_GOOGLE_RUNNING_MIN_S after
 * the start; never before the start. */
int64_t gcal_event_end_ms(const struct gcal_entry *e, int64_t now_ms);
/* The event body for insert (with "id", absent fields left out) or for patch (no "id", cleared fields as
 * JSON null so merge semantics remove them, "status": "confirmed" so a cancelled event comes back).
 * Returns a new object, or NULL when out of memory. */
enum gcal_body { GCAL_BODY_INSERT = 0, GCAL_BODY_PATCH };
json_t *gcal_event_build(const struct gcal_entry *e, int64_t now_ms, enum gcal_body kind);
/* The Toggl link put in the description (and source.url) of the entry's event. */
void gcal_toggl_link(const struct gcal_entry *e, struct buf *out);

/* What validation compares: 0 when event (as Google answers it, NULL when absent) shows entry e as
 * expected; else a bit set of the differences, and why[] (may be NULL) gets a short sentence. */
#define GCAL_DIFF_MISSING  0x01   /* no event, or cancelled, for a live entry */
#define GCAL_DIFF_PRESENT  0x02   /* a live event for a deleted entry */
#define GCAL_DIFF_SUMMARY  0x04
#define GCAL_DIFF_TIME     0x08
#define GCAL_DIFF_COLOR    0x10
int  gcal_event_compare(const struct gcal_entry *e, json_t *event, int64_t now_ms, char *why, size_t whysz);

/* ---- the jobs' side ------------------------------------------------------------------------------ */

/* Outcome of a gcal_* operation, mapped 1:1 onto the worker's job results. */
enum gcal_result {
	GCAL_OK = 0,      /* done; if g->completed, the effects committed with the job's done mark; else if
	                   * g->db->in_tx, they wait in an open transaction for the caller's done mark and
	                   * commit (job_complete) */
	GCAL_RETRY,       /* transient: again after g->retry_after_s (0: the runner's backoff) */
	GCAL_FATAL,       /* permanent: g->err says why (also on the entry) */
	GCAL_PAUSE        /* the connection needs a reconnect: wait, do not count the attempt */
};

/* One operation's context. The caller sets db, api.http, ctx, user_id (and job_id/owner for the attempt
 * bookkeeping); gcal_done() releases what the operation kept (tokens are wiped). */
struct gcal {
	struct db          *db;
	struct api_google   api;               /* api.http: the caller's keep-alive client */
	const char         *ctx;               /* log context, e.g. "job 42" */
	int64_t             user_id;
	int64_t             job_id;            /* 0 outside a job */
	const char         *owner;             /* the job's lease owner */
	int                 attempt;           /* 1 on the first run */
	/* results */
	char                err[LIMIT_JOB_ERROR_MAX];
	double              retry_after_s;     /* > 0 overrides the runner's backoff */
	int                 uncounted;         /* the attempt never reached Google: it was given back */
	int                 completed;         /* the job's done mark committed with the effects */
	/* the access token */
	const char         *access_sealed;     /* the cached one as loaded (borrowed), NULL when none */
	int64_t             access_ttl_s;      /* its seconds left */
	char               *access;            /* the one in use, plain; wiped by gcal_done() */
	char               *fresh_sealed;      /* a refreshed one not stored yet */
	int64_t             fresh_ttl_s;
};

void gcal_init(struct gcal *g, struct db *db, struct http_client *http, const char *ctx, int64_t user_id);
void gcal_done(struct gcal *g);
/* printf into g->err (valid UTF-8, control characters as spaces). */
void gcal_error(struct gcal *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Integer setting key, default def when absent or not a number in [lo, hi]. */
long gcal_setting(struct db *db, const char *key, long def, long lo, long hi);

/* tokens.c */
/* Make g->access a usable access token: the cached one (g->access_sealed, g->access_ttl_s) unless it expires
 * within LIMIT_GOOGLE_TOKEN_EARLY_S or force, else a refresh with the stored refresh token (a refreshed
 * token waits in g->fresh_sealed for gcal_token_persist()). Reads only: safe inside a transaction. The
 * answer is the refresh's (API_GOOGLE_INVALID_GRANT: the connection needs a reconnect). */
enum api_google_res gcal_token_ensure(struct gcal *g, int force) __attribute__((warn_unused_result));
/* Store a refreshed access token, if any (inside or outside a transaction). 0 or -1 (logged: losing the
 * cache only costs a refresh later). */
int  gcal_token_persist(struct gcal *g);
/* Mark the connection needs_reconnect with detail, and pause every queued/failed google job of the user
 * (their entries say so). Outside a transaction. */
void gcal_needs_reconnect(struct gcal *g, const char *detail);
/* The google.revoke job: revoke the refresh token at Google (an already invalid one counts as revoked), then
 * delete the connection, the tokens, the mirror state and the user's other google jobs, unless the user
 * reconnected meanwhile. The deletion waits in an open transaction for the caller's commit. */
enum gcal_result gcal_revoke(struct gcal *g) __attribute__((warn_unused_result));

/* One Calendar API call with the 401 rule: on API_GOOGLE_AUTH, one refresh and one retry. */
enum gcal_op {
	GCAL_OP_CALENDAR_INSERT = 0, GCAL_OP_CALENDAR_GET, GCAL_OP_CALENDAR_PATCH, GCAL_OP_CALENDAR_LIST,
	GCAL_OP_EVENT_INSERT, GCAL_OP_EVENT_GET, GCAL_OP_EVENT_PATCH, GCAL_OP_EVENT_DELETE, GCAL_OP_EVENT_LIST
};
struct gcal_call {
	enum gcal_op                        op;
	const char                         *calendar_id;
	const char                         *event_id;
	json_t                             *body;
	const struct api_google_list_query *list;          /* events.list; for calendarList, list->page_token */
	json_t                            **out;          /* may be NULL */
};
enum api_google_res gcal_api(struct gcal *g, const struct gcal_call *c) __attribute__((warn_unused_result));

/* After a failed call (g->api.err): rate → per-user backoff (the user's google jobs deferred, this attempt
 * given back), invalid grant or forbidden → needs reconnect and GCAL_PAUSE, 400 → GCAL_FATAL, the rest →
 * GCAL_RETRY. g->err gets "what: Google's words". backoff_level: the user's current level. Outside a
 * transaction. */
enum gcal_result gcal_api_failure(struct gcal *g, const char *what, int backoff_level);
/* Give this attempt back (it never reached Google). */
void gcal_uncount(struct gcal *g);

/* mirror.c */
/* The google.sync_entry job. force: call Google even if the mirror says synced (validation, CLI). */
enum gcal_result gcal_sync_entry(struct gcal *g, int64_t entry_id, int force) __attribute__((warn_unused_result));
/* google.refresh_running (the hourly catch-up schedule): queue a sync of every running entry whose event was
 * last extended longer ago than its user's running_refresh_min (each sync of a running entry queues its next
 * refresh itself; this restarts a chain that broke). Returns the number queued, or -1. */
int  gcal_refresh_running(struct db *db) __attribute__((warn_unused_result));
/* Queue a forced sync of one entry of user_id (validation, the CLI); why (may be NULL) is shown on the
 * entry meanwhile. 1 queued, 0 no such entry of that user, -1 on a database error. */
int  gcal_resync(struct db *db, int64_t user_id, int64_t entry_id, const char *why)
	__attribute__((warn_unused_result));

/* calendar.c */
/* The google.calendar job: make sure the app calendar exists (created with calendars.insert in the user's
 * Toggl time zone) and carries calendar_name; a new calendar resets the mirror and queues a backfill of
 * everything. gone_id: the calendar a sync found deleted (404/410), or NULL. */
enum gcal_result gcal_calendar_ensure(struct gcal *g, const char *gone_id) __attribute__((warn_unused_result));
/* Queue the google.calendar job for user (deduplicated per user). 0 or -1. */
int  gcal_calendar_queue(struct db *db, int64_t user_id, const char *gone_id) __attribute__((warn_unused_result));

/* backfill.c */
/* The google.backfill job: mark the entries of the last backfill_days (days > 0 overrides) and every mirror
 * row not in sync pending, and queue their syncs spaced at GOOGLE_BACKFILL_RATE per second (Google allows
 * about 10 per second per user; live changes keep the rest). force: even the ones in sync. Inside its own
 * transaction, left open for the caller's commit. Returns GCAL_OK with the count in *queued. */
enum gcal_result gcal_backfill(struct gcal *g, int days, int force, long *queued) __attribute__((warn_unused_result));

/* validate.c */
/* google.validate without a user (the hourly catch-up schedule): queue a validation for each connected
 * user whose last one is more than SYNC_VALIDATE_INTERVAL minutes old (its chain broke). Returns the number
 * queued, or -1. */
int  gcal_validate_fanout(struct db *db) __attribute__((warn_unused_result));
/* Queue a validation of user_id in minutes (deduplicated per user: an earlier one queued wins). 0 or -1. */
int  gcal_validate_queue(struct db *db, int64_t user_id, long minutes) __attribute__((warn_unused_result));
/* google.validate for g->user_id: compare the entries changed in the last SYNC_VALIDATE_DAYS days with their
 * events (existence, status, summary, start and end, colour); each difference queues a forced sync. The
 * counts are logged and stored in google_accounts.validation. */
enum gcal_result gcal_validate_user(struct gcal *g) __attribute__((warn_unused_result));

/* oauth.c: the web side (FastCGI threads: no state outside the arguments). ------------------------- */

/* Start an authorization for user_id bound to session_id (the raw session cookie): store a fresh state
 * (hashed) with a sealed PKCE verifier, and write the authorization URL into url. 0, or -1 with err. */
int  gcal_oauth_start(struct db *db, const char *session_id, int64_t user_id, struct buf *url, char *err,
         size_t errsz) __attribute__((warn_unused_result));

enum gcal_state_check {
	GCAL_STATE_OK = 0,
	GCAL_STATE_UNKNOWN,     /* never issued, or already used (a replay) */
	GCAL_STATE_EXPIRED,     /* older than LIMIT_GOOGLE_STATE_S */
	GCAL_STATE_MISMATCH,    /* issued to another session or user */
	GCAL_STATE_DB_ERROR
};
/* Take (delete, single use) the state; on GCAL_STATE_OK *verifier is the opened PKCE verifier (free with
 * crypto_free_secret). */
enum gcal_state_check gcal_oauth_take_state(struct db *db, const char *session_id, int64_t user_id,
    const char *state, char **verifier) __attribute__((warn_unused_result));

enum gcal_connect {
	GCAL_CONNECT_OK = 0,
	GCAL_CONNECT_FEWER_SCOPES,   /* stored, but Google granted less than timebridge needs: needs reconnect */
	GCAL_CONNECT_REFUSED,        /* the exchange failed (bad or used code, wrong verifier...): nothing stored */
	GCAL_CONNECT_UNAVAILABLE,    /* Google did not answer, or answered 5xx: nothing stored */
	GCAL_CONNECT_NO_REFRESH,     /* no refresh token came, and none is stored: nothing stored */
	GCAL_CONNECT_ERROR           /* database or configuration: nothing stored */
};
/* Exchange code with the verifier; store the refresh token sealed with the granted scopes, cache the access
 * token, resume the user's paused google jobs and queue the calendar (which backfills). The granted scopes
 * go to scopes (for the page). err: one line for the user. */
enum gcal_connect gcal_oauth_connect(struct db *db, struct http_client *http, const char *log_ctx,
    int64_t user_id, const char *code, const char *verifier, char *scopes, size_t scopessz, char *err,
    size_t errsz) __attribute__((warn_unused_result));
/* Disconnect: mark the connection disconnecting and queue google.revoke. 1 queued, 0 not connected, -1. */
int  gcal_disconnect(struct db *db, int64_t user_id) __attribute__((warn_unused_result));
/* The redirect URI registered with Google: PUBLIC_URL/oauth/google/callback. */
void gcal_redirect_uri(struct buf *out);

#endif
