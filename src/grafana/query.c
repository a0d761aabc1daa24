/* query.c: answers the Grafana JSON API: runs the STMT_GRAFANA_* statements for a parsed request and
 * turns their rows into what Grafana's toDataFrame() reads (DataFrame DTOs, legacy {target, datapoints}
 * series and legacy tables), plus the metric list, option lists, tag keys and values. Everything runs in
 * one read-only transaction under LIMIT_GRAFANA_STATEMENT_MS. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "grafana/grafana.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/tbtime.h"

/* ---- small helpers ----------------------------------------------------------------------------------- */

/* jansson setters that remember running out of memory instead of losing a value silently. */
static void
jset(json_t *o, const char *k, json_t *v, int *oom)
{
	if (o == NULL || v == NULL || json_object_set_new(o, k, v) != 0)
		*oom = 1;
}

static void
jpush(json_t *a, json_t *v, int *oom)
{
	if (a == NULL || v == NULL || json_array_append_new(a, v) != 0)
		*oom = 1;
}

/* Text from the database (UTF-8: the database encoding) as a JSON string. */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");

	return j ? j : json_string("\xef\xbf\xbd");
}

static json_t *
jnum_or_null(const char *s)
{
	return s ? json_real(strtod(s, NULL)) : json_null();
}

static json_t *
jms_or_null(const char *s)
{
	return s ? json_integer((json_int_t)strtoll(s, NULL, 10)) : json_null();
}

/* Epoch ms as the ISO text the statements take. */
static const char *
iso(struct arena *a, int64_t ms)
{
	int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000), days, sec;
	int64_t y;
	int m, d;

	days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	sec = s - days * 86400;
	tb_civil_from_days(days, &y, &m, &d);
	return arena_printf(a, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(sec / 3600),
	    (int)(sec / 60 % 60), (int)(sec % 60), (int)(ms - s * 1000));
}

/* A PostgreSQL array literal of strings: {"a","b\"c"}. */
static const char *
text_array(struct arena *a, const struct grafana_strv *v)
{
	struct buf b = BUF_INIT;
	const char *out;

	buf_putc(&b, '{');
	for (size_t i = 0; i < v->n; i++) {
		buf_puts(&b, i ? ",\"" : "\"");
		for (const char *p = v->v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	out = b.oom ? NULL : arena_strdup(a, b.data);
	buf_free(&b);
	return out;
}

/* Turn the last statement's failure into an answer. */
static int
db_fail(struct grafana_ctx *c, struct grafana_err *e, const char *what)
{
	const char *st = db_sqlstate(c->db), *msg = strstr(c->db->err, "ERROR:");

	if (strcmp(st, "57014") == 0)
		return grafana_fail(e, 504, "TIMEOUT", "the query ran longer than %d ms and was cancelled; narrow the "
		    "time range, the filters or the grouping", LIMIT_GRAFANA_STATEMENT_MS);
	if (strcmp(st, "2201B") == 0) {
		msg = msg ? msg + 6 : c->db->err;
		while (*msg == ' ')
			msg++;
		return grafana_fail(e, 400, "BAD_FILTER", "a filter's regular expression is not valid: %s", msg);
	}
	if (!db_ok(c->db) || (st[0] == '0' && st[1] == '8'))
		return grafana_fail(e, 503, "DB_DOWN", "database unavailable");
	log_error(c->rid, "grafana %s: %s", what, c->db->err);
	return grafana_fail(e, 500, "INTERNAL", "database error (request %s is in the server log)", c->rid);
}

static int
oom_fail(struct grafana_err *e)
{
	return grafana_fail(e, 500, "INTERNAL", "out of memory");
}

/* ---- transaction, account, scope, zone ------------------------------------------------------------ */

int
grafana_begin(struct grafana_ctx *c, struct grafana_err *e)
{
	char ms[24], kb[24];

	if (db_begin(c->db) != 0)
		return db_ok(c->db) ? db_fail(c, e, "begin") : grafana_fail(e, 503, "DB_DOWN", "database unavailable");
	snprintf(ms, sizeof(ms), "%d", LIMIT_GRAFANA_STATEMENT_MS);
	snprintf(kb, sizeof(kb), "%d", LIMIT_GRAFANA_WORK_MEM_KB);
	if (DB_RUN(c->db, STMT_GRAFANA_SETTINGS, ms, kb) != 0) {
		int rc = db_fail(c, e, "settings");
		db_rollback(c->db);
		return rc;
	}
	return 0;
}

int
grafana_end(struct grafana_ctx *c, int ok)
{
	if (ok)
		return db_commit(c->db);
	db_rollback(c->db);
	return 0;
}

/* The user's zone and first day of the week, read once per request. */
static int
account(struct grafana_ctx *c, struct grafana_err *e)
{
	char id[DB_I64_LEN];
	PGresult *res;
	const char *tz, *canon = NULL;
	int rc;

	if (c->have_account)
		return 0;
	if ((res = DB_EXEC(c->db, STMT_GRAFANA_ACCOUNT, db_i64s(c->user_id, id))) == NULL)
		return db_fail(c, e, "account");
	c->account_tz = "UTC";
	c->beginning_of_week = 1;
	if (PQntuples(res) == 1) {
		tz = db_str(res, 0, 0) ? db_str(res, 0, 0) : db_str(res, 0, 2);
		if (!db_isnull(res, 0, 1))
			c->beginning_of_week = (int)db_i64(res, 0, 1);
		if (tz && (rc = grafana_tz_lookup(c->db, tz, &canon)) == 1)
			c->account_tz = canon;
		else if (tz && rc < 0) {
			PQclear(res);
			return db_fail(c, e, "zones");
		}
	}
	PQclear(res);
	c->have_account = 1;
	return 0;
}

/* The zone of a target: its payload's tz, else the request's timezone when it names a zone, else the
 * user's Toggl zone. */
static int
pick_tz(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t, const char *where,
    const char **tz, struct grafana_err *e)
{
	int rc;

	if (t->tz) {
		if ((rc = grafana_tz_lookup(c->db, t->tz, tz)) < 0)
			return db_fail(c, e, "zones");
		if (rc == 0)
			return grafana_fail(e, 400, "BAD_REQUEST", "%s.tz: unknown time zone \"%.60s\"; use an IANA name "
			    "such as Europe/Prague or UTC", where, t->tz);
		return 0;
	}
	if (q && grafana_tz_is_candidate(q->timezone)) {
		if ((rc = grafana_tz_lookup(c->db, q->timezone, tz)) < 0)
			return db_fail(c, e, "zones");
		if (rc == 1)
			return 0;
	}
	if (account(c, e) != 0)
		return -1;
	*tz = c->account_tz;
	return 0;
}

/* Whose entries a target reads: a bigint[] literal, or NULL for everyone (admins, when no users are
 * named). Only admins may name other users. */
static int
scope(struct grafana_ctx *c, const struct grafana_target *t, const char *where, const char **out,
    struct grafana_err *e)
{
	char id[DB_I64_LEN];
	struct buf b = BUF_INIT;
	struct grafana_strv refs = { NULL, 0 };
	const char *lit;
	PGresult *res = NULL;
	int rc = -1, self = 0;

	db_i64s(c->user_id, id);
	*out = NULL;
	if (t == NULL || t->users.n == 0) {
		if (!c->admin)
			*out = arena_printf(c->arena, "{%s}", id);
		return c->admin || *out ? 0 : oom_fail(e);
	}
	if ((refs.v = arena_alloc(c->arena, t->users.n * sizeof(*refs.v))) == NULL)
		return oom_fail(e);
	for (size_t i = 0; i < t->users.n; i++) {
		if (strcasecmp(t->users.v[i], "me") == 0 || strcmp(t->users.v[i], id) == 0)
			self = 1;
		else
			refs.v[refs.n++] = t->users.v[i];
	}
	if (refs.n > 0 && !c->admin)
		return grafana_fail(e, 403, "FORBIDDEN", "%s.users: only an admin token may read other users' entries",
		    where);
	if (refs.n == 0) {
		*out = arena_printf(c->arena, "{%s}", id);
		return *out ? 0 : oom_fail(e);
	}
	if ((lit = text_array(c->arena, &refs)) == NULL)
		return oom_fail(e);
	if ((res = DB_EXEC(c->db, STMT_GRAFANA_USERS_RESOLVE, lit)) == NULL)
		return db_fail(c, e, "users");
	buf_putc(&b, '{');
	if (self)
		buf_puts(&b, id);
	for (int i = 0; i < PQntuples(res); i++) {
		if (db_isnull(res, i, 1)) {
			grafana_fail(e, 400, "BAD_REQUEST", "%s.users: no user \"%.60s\"", where, db_str(res, i, 0));
			goto out;
		}
		buf_printf(&b, "%s%s", b.len > 1 ? "," : "", db_str(res, i, 1));
	}
	buf_putc(&b, '}');
	if (b.oom || (*out = arena_strdup(c->arena, b.data)) == NULL) {
		oom_fail(e);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/* ---- time series --------------------------------------------------------------------------------- */

struct series {
	const char    *label, *color, *cur;
	double        *v;
	unsigned char *null;
	double         total;
	size_t         seq;
};

static const char *const metric_labels[GRAFANA_M__MAX] = {
	"Hours", "Entries", "Billable ratio", "Earnings", "Entries", "Running", "Annotations",
};

static const char *
unit_of(enum grafana_metric m, const char *cur, struct arena *a)
{
	static const char *const currencies[] = {
		"USD", "GBP", "EUR", "JPY", "RUB", "UAH", "BRL", "DKK", "ISK", "NOK", "SEK", "CZK", "CHF", "PLN",
		"ZAR", "INR", "KRW", "IDR", "PHP", "VND", "TRY", "MYR", "BGN", "ILS",
	};

	switch (m) {
	case GRAFANA_M_HOURS:
		return "h";
	case GRAFANA_M_BILLABLE_RATIO:
		return "percentunit";
	case GRAFANA_M_EARNINGS:
		for (size_t i = 0; cur && i < sizeof(currencies) / sizeof(currencies[0]); i++)
			if (strcasecmp(cur, currencies[i]) == 0)
				return arena_printf(a, "currency%s", currencies[i]);
		return "none";
	default:
		return "none";
	}
}

/* A series' display name: the alias with {{label}} replaced, else the group label, else the metric. */
static const char *
display_name(struct arena *a, const struct grafana_target *t, const struct series *s)
{
	const char *label = s->label, *p;

	if (t->group == GRAFANA_G_NONE)
		label = metric_labels[t->metric];
	if (s->cur && *s->cur)
		label = arena_printf(a, "%s (%s)", label, s->cur);
	if (label == NULL)
		return "";
	if (t->alias == NULL)
		return label;
	if ((p = strstr(t->alias, "{{label}}")) != NULL)
		return arena_printf(a, "%.*s%s%s", (int)(p - t->alias), t->alias, label, p + 9);
	return t->group == GRAFANA_G_NONE ? t->alias : label;
}

static int
by_total(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static json_t *
values_json(const struct series *s, size_t n, int *oom)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		jpush(arr, s->null[i] ? json_null() : json_real(s->v[i]), oom);
	return arr;
}

static json_t *
ms_json(const int64_t *ms, size_t n, int *oom)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		jpush(arr, json_integer((json_int_t)ms[i]), oom);
	return arr;
}

static json_t *
notice(const char *text)
{
	return json_pack("{s:[{s:s, s:s}]}", "notices", "severity", "warning", "text", text);
}

/* Emit the series of one target in its format. */
static void
emit_series(struct grafana_ctx *c, const struct grafana_target *t, struct series *ss, size_t ns, const int64_t *ms,
    size_t nb, const char *truncated, json_t *out, int *oom)
{
	const char *field = grafana_metric_names[t->metric];
	json_t *table = NULL, *rows = NULL;

	if (t->format == GRAFANA_F_TABLE) {
		table = json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}", "type", "table", "refId",
		    t->ref_id, "columns", "text", "time", "type", "time", "text",
		    t->group == GRAFANA_G_NONE ? "series" : grafana_group_names[t->group], "type", "string", "text", field,
		    "type", "number");
		rows = json_array();
		jset(table, "rows", rows, oom);
		json_incref(rows);
	}
	for (size_t k = 0; k < ns; k++) {
		const struct series *s = &ss[k];
		const char *name = display_name(c->arena, t, s);
		json_t *el, *cfg, *vf;

		if (name == NULL) {
			*oom = 1;
			break;
		}
		if (t->format == GRAFANA_F_TABLE) {
			for (size_t i = 0; i < nb; i++)
				jpush(rows, json_pack("[I, s, o]", (json_int_t)ms[i], name,
				    s->null[i] ? json_null() : json_real(s->v[i])), oom);
			continue;
		}
		if (t->format == GRAFANA_F_SERIES) {
			json_t *dp = json_array();
			for (size_t i = 0; i < nb; i++)
				jpush(dp, json_pack("[o, I]", s->null[i] ? json_null() : json_real(s->v[i]), (json_int_t)ms[i]),
				    oom);
			el = json_pack("{s:s, s:s, s:o}", "target", name, "refId", t->ref_id, "datapoints", dp);
			jpush(out, el, oom);
			continue;
		}
		cfg = json_pack("{s:s, s:s}", "displayNameFromDS", name, "unit", unit_of(t->metric, s->cur, c->arena));
		if (s->color && *s->color)
			jset(cfg, "color", json_pack("{s:s, s:s}", "mode", "fixed", "fixedColor", s->color), oom);
		vf = json_pack("{s:s, s:s, s:o, s:o}", "name", field, "type", "number", "values", values_json(s, nb, oom),
		    "config", cfg);
		if (t->group != GRAFANA_G_NONE)
			jset(vf, "labels", json_pack("{s:s}", grafana_group_names[t->group], s->label ? s->label : ""), oom);
		el = json_pack("{s:s, s:s, s:[{s:s, s:s, s:o}, o]}", "name", name, "refId", t->ref_id, "fields", "name",
		    "time", "type", "time", "values", ms_json(ms, nb, oom), vf);
		if (k == 0 && truncated)
			jset(el, "meta", notice(truncated), oom);
		jpush(out, el, oom);
	}
	if (table) {
		if (truncated)
			jset(table, "meta", notice(truncated), oom);
		jpush(out, table, oom);
		json_decref(rows);
	}
}

static int
run_series(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t,
    const char *where, const char *users, const char *filters, json_t *out, struct grafana_err *e)
{
	struct grafana_plan plan;
	char step[16], bow[16], count[16];
	const char *tz = NULL, *truncated = NULL;
	PGresult *res = NULL;
	struct series *ss = NULL;
	int64_t *ms = NULL;
	size_t nb = 0, ns = 0, nrows, cur = (size_t)-1;
	int rc = -1, oom = 0;

	if (grafana_plan_buckets(q->from_ms, q->to_ms, t->unit, q->interval_ms, q->max_points, &plan) != 0)
		return grafana_fail(e, 400, "BAD_REQUEST", "range: too long to cut into buckets");
	if (pick_tz(c, q, t, where, &tz, e) != 0 || account(c, e) != 0)
		return -1;
	snprintf(step, sizeof(step), "%d", plan.step);
	snprintf(bow, sizeof(bow), "%d", ((c->beginning_of_week % 7) + 7) % 7);
	snprintf(count, sizeof(count), "%d", plan.count);
	res = DB_EXEC(c->db, t->group == GRAFANA_G_TAG ? STMT_GRAFANA_SERIES_TAG : STMT_GRAFANA_SERIES, users,
	    iso(c->arena, q->from_ms), iso(c->arena, q->to_ms), tz, grafana_unit_names[plan.unit], step, bow,
	    grafana_group_names[t->group], filters, grafana_metric_names[t->metric], count);
	if (res == NULL)
		return db_fail(c, e, "series");
	nrows = (size_t)PQntuples(res);
	if ((ms = arena_alloc(c->arena, (nrows + 1) * sizeof(*ms))) == NULL ||
	    (ss = arena_alloc(c->arena, (nrows + 1) * sizeof(*ss))) == NULL) {
		oom_fail(e);
		goto out;
	}
	for (size_t r = 0; r < nrows; r++) {
		int kind = (int)db_i64(res, (int)r, 1);
		if (kind == 0) {
			ms[nb++] = db_i64(res, (int)r, 3);
			continue;
		}
		if (nb < 2) {
			grafana_fail(e, 500, "INTERNAL", "no buckets");
			goto out;
		}
		if (kind == 1) {
			struct series *s = &ss[ns];
			s->label = arena_strdup(c->arena, db_str(res, (int)r, 7) ? db_str(res, (int)r, 7) : "");
			s->color = db_str(res, (int)r, 8) ? arena_strdup(c->arena, db_str(res, (int)r, 8)) : NULL;
			s->cur = db_str(res, (int)r, 6) ? arena_strdup(c->arena, db_str(res, (int)r, 6)) : NULL;
			s->v = arena_alloc(c->arena, nb * sizeof(*s->v));
			s->null = arena_alloc(c->arena, nb);
			s->seq = ns;
			if (s->label == NULL || s->v == NULL || s->null == NULL) {
				oom_fail(e);
				goto out;
			}
			/* A bucket without entries has 0 hours; its billable ratio is undefined. */
			memset(s->null, t->metric == GRAFANA_M_BILLABLE_RATIO, nb);
			cur = ns++;
			continue;
		}
		if (cur != (size_t)-1) {
			long i = (long)db_i64(res, (int)r, 2) - 1;
			if (i >= 0 && (size_t)i < nb - 1 && !db_isnull(res, (int)r, 9)) {
				ss[cur].v[i] = strtod(db_str(res, (int)r, 9), NULL);
				ss[cur].null[i] = 0;
				ss[cur].total += ss[cur].v[i];
			}
		}
	}
	if (nb < 2) {
		grafana_fail(e, 500, "INTERNAL", "no buckets");
		goto out;
	}
	nb--;   /* the last bound ends the last bucket; it is not a point */
	if (ns == 0 && t->group == GRAFANA_G_NONE && t->metric != GRAFANA_M_EARNINGS) {
		struct series *s = &ss[0];
		s->label = "";
		s->v = arena_alloc(c->arena, nb * sizeof(*s->v));
		s->null = arena_alloc(c->arena, nb);
		if (s->v == NULL || s->null == NULL) {
			oom_fail(e);
			goto out;
		}
		memset(s->null, t->metric == GRAFANA_M_BILLABLE_RATIO, nb);
		ns = 1;
	}
	qsort(ss, ns, sizeof(*ss), by_total);
	if (ns > LIMIT_GRAFANA_SERIES_MAX) {
		truncated = arena_printf(c->arena, "%zu series; only the %d largest are shown", ns,
		    LIMIT_GRAFANA_SERIES_MAX);
		ns = LIMIT_GRAFANA_SERIES_MAX;
	}
	emit_series(c, t, ss, ns, ms, nb, truncated, out, &oom);
	if (oom) {
		oom_fail(e);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* ---- entries, running, annotations ------------------------------------------------------------------- */

/* Columns of STMT_GRAFANA_ENTRIES. */
enum { E_ID, E_START, E_END, E_HOURS, E_PROJECT, E_CLIENT, E_TAGS, E_TAGS_JSON, E_DESC, E_BILLABLE, E_EMAIL,
	E_COLOR };

static PGresult *
entries(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t, const char *users,
    const char *filters, long *limit, struct grafana_err *e)
{
	char lim[24];
	PGresult *res;

	*limit = t->limit > 0 ? t->limit : LIMIT_GRAFANA_ROWS_DEFAULT;
	snprintf(lim, sizeof(lim), "%ld", *limit);
	if ((res = DB_EXEC(c->db, STMT_GRAFANA_ENTRIES, users, iso(c->arena, q->from_ms), iso(c->arena, q->to_ms),
	    filters, lim)) == NULL)
		db_fail(c, e, "entries");
	return res;
}

/* A column for a frame (name, type, values) or a legacy table (text, type). */
struct col {
	const char *name, *type;
	json_t     *values;
};

/* Release the value arrays of columns that will not be emitted (a failed query). */
static void
cols_free(struct col *cols, size_t ncols)
{
	for (size_t k = 0; k < ncols; k++)
		json_decref(cols[k].values);
}

static void
emit_table(const struct grafana_target *t, const char *frame_name, struct col *cols, size_t ncols, size_t nrows,
    const char *note, json_t *out, int *oom)
{
	json_t *el;

	if (t->format == GRAFANA_F_TABLE || t->format == GRAFANA_F_SERIES) {
		json_t *columns = json_array(), *rows = json_array();
		for (size_t r = 0; r < nrows; r++) {
			json_t *row = json_array();
			for (size_t k = 0; k < ncols; k++)
				jpush(row, json_incref(json_array_get(cols[k].values, r)), oom);
			jpush(rows, row, oom);
		}
		for (size_t k = 0; k < ncols; k++) {
			jpush(columns, json_pack("{s:s, s:s}", "text", cols[k].name, "type", cols[k].type), oom);
			json_decref(cols[k].values);
		}
		el = json_pack("{s:s, s:s, s:o, s:o}", "type", "table", "refId", t->ref_id, "columns", columns, "rows", rows);
	} else {
		json_t *fields = json_array();
		for (size_t k = 0; k < ncols; k++) {
			json_t *f = json_pack("{s:s, s:s, s:o}", "name", cols[k].name, "type", cols[k].type, "values",
			    cols[k].values);
			if (f && strcmp(cols[k].name, "hours") == 0)
				jset(f, "config", json_pack("{s:s}", "unit", "h"), oom);
			if (f && strcmp(cols[k].name, "elapsed") == 0)
				jset(f, "config", json_pack("{s:s}", "unit", "h"), oom);
			jpush(fields, f, oom);
		}
		el = json_pack("{s:s, s:s, s:o}", "name", frame_name, "refId", t->ref_id, "fields", fields);
	}
	if (el && note)
		jset(el, "meta", notice(note), oom);
	jpush(out, el, oom);
}

static int
run_entries_table(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t,
    const char *users, const char *filters, json_t *out, struct grafana_err *e)
{
	struct col cols[] = {
		{ "start", "time", json_array() }, { "stop", "time", json_array() }, { "hours", "number", json_array() },
		{ "project", "string", json_array() }, { "client", "string", json_array() },
		{ "tags", "string", json_array() }, { "description", "string", json_array() },
		{ "billable", "boolean", json_array() }, { "user", "string", json_array() },
	};
	size_t ncols = c->admin ? 9 : 8, n;
	const char *note = NULL;
	PGresult *res;
	long limit;
	int oom = 0;

	if ((res = entries(c, q, t, users, filters, &limit, e)) == NULL) {
		cols_free(cols, sizeof(cols) / sizeof(cols[0]));
		return -1;
	}
	n = (size_t)PQntuples(res);
	for (size_t r = 0; r < n; r++) {
		int i = (int)r;
		jpush(cols[0].values, jms_or_null(db_str(res, i, E_START)), &oom);
		jpush(cols[1].values, jms_or_null(db_str(res, i, E_END)), &oom);
		jpush(cols[2].values, jnum_or_null(db_str(res, i, E_HOURS)), &oom);
		jpush(cols[3].values, jstr(db_str(res, i, E_PROJECT)), &oom);
		jpush(cols[4].values, jstr(db_str(res, i, E_CLIENT)), &oom);
		jpush(cols[5].values, jstr(db_str(res, i, E_TAGS)), &oom);
		jpush(cols[6].values, jstr(db_str(res, i, E_DESC)), &oom);
		jpush(cols[7].values, json_boolean(db_bool(res, i, E_BILLABLE)), &oom);
		jpush(cols[8].values, jstr(db_str(res, i, E_EMAIL)), &oom);
	}
	PQclear(res);
	if (n == (size_t)limit)
		note = arena_printf(c->arena, "the newest %ld entries are shown; set payload.limit (up to %d) for more",
		    limit, LIMIT_GRAFANA_ROWS_MAX);
	if (ncols < 9)
		json_decref(cols[8].values);
	emit_table(t, "entries", cols, ncols, n, note, out, &oom);
	return oom ? oom_fail(e) : 0;
}

static int
run_running(struct grafana_ctx *c, const struct grafana_target *t, const char *users, const char *filters,
    json_t *out, struct grafana_err *e)
{
	struct col cols[] = {
		{ "start", "time", json_array() }, { "elapsed", "number", json_array() },
		{ "description", "string", json_array() }, { "project", "string", json_array() },
		{ "client", "string", json_array() }, { "tags", "string", json_array() },
		{ "billable", "boolean", json_array() }, { "user", "string", json_array() },
	};
	size_t ncols = c->admin ? 8 : 7, n;
	PGresult *res;
	int oom = 0;

	if ((res = DB_EXEC(c->db, STMT_GRAFANA_RUNNING, users, filters)) == NULL) {
		cols_free(cols, sizeof(cols) / sizeof(cols[0]));
		return db_fail(c, e, "running");
	}
	n = (size_t)PQntuples(res);
	for (size_t r = 0; r < n; r++) {
		int i = (int)r;
		jpush(cols[0].values, jms_or_null(db_str(res, i, 1)), &oom);
		jpush(cols[1].values, jnum_or_null(db_str(res, i, 2)), &oom);
		jpush(cols[2].values, jstr(db_str(res, i, 6)), &oom);
		jpush(cols[3].values, jstr(db_str(res, i, 3)), &oom);
		jpush(cols[4].values, jstr(db_str(res, i, 4)), &oom);
		jpush(cols[5].values, jstr(db_str(res, i, 5)), &oom);
		jpush(cols[6].values, json_boolean(db_bool(res, i, 7)), &oom);
		jpush(cols[7].values, jstr(db_str(res, i, 8)), &oom);
	}
	PQclear(res);
	if (ncols < 8)
		json_decref(cols[7].values);
	emit_table(t, "running", cols, ncols, n, NULL, out, &oom);
	return oom ? oom_fail(e) : 0;
}

/* An annotation's text: the description and how long. */
static const char *
anno_text(struct arena *a, PGresult *res, int i)
{
	const char *d = db_str(res, i, E_DESC);

	return arena_printf(a, "%s (%.2f h%s)", d && *d ? d : "(no description)",
	    strtod(db_str(res, i, E_HOURS), NULL), db_isnull(res, i, E_END) ? ", running" : "");
}

static json_t *
anno_tags(PGresult *res, int i)
{
	json_t *tags = json_loads(db_str(res, i, E_TAGS_JSON) ? db_str(res, i, E_TAGS_JSON) : "[]", 0, NULL);

	return json_is_array(tags) ? tags : (json_decref(tags), json_array());
}

static int
run_annotations(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t,
    const char *users, const char *filters, json_t *out, struct grafana_err *e)
{
	struct col cols[] = {
		{ "time", "time", json_array() }, { "timeEnd", "time", json_array() }, { "title", "string", json_array() },
		{ "text", "string", json_array() }, { "tags", "other", json_array() },
	};
	int64_t now = tb_now_ms();
	PGresult *res;
	long limit;
	size_t n;
	int oom = 0;

	if ((res = entries(c, q, t, users, filters, &limit, e)) == NULL) {
		cols_free(cols, sizeof(cols) / sizeof(cols[0]));
		return -1;
	}
	n = (size_t)PQntuples(res);
	for (size_t r = 0; r < n; r++) {
		int i = (int)r;
		jpush(cols[0].values, jms_or_null(db_str(res, i, E_START)), &oom);
		/* A running entry's region ends now. */
		jpush(cols[1].values, db_isnull(res, i, E_END) ? json_integer((json_int_t)now) :
		    jms_or_null(db_str(res, i, E_END)), &oom);
		jpush(cols[2].values, jstr(db_str(res, i, E_PROJECT)), &oom);
		jpush(cols[3].values, jstr(anno_text(c->arena, res, i)), &oom);
		jpush(cols[4].values, anno_tags(res, i), &oom);
	}
	PQclear(res);
	{
		/* Annotations are always frames: Grafana maps their fields, not table columns. */
		struct grafana_target ft = *t;
		ft.format = GRAFANA_F_FRAMES;
		emit_table(&ft, "annotations", cols, 5, n, NULL, out, &oom);
	}
	return oom ? oom_fail(e) : 0;
}

int
grafana_annotations_legacy(struct grafana_ctx *c, const struct grafana_query *q, const struct grafana_target *t,
    json_t *anno, json_t *out, struct grafana_err *e)
{
	const char *users, *filters;
	int64_t now = tb_now_ms();
	PGresult *res;
	long limit;
	int oom = 0;

	if (scope(c, t, "annotation.query", &users, e) != 0)
		return -1;
	filters = grafana_filters_sql(c->arena, &q->adhoc, &t->filters, GRAFANA_K__MAX, &oom);
	if (oom)
		return oom_fail(e);
	if ((res = entries(c, q, t, users, filters, &limit, e)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *ev = json_pack("{s:O, s:I, s:I, s:b, s:o, s:o, s:o}", "annotation", anno ? anno : json_null(),
		    "time", (json_int_t)db_i64(res, i, E_START), "timeEnd",
		    (json_int_t)(db_isnull(res, i, E_END) ? now : db_i64(res, i, E_END)), "isRegion", 1,
		    "title", jstr(db_str(res, i, E_PROJECT)), "text", jstr(anno_text(c->arena, res, i)),
		    "tags", anno_tags(res, i));
		jpush(out, ev, &oom);
	}
	PQclear(res);
	return oom ? oom_fail(e) : 0;
}

int
grafana_query(struct grafana_ctx *c, const struct grafana_query *q, json_t *out, struct grafana_err *e)
{
	for (size_t i = 0; i < q->ntargets; i++) {
		const struct grafana_target *t = &q->targets[i];
		const char *users, *filters;
		char where[48];
		int oom = 0, rc;

		snprintf(where, sizeof(where), "targets[%zu].payload", i);
		if (t->group == GRAFANA_G_USER && !c->admin)
			return grafana_fail(e, 403, "FORBIDDEN", "%s.group_by: grouping by user needs an admin token", where);
		if (scope(c, t, where, &users, e) != 0)
			return -1;
		filters = grafana_filters_sql(c->arena, &q->adhoc, &t->filters, GRAFANA_K__MAX, &oom);
		if (oom)
			return oom_fail(e);
		switch (t->metric) {
		case GRAFANA_M_ENTRIES_TABLE:
			rc = run_entries_table(c, q, t, users, filters, out, e);
			break;
		case GRAFANA_M_RUNNING:
			rc = run_running(c, t, users, filters, out, e);
			break;
		case GRAFANA_M_ANNOTATIONS:
			rc = run_annotations(c, q, t, users, filters, out, e);
			break;
		default:
			rc = run_series(c, q, t, where, users, filters, out, e);
			break;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ---- metrics, lists, tag keys and values ------------------------------------------------------------ */

static json_t *
options_of(const char *const *values, const char *const *labels, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_pack("{s:s, s:s}", "value", values[i], "label", labels[i])) != 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static const char *const group_labels[GRAFANA_G__MAX] = {
	"None", "Project", "Client", "Tag", "Workspace", "Billable", "Description", "User",
};
static const char *const unit_labels[GRAFANA_U__MAX] = {
	"Auto (from the panel's interval)", "Hour", "Day", "Week", "Month", "Whole range",
};
static const char *const billable_values[] = { "any", "true", "false" };
static const char *const billable_labels[] = { "Any", "Billable", "Non-billable" };
static const char *const format_values[] = { "frames", "timeseries", "table" };
static const char *const format_labels[] = { "Data frames", "Legacy time series", "Legacy table" };

/* The payload fields a metric takes, in the builder's order. */
static json_t *
payloads_of(const struct grafana_ctx *c, enum grafana_metric m)
{
	int series = m <= GRAFANA_M_EARNINGS, rows = m == GRAFANA_M_ENTRIES_TABLE || m == GRAFANA_M_ANNOTATIONS;
	size_t ngroups = c->admin ? GRAFANA_G__MAX : GRAFANA_G__MAX - 1;
	json_t *p = json_array();
	int oom = 0;

	if (series)
		jpush(p, json_pack("{s:s, s:s, s:s, s:o, s:i}", "name", "group_by", "label", "Group by", "type", "select",
		    "options", options_of(grafana_group_names, group_labels, ngroups), "width", 20), &oom);
	jpush(p, json_pack("{s:s, s:s, s:s, s:s}", "name", "projects", "label", "Projects", "type", "multi-select",
	    "placeholder", "all projects"), &oom);
	jpush(p, json_pack("{s:s, s:s, s:s, s:s}", "name", "clients", "label", "Clients", "type", "multi-select",
	    "placeholder", "all clients"), &oom);
	jpush(p, json_pack("{s:s, s:s, s:s, s:s}", "name", "tags", "label", "Tags", "type", "multi-select",
	    "placeholder", "any tags"), &oom);
	jpush(p, json_pack("{s:s, s:s, s:s, s:s}", "name", "workspaces", "label", "Workspaces", "type",
	    "multi-select", "placeholder", "all workspaces"), &oom);
	if (m != GRAFANA_M_RUNNING)
		jpush(p, json_pack("{s:s, s:s, s:s, s:o}", "name", "billable", "label", "Billable", "type", "select",
		    "options", options_of(billable_values, billable_labels, 3)), &oom);
	if (series) {
		jpush(p, json_pack("{s:s, s:s, s:s, s:o}", "name", "bucket", "label", "Bucket", "type", "select",
		    "options", options_of(grafana_unit_names, unit_labels, GRAFANA_U__MAX)), &oom);
		jpush(p, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", "tz", "label", "Time zone", "type", "input",
		    "placeholder", "IANA name; default: the dashboard's, else your Toggl zone", "width", 30), &oom);
	}
	if (rows)
		jpush(p, json_pack("{s:s, s:s, s:s, s:s}", "name", "limit", "label", "Rows", "type", "input",
		    "placeholder", "1000"), &oom);
	if (m != GRAFANA_M_ANNOTATIONS)
		jpush(p, json_pack("{s:s, s:s, s:s, s:o}", "name", "format", "label", "Format", "type", "select",
		    "options", options_of(format_values, format_labels, 3)), &oom);
	if (c->admin)
		jpush(p, json_pack("{s:s, s:s, s:s, s:s}", "name", "users", "label", "Users", "type", "multi-select",
		    "placeholder", "everyone"), &oom);
	if (oom) {
		json_decref(p);
		return NULL;
	}
	return p;
}

json_t *
grafana_metrics(const struct grafana_ctx *c, int legacy, const char *match)
{
	static const char *const labels[GRAFANA_M__MAX] = {
		"Hours", "Entries (count)", "Billable ratio", "Earnings", "Entries table", "Running timer",
		"Entries as annotations",
	};
	json_t *arr = json_array();
	int oom = 0;

	for (int m = 0; m < GRAFANA_M__MAX; m++) {
		if (match && *match && strstr(grafana_metric_names[m], match) == NULL)
			continue;
		if (legacy)
			jpush(arr, json_string(grafana_metric_names[m]), &oom);
		else
			jpush(arr, json_pack("{s:s, s:s, s:o}", "value", grafana_metric_names[m], "label", labels[m],
			    "payloads", payloads_of(c, (enum grafana_metric)m)), &oom);
	}
	if (oom) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* Append one choice in the asked style. */
static void
push_choice(json_t *out, int style, const char *value, const char *text, int *oom)
{
	if (style == 0)
		jpush(out, json_pack("{s:o, s:o}", "value", jstr(value), "label", jstr(text)), oom);
	else if (style == 1)
		jpush(out, json_pack("{s:o, s:o}", "__text", jstr(text), "__value", jstr(value)), oom);
	else
		jpush(out, jstr(text), oom);
}

/* The values of the payload filters on key (ids or names), for narrowing a list. */
static const char *
refs_of(struct arena *a, const struct grafana_target *t, enum grafana_key key)
{
	for (size_t i = 0; t && i < t->filters.n; i++)
		if (t->filters.v[i].key == key && t->filters.v[i].op == GRAFANA_OP_IN)
			return text_array(a, &t->filters.v[i].vals);
	return NULL;
}

int
grafana_list(struct grafana_ctx *c, const char *list, const struct grafana_target *t, int style, json_t *out,
    struct grafana_err *e)
{
	static const struct { const char *name; const char *kind; } lists[] = {
		{ "projects", "project" }, { "clients", "client" }, { "tags", "tag" }, { "workspaces", "workspace" },
		{ "users", "user" },
	};
	char lim[16];
	const char *users, *kind = NULL;
	PGresult *res;
	int oom = 0;
	size_t n;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (strcasecmp(list, lists[i].name) == 0 || strcasecmp(list, lists[i].kind) == 0)
			kind = lists[i].kind;
	if (kind == NULL) {
		const char *const *values = NULL, *const *labels = NULL;
		if (strcasecmp(list, "group_by") == 0) {
			values = grafana_group_names;
			labels = group_labels;
			n = c->admin ? GRAFANA_G__MAX : GRAFANA_G__MAX - 1;
		} else if (strcasecmp(list, "billable") == 0) {
			values = billable_values;
			labels = billable_labels;
			n = 3;
		} else if (strcasecmp(list, "bucket") == 0) {
			values = grafana_unit_names;
			labels = unit_labels;
			n = GRAFANA_U__MAX;
		} else if (strcasecmp(list, "format") == 0) {
			values = format_values;
			labels = format_labels;
			n = 3;
		} else if (strcasecmp(list, "metrics") == 0 || strcasecmp(list, "metric") == 0) {
			values = labels = grafana_metric_names;
			n = GRAFANA_M__MAX;
		} else
			return grafana_fail(e, 400, "BAD_REQUEST", "unknown list \"%.60s\"; use one of projects, clients, tags, "
			    "workspaces, users, group_by, billable, bucket, format, metrics", list);
		for (size_t i = 0; i < n; i++)
			push_choice(out, style, values[i], labels[i], &oom);
		return oom ? oom_fail(e) : 0;
	}
	if (scope(c, t, "payload", &users, e) != 0)
		return -1;
	snprintf(lim, sizeof(lim), "%d", LIMIT_GRAFANA_OPTIONS_MAX);
	if ((res = DB_EXEC(c->db, STMT_GRAFANA_LIST, users, kind, refs_of(c->arena, t, GRAFANA_K_WORKSPACE),
	    refs_of(c->arena, t, GRAFANA_K_CLIENT), lim)) == NULL)
		return db_fail(c, e, "list");
	for (int i = 0; i < PQntuples(res); i++)
		push_choice(out, style, db_str(res, i, 0), db_str(res, i, 1), &oom);
	PQclear(res);
	return oom ? oom_fail(e) : 0;
}

json_t *
grafana_tag_keys(const struct grafana_ctx *c)
{
	json_t *arr = json_array();
	int oom = 0;

	for (int k = 0; k < GRAFANA_K__MAX; k++)
		if (k != GRAFANA_K_USER || c->admin)
			jpush(arr, json_pack("{s:s, s:s}", "type", "string", "text", grafana_key_names[k]), &oom);
	if (oom) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

int
grafana_tag_values(struct grafana_ctx *c, const char *key, const struct grafana_query *q, json_t *out,
    struct grafana_err *e)
{
	char lim[16];
	const char *users, *filters;
	PGresult *res;
	int k, oom = 0;

	if (key == NULL)
		return grafana_fail(e, 400, "BAD_REQUEST", "key: missing; send {\"key\": \"project\"}");
	if ((k = grafana_key_parse(key)) < 0)
		return grafana_fail(e, 400, "BAD_REQUEST", "key: \"%.60s\" is not a key; use one of project, client, tag, "
		    "workspace, billable, description%s", key, c->admin ? ", user" : "");
	if (k == GRAFANA_K_USER && !c->admin)
		return grafana_fail(e, 403, "FORBIDDEN", "key: the values of user need an admin token");
	if (scope(c, NULL, "payload", &users, e) != 0)
		return -1;
	/* The other active filters narrow the values; the ones on this key would hide the alternatives. */
	filters = grafana_filters_sql(c->arena, &q->adhoc, NULL, k, &oom);
	if (oom)
		return oom_fail(e);
	snprintf(lim, sizeof(lim), "%d", LIMIT_GRAFANA_OPTIONS_MAX);
	res = DB_EXEC(c->db, STMT_GRAFANA_TAG_VALUES, users, q->has_range ? iso(c->arena, q->from_ms) : "-infinity",
	    q->has_range ? iso(c->arena, q->to_ms) : "infinity", filters, grafana_key_names[k], lim);
	if (res == NULL)
		return db_fail(c, e, "tag values");
	for (int i = 0; i < PQntuples(res); i++)
		jpush(out, json_pack("{s:o, s:o}", "text", jstr(db_str(res, i, 0)), "value", jstr(db_str(res, i, 0))),
		    &oom);
	PQclear(res);
	return oom ? oom_fail(e) : 0;
}
