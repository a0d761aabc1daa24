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

#endif
