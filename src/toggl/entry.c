/* entry.c: pure parsing of Toggl's JSON: a time entry (webhook payload or API v9 object) into struct
 * toggl_entry, and a webhook delivery envelope into struct toggl_webhook. No I/O, no allocation beyond
 * jansson references, so the fuzzer and the unit tests can drive it directly. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toggl/toggl.h"
#include "util/tbtime.h"

/* A duration beyond a century is not a time entry: refusing it keeps start + duration far from overflow. */
#define ENTRY_DURATION_MAX_S  (100LL * 366 * 86400)

static void seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* A decimal id in a string: digits only, no sign, no leading zero unless "0", fits int64. 0 ok, -1 not. */
static int
parse_decimal(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
toggl_json_id(json_t *obj, const char *key, int allow_zero, int64_t *out)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	int64_t id;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		id = (int64_t)json_integer_value(v);
	else if (json_is_string(v)) {
		if (parse_decimal(json_string_value(v), &id) != 0)
			return -1;
	} else
		return -1;
	if (id < 0 || (id == 0 && !allow_zero))
		return -1;
	*out = id;
	return 1;
}

/* An id under its current name or, when that is absent, its legacy one. 1 found, 0 absent, -1 bad (err). */
static int
get_id2(json_t *obj, const char *key, const char *legacy, int64_t *out, char *err, size_t errsz)
{
	int rc = toggl_json_id(obj, key, 0, out);

	if (rc == 0 && legacy) {
		rc = toggl_json_id(obj, legacy, 0, out);
		key = legacy;
	}
	if (rc < 0)
		seterr(err, errsz, "%s is not a positive integer id", key);
	return rc;
}

/* An RFC 3339 member. 1 found (both outputs set), 0 absent or null, -1 malformed (err). */
static int
get_time(json_t *obj, const char *key, const char **s, int64_t *ms, char *err, size_t errsz)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || tb_parse_rfc3339(json_string_value(v), ms) != 0) {
		seterr(err, errsz, "%s is not an RFC 3339 date-time", key);
		return -1;
	}
	*s = json_string_value(v);
	return 1;
}

/* tags (names) or tag_ids (positive integers): a new reference to the array, an empty one for null. */
static json_t *
get_array(json_t *obj, const char *key, int ints, int *bad)
{
	json_t *v = json_object_get(obj, key), *item;
	size_t i;

	*bad = 0;
	if (v == NULL || json_is_null(v))
		return json_array();
	if (!json_is_array(v)) {
		*bad = 1;
		return NULL;
	}
	json_array_foreach(v, i, item) {
		if (ints ? !(json_is_integer(item) && json_integer_value(item) > 0) : !json_is_string(item)) {
			*bad = 1;
			return NULL;
		}
	}
	return json_incref(v);
}

void
toggl_entry_free(struct toggl_entry *e)
{
	json_decref(e->tags);
	json_decref(e->tag_ids);
	e->tags = e->tag_ids = NULL;
}

/*
 * The members every mode reads. In TOGGL_ENTRY_DELETED mode (lenient) a malformed optional member is
 * treated as absent: a delete must not be refused because of a detail of a body whose shape Toggl does
 * not document.
 */
int
toggl_entry_parse(json_t *obj, enum toggl_entry_mode mode, struct toggl_entry *out, char *err, size_t errsz)
{
	int lenient = mode == TOGGL_ENTRY_DELETED, bad = 0, rc;
	json_t *v;
	char dummy[8];

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		seterr(err, errsz, "the time entry is not a JSON object");
		return -1;
	}
	if (toggl_json_id(obj, "id", 0, &out->id) != 1) {
		seterr(err, errsz, "id is missing or not a positive integer");
		return -1;
	}
	/* Optional members: in lenient mode errors go to a scratch buffer and the member counts as absent. */
#define OPT(call, flag) do { \
	rc = (call); \
	if (rc < 0 && !lenient) \
		goto fail; \
	flag = rc > 0; \
} while (0)
	OPT(get_id2(obj, "workspace_id", "wid", &out->workspace_id, lenient ? dummy : err,
	    lenient ? sizeof(dummy) : errsz), out->has_workspace);
	OPT(get_id2(obj, "user_id", "uid", &out->user_id, lenient ? dummy : err, lenient ? sizeof(dummy) : errsz),
	    out->has_user);
	OPT(get_id2(obj, "project_id", "pid", &out->project_id, lenient ? dummy : err,
	    lenient ? sizeof(dummy) : errsz), out->has_project);
	OPT(get_id2(obj, "task_id", "tid", &out->task_id, lenient ? dummy : err, lenient ? sizeof(dummy) : errsz),
	    out->has_task);
#undef OPT
	if ((v = json_object_get(obj, "description")) != NULL && !json_is_null(v)) {
		if (json_is_string(v))
			out->description = json_string_value(v);
		else if (!lenient) {
			seterr(err, errsz, "description is not a string");
			goto fail;
		}
	}
	if ((v = json_object_get(obj, "billable")) != NULL && !json_is_null(v)) {
		if (json_is_boolean(v))
			out->billable = json_is_true(v);
		else if (!lenient) {
			seterr(err, errsz, "billable is not a boolean");
			goto fail;
		}
	}

	rc = get_time(obj, "start", &out->start, &out->start_ms, err, errsz);
	if (rc < 0 && !lenient)
		goto fail;
	if (rc <= 0) {
		out->start = NULL;
		if (!lenient) {
			seterr(err, errsz, "start is missing");
			goto fail;
		}
	}
	rc = get_time(obj, "at", &out->at, &out->at_ms, err, errsz);
	if (rc < 0 && !lenient)
		goto fail;
	if (rc <= 0) {
		out->at = NULL;
		if (!lenient) {
			seterr(err, errsz, "at is missing");
			goto fail;
		}
	}
	rc = get_time(obj, "server_deleted_at", &out->server_deleted_at, &out->server_deleted_ms, err, errsz);
	if (rc < 0) {
		if (!lenient)
			goto fail;
		out->server_deleted_at = NULL;
	}

	if ((v = json_object_get(obj, "duration")) != NULL && !json_is_null(v)) {
		if (json_is_integer(v) && json_integer_value(v) <= ENTRY_DURATION_MAX_S &&
		    json_integer_value(v) >= -ENTRY_DURATION_MAX_S) {
			out->duration = (int64_t)json_integer_value(v);
			out->has_duration = 1;
		} else if (!lenient) {
			seterr(err, errsz, "duration is not an integer number of seconds");
			goto fail;
		}
	}
	rc = get_time(obj, "stop", &out->stop, &out->stop_ms, err, errsz);
	if (rc < 0) {
		if (!lenient)
			goto fail;
		out->stop = NULL;
		rc = 0;
	}
	if (!out->has_duration && out->start) {
		/* No duration: a stop gives one; without either the entry is running (the API's -1). */
		if (rc > 0)
			out->duration = (out->stop_ms - out->start_ms) / 1000;
		else
			out->duration = -1;
		out->has_duration = !lenient || rc > 0;
	}
	if (out->has_duration && out->duration < 0) {
		/* Running, whatever else came: no stop is stored and the duration is never counted. */
		out->running = 1;
		out->stop = NULL;
		out->stop_ms = 0;
	} else if (out->has_duration && out->start && out->stop == NULL) {
		/* Stopped but no stop sent (a duration-only entry): stop = start + duration. */
		out->stop_ms = out->start_ms + out->duration * 1000;
		out->stop_derived = 1;
	}
	if (out->stop && out->start && out->stop_ms < out->start_ms) {
		if (!lenient) {
			seterr(err, errsz, "stop is before start");
			goto fail;
		}
		out->stop = NULL;
	}

	out->tags = get_array(obj, "tags", 0, &bad);
	if (bad) {
		if (!lenient) {
			seterr(err, errsz, "tags is not an array of strings");
			goto fail;
		}
		out->tags = json_array();
	}
	out->tag_ids = get_array(obj, "tag_ids", 1, &bad);
	if (bad) {
		if (!lenient) {
			seterr(err, errsz, "tag_ids is not an array of positive integers");
			goto fail;
		}
		out->tag_ids = json_array();
	}
	if (out->tags == NULL || out->tag_ids == NULL) {
		seterr(err, errsz, "out of memory");
		goto fail;
	}
	return 0;
fail:
	toggl_entry_free(out);
	return -1;
}

/* A string member, or NULL when absent or of another type (members that are only recorded). */
static const char *
opt_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
toggl_webhook_parse(json_t *body, struct toggl_webhook *out, char *err, size_t errsz)
{
	json_t *payload, *meta, *code;
	char key[64];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(body)) {
		seterr(err, errsz, "the body is not a JSON object");
		return -1;
	}
	payload = json_object_get(body, "payload");
	out->kind = json_is_string(payload) && strcmp(json_string_value(payload), "ping") == 0 ?
	    TOGGL_EVENT_PING : TOGGL_EVENT_ENTITY;
	out->payload = json_is_object(payload) ? payload : NULL;

	rc = toggl_json_id(body, "event_id", 1, &out->event_id);
	if (rc == 0 && out->kind == TOGGL_EVENT_PING)
		out->event_id = 0;
	else if (rc != 1 || (out->kind == TOGGL_EVENT_ENTITY && out->event_id == 0)) {
		seterr(err, errsz, "event_id is missing or not a positive integer");
		return -1;
	}
	if ((code = json_object_get(body, "validation_code")) != NULL && !json_is_null(code)) {
		const char *s = json_string_value(code);
		size_t n = s ? strlen(s) : 0;
		if (s == NULL || n == 0 || n > LIMIT_WEBHOOK_VALIDATION_CODE_MAX) {
			seterr(err, errsz, "validation_code is not a string of 1 to %d characters",
			    LIMIT_WEBHOOK_VALIDATION_CODE_MAX);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
				seterr(err, errsz, "validation_code has a character outside printable ASCII");
				return -1;
			}
		out->validation_code = s;
	}
	if (toggl_json_id(body, "subscription_id", 0, &out->subscription_id) != 1)
		out->subscription_id = 0;
	out->created_at = opt_str(body, "created_at");
	out->timestamp = opt_str(body, "timestamp");
	out->url_callback = opt_str(body, "url_callback");

	meta = json_object_get(body, "metadata");
	if (json_is_object(meta)) {
		out->model = opt_str(meta, "model");
		out->action = opt_str(meta, "action");
		if (toggl_json_id(meta, "model_owner_id", 0, &out->model_owner_id) != 1)
			out->model_owner_id = 0;
		if (out->model && strlen(out->model) < sizeof(key) - 4) {
			snprintf(key, sizeof(key), "%s_id", out->model);
			if (toggl_json_id(meta, key, 0, &out->object_id) != 1)
				out->object_id = 0;
		}
	}
	return 0;
}
