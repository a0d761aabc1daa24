/* mirror.c: one Google event per time entry. The pure part (event ids, colours, the event body, what
 * validation compares) is unit-tested in tests/unit/test_gcal.c; gcal_sync_entry() is the google.sync_entry
 * job: one read under a per-entry lock, one Google call (two on a 409 or 404), one commit. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcal/internal.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/tbtime.h"

const char *const gcal_event_colors[12] = {
	NULL, "#a4bdfc", "#7ae7bf", "#dbadff", "#ff887c", "#fbd75b", "#ffb878", "#46d6db", "#e1e1e1", "#5484ed",
	"#51b749", "#dc2127",
};

#define COLOR_RUNNING 8   /* grey: still running */

/* ---- event ids ------------------------------------------------------------------------------------ */

static const char b32hex[] = "0123456789abcdefghijklmnopqrstuv";

int
gcal_event_id(int64_t entry_id, char out[GCAL_EVENT_ID_MAX])
{
	char key[32];
	size_t n, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (entry_id <= 0) {
		out[0] = '\0';
		return -1;
	}
	n = (size_t)snprintf(key, sizeof(key), "tb%" PRId64, entry_id);
	/* RFC 4648 base32hex, lowercase, no padding: 5 bits per character. */
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | (unsigned char)key[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32hex[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32hex[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}

int64_t
gcal_event_id_decode(const char *id)
{
	unsigned char key[40];
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;
	int64_t v = 0;

	for (const char *p = id; *p; p++) {
		const char *q = strchr(b32hex, *p);
		if (q == NULL || *p == '\0' || n >= sizeof(key))
			return -1;
		acc = (acc << 5) | (uint32_t)(q - b32hex);
		bits += 5;
		if (bits >= 8) {
			key[n++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	/* Leftover bits must be the zero padding of a canonical encoding. */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	if (n < 3 || key[0] != 't' || key[1] != 'b' || key[2] == '0')
		return -1;
	for (size_t i = 2; i < n; i++) {
		if (key[i] < '0' || key[i] > '9' || v > (INT64_MAX - (key[i] - '0')) / 10)
			return -1;
		v = v * 10 + (key[i] - '0');
	}
	return v;
}

/* ---- colours -------------------------------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "#rrggbb" or "#rgb" into rgb[3]. 0 or -1. */
static int
parse_hex(const char *s, int rgb[3])
{
	size_t n;

	if (s == NULL || s[0] != '#')
		return -1;
	n = strlen(s + 1);
	for (size_t i = 1; i <= n; i++)
		if (hexval(s[i]) < 0)
			return -1;
	if (n == 6) {
		for (int i = 0; i < 3; i++)
			rgb[i] = hexval(s[1 + 2 * i]) * 16 + hexval(s[2 + 2 * i]);
		return 0;
	}
	if (n == 3) {
		for (int i = 0; i < 3; i++)
			rgb[i] = hexval(s[1 + i]) * 17;
		return 0;
	}
	return -1;
}

/* sRGB (0..255) to CIELAB (D65). */
static void
to_lab(const int rgb[3], double lab[3])
{
	double c[3], x, y, z, fx, fy, fz;

	for (int i = 0; i < 3; i++) {
		double u = rgb[i] / 255.0;
		c[i] = u > 0.04045 ? pow((u + 0.055) / 1.055, 2.4) : u / 12.92;
	}
	x = (0.4124 * c[0] + 0.3576 * c[1] + 0.1805 * c[2]) / 0.95047;
	y = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
	z = (0.0193 * c[0] + 0.1192 * c[1] + 0.9505 * c[2]) / 1.08883;
	fx = x > 0.008856 ? cbrt(x) : 7.787 * x + 16.0 / 116;
	fy = y > 0.008856 ? cbrt(y) : 7.787 * y + 16.0 / 116;
	fz = z > 0.008856 ? cbrt(z) : 7.787 * z + 16.0 / 116;
	lab[0] = 116 * fy - 16;
	lab[1] = 500 * (fx - fy);
	lab[2] = 200 * (fy - fz);
}

int
gcal_color_nearest(const char *hex)
{
	double la[3], lb[3], d, best_d = 0;
	int a[3], b[3], best = 0;

	if (parse_hex(hex, a) != 0)
		return 0;
	to_lab(a, la);
	for (int i = 1; i <= 11; i++) {
		if (parse_hex(gcal_event_colors[i], b) != 0)
			continue;
		to_lab(b, lb);
		/* Distance in CIELAB with lightness counted a quarter: Toggl's colours are saturated and darker
		 * than Google's pastel event palette, so hue and chroma decide (purple → lavender, dark grey →
		 * grey), not lightness. */
		d = 0.25 * (la[0] - lb[0]) * (la[0] - lb[0]) + (la[1] - lb[1]) * (la[1] - lb[1]) +
		    (la[2] - lb[2]) * (la[2] - lb[2]);
		if (best == 0 || d < best_d) {
			best = i;
			best_d = d;
		}
	}
	return best;
}

static int
valid_color(int c)
{
	return c >= 1 && c <= 11 ? c : 0;
}

int
gcal_color_pick(const struct gcal_entry *e)
{
	int c;

	if (e->running)
		return COLOR_RUNNING;
	if ((c = valid_color(e->rule_tag)) || (c = valid_color(e->rule_project)) ||
	    (c = valid_color(e->rule_client)) || (c = valid_color(e->rule_workspace)))
		return c;
	return e->project_id > 0 ? gcal_color_nearest(e->project_color) : 0;
}

/* ---- the event body ------------------------------------------------------------------------------- */

int64_t
gcal_event_end_ms(const struct gcal_entry *e, int64_t now_ms)
{
	int64_t end;

	if (e->running) {
		end = now_ms;
		if (end < e->start_ms + (int64_t)LIMIT_GOOGLE_RUNNING_MIN_S * 1000)
			end = e->start_ms + (int64_t)LIMIT_GOOGLE_RUNNING_MIN_S * 1000;
		return end;
	}
	return e->stop_ms > e->start_ms ? e->stop_ms : e->start_ms;
}

/* Bytes of s that fit in max without cutting a UTF-8 character. */
static size_t
utf8_prefix(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static int
blank(const char *s)
{
	if (s == NULL)
		return 1;
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

/* The summary: the entry's description, or "(No description)". */
static void
summary(const struct gcal_entry *e, struct buf *b)
{
	if (blank(e->description))
		buf_puts(b, "(No description)");
	else
		buf_append(b, e->description, utf8_prefix(e->description, LIMIT_GOOGLE_SUMMARY_MAX));
}

void
gcal_toggl_link(const struct gcal_entry *e, struct buf *out)
{
	/* Toggl has no documented deep link to one entry; the timer page with the ids is stable and names the
	 * entry unambiguously (workspace and entry ids never change). */
	buf_printf(out, GCAL_TOGGL_URL "?workspace_id=%" PRId64 "&time_entry_id=%" PRId64, e->workspace_id, e->id);
}

static void
describe(const struct gcal_entry *e, struct buf *b)
{
	int64_t s;
	size_t start = b->len;

	buf_printf(b, "Project: %s\n", e->project_id > 0 && e->project_name ? e->project_name : "(none)");
	buf_printf(b, "Client: %s\n", e->client_id > 0 && e->client_name ? e->client_name : "(none)");
	buf_printf(b, "Tags: %s\n", e->tags && *e->tags ? e->tags : "(none)");
	buf_printf(b, "Billable: %s\n", e->billable ? "yes" : "no");
	if (e->running)
		buf_puts(b, "Duration: running\n");
	else {
		s = (gcal_event_end_ms(e, 0) - e->start_ms) / 1000;
		buf_printf(b, "Duration: %" PRId64 ":%02d:%02d\n", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
	}
	buf_puts(b, "\nIn Toggl: ");
	gcal_toggl_link(e, b);
	if (b->len - start > LIMIT_GOOGLE_DESCRIPTION_MAX && !b->oom) {
		b->len = start + utf8_prefix(b->data + start, LIMIT_GOOGLE_DESCRIPTION_MAX);
		b->data[b->len] = '\0';
	}
}

static json_t *
when(int64_t ms)
{
	char ts[TB_RFC3339_SIZE];

	/* Whole seconds, UTC: Google keeps no more, and validation compares instants. */
	if (tb_format_rfc3339(ms / 1000 - (ms < 0 && ms % 1000 ? 1 : 0), ts) != 0)
		return NULL;
	return json_pack("{s:s}", "dateTime", ts);
}

static json_t *
id_str(int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

json_t *
gcal_event_build(const struct gcal_entry *e, int64_t now_ms, enum gcal_body kind)
{
	struct buf sum = BUF_INIT, desc = BUF_INIT, link = BUF_INIT;
	char eid[GCAL_EVENT_ID_MAX], color[12];
	json_t *ev = NULL, *priv = NULL, *start, *end;
	int c;

	summary(e, &sum);
	describe(e, &desc);
	gcal_toggl_link(e, &link);
	start = when(e->start_ms);
	end = when(gcal_event_end_ms(e, now_ms));
	if (sum.oom || desc.oom || link.oom || start == NULL || end == NULL || gcal_event_id(e->id, eid) != 0 ||
	    (ev = json_object()) == NULL || (priv = json_object()) == NULL) {
		json_decref(start);
		json_decref(end);
		json_decref(ev);
		ev = NULL;
		goto out;
	}
	if (kind == GCAL_BODY_INSERT)
		json_object_set_new(ev, "id", json_string(eid));
	/* A patch names the status so an event deleted by hand (or by us) comes back with the same id. */
	json_object_set_new(ev, "status", json_string("confirmed"));
	json_object_set_new(ev, "summary", json_stringn(sum.data, sum.len));
	json_object_set_new(ev, "description", json_stringn(desc.data, desc.len));
	json_object_set_new(ev, "start", start);
	json_object_set_new(ev, "end", end);
	if ((c = gcal_color_pick(e)) > 0) {
		snprintf(color, sizeof(color), "%d", c);
		json_object_set_new(ev, "colorId", json_string(color));
	} else if (kind == GCAL_BODY_PATCH)
		json_object_set_new(ev, "colorId", json_null());   /* null clears it under merge semantics */
	json_object_set_new(priv, "toggl_entry_id", id_str(e->id));
	json_object_set_new(priv, "toggl_workspace_id", id_str(e->workspace_id));
	/* "" for no project rather than a null: a patch's null inside a map the event does not have yet is
	 * something servers disagree on; an empty string means the same to every reader. */
	json_object_set_new(priv, "toggl_project_id", e->project_id > 0 ? id_str(e->project_id) : json_string(""));
	if (e->toggl_user_id > 0)
		json_object_set_new(priv, "toggl_user_id", id_str(e->toggl_user_id));
	json_object_set_new(priv, "toggl_version", id_str(e->version));
	json_object_set_new(ev, "extendedProperties", json_pack("{s:o}", "private", priv));
	priv = NULL;
	json_object_set_new(ev, "source", json_pack("{s:s, s:s%}", "title", "Toggl Track", "url", link.data,
	    link.len));
out:
	json_decref(priv);
	buf_free(&sum);
	buf_free(&desc);
	buf_free(&link);
	return ev;
}

/* Instant of an EventDateTime ({"dateTime": RFC 3339}), -1 when absent or unreadable. */
static int64_t
event_ms(json_t *edt)
{
	json_t *v = json_object_get(edt, "dateTime");
	int64_t ms;

	if (!json_is_string(v) || tb_parse_rfc3339(json_string_value(v), &ms) != 0)
		return -1;
	return ms;
}

static int64_t
whole_s(int64_t ms)
{
	return ms / 1000 * 1000 - (ms < 0 && ms % 1000 ? 1000 : 0);
}

int
gcal_event_compare(const struct gcal_entry *e, json_t *event, int64_t now_ms, char *why, size_t whysz)
{
	const char *status = json_string_value(json_object_get(event, "status"));
	const char *got_summary, *got_color;
	struct buf want = BUF_INIT;
	int present = event != NULL && (status == NULL || strcmp(status, "cancelled") != 0);
	int diff = 0, c;
	char color[12] = "";
	int64_t s, en;

	if (why && whysz)
		why[0] = '\0';
	if (e->deleted) {
		if (present) {
			diff = GCAL_DIFF_PRESENT;
			if (why)
				snprintf(why, whysz, "the entry is deleted but its event is still in the calendar");
		}
		return diff;
	}
	if (!present) {
		if (why)
			snprintf(why, whysz, "%s", event == NULL ? "the event is missing" : "the event was deleted");
		return GCAL_DIFF_MISSING;
	}
	summary(e, &want);
	got_summary = json_string_value(json_object_get(event, "summary"));
	if (!want.oom && (got_summary == NULL || strcmp(got_summary, want.data) != 0))
		diff |= GCAL_DIFF_SUMMARY;
	buf_free(&want);
	s = event_ms(json_object_get(event, "start"));
	en = event_ms(json_object_get(event, "end"));
	if (s != whole_s(e->start_ms))
		diff |= GCAL_DIFF_TIME;
	else if (e->running) {
		/* A running entry's end moves with every refresh: it only has to be at least the minimum length. */
		if (en < s + (int64_t)LIMIT_GOOGLE_RUNNING_MIN_S * 1000)
			diff |= GCAL_DIFF_TIME;
	} else if (en != whole_s(gcal_event_end_ms(e, now_ms)))
		diff |= GCAL_DIFF_TIME;
	if ((c = gcal_color_pick(e)) > 0)
		snprintf(color, sizeof(color), "%d", c);
	got_color = json_string_value(json_object_get(event, "colorId"));
	if (strcmp(color, got_color ? got_color : "") != 0)
		diff |= GCAL_DIFF_COLOR;
	if (why && diff)
		snprintf(why, whysz, "the event differs:%s%s%s", diff & GCAL_DIFF_SUMMARY ? " summary" : "",
		    diff & GCAL_DIFF_TIME ? " time" : "", diff & GCAL_DIFF_COLOR ? " colour" : "");
	return diff;
}

/* ---- reading rows --------------------------------------------------------------------------------- */

static int
rule(const PGresult *r, int row, int col)
{
	return db_isnull(r, row, col) ? 0 : (int)db_i64(r, row, col);
}

void
gcal_entry_from_row(const PGresult *r, int row, struct gcal_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->id = db_i64(r, row, GC_ID);
	e->version = db_i64(r, row, GC_VERSION);
	e->deleted = db_bool(r, row, GC_DELETED);
	e->workspace_id = db_i64(r, row, GC_WORKSPACE);
	e->project_id = db_i64(r, row, GC_PROJECT);
	e->client_id = db_i64(r, row, GC_CLIENT);
	e->toggl_user_id = db_i64(r, row, GC_TOGGL_USER);
	e->description = db_str(r, row, GC_DESCRIPTION);
	e->billable = db_bool(r, row, GC_BILLABLE);
	e->start_ms = db_i64(r, row, GC_START_MS);
	e->stop_ms = db_i64(r, row, GC_STOP_MS);
	e->running = db_bool(r, row, GC_RUNNING);
	e->tags = db_str(r, row, GC_TAGS);
	e->project_name = db_str(r, row, GC_PROJECT_NAME);
	e->project_color = db_str(r, row, GC_PROJECT_COLOR);
	e->client_name = db_str(r, row, GC_CLIENT_NAME);
	e->rule_tag = rule(r, row, GC_RULE_TAG);
	e->rule_project = rule(r, row, GC_RULE_PROJECT);
	e->rule_client = rule(r, row, GC_RULE_CLIENT);
	e->rule_workspace = rule(r, row, GC_RULE_WORKSPACE);
}

void
gcal_mirror_fail(struct gcal *g, int64_t entry_id, const char *state, const char *msg)
{
	char id[DB_I64_LEN], uid[DB_I64_LEN];

	if (DB_RUN(g->db, STMT_GOOGLE_MIRROR_FAIL, db_i64s(entry_id, id), db_i64s(g->user_id, uid), state, msg) != 0)
		log_error(g->ctx, "recording the sync state of entry %s: %s", id, g->db->err);
}

/* ---- the sync job --------------------------------------------------------------------------------- */

/* What one sync decided to send, and what came of it. */
struct plan {
	struct gcal_entry e;
	char        eid[GCAL_EVENT_ID_MAX];
	const char *cal;              /* the calendar in use */
	const char *event_state;      /* what the mirror says is in cal: none, live or cancelled */
	const char *new_event_state;  /* after the call */
	const char *new_state;        /* synced or deleted */
	int         calendar_gone;    /* insert or patch found no calendar */
	const char *what;             /* the call that failed, for the error */
};

static enum api_google_res
call_event(struct gcal *g, enum gcal_op op, struct plan *p, json_t *body)
{
	struct gcal_call c = { op, p->cal, p->eid, body, NULL, NULL };

	p->what = op == GCAL_OP_EVENT_INSERT ? "events.insert" : op == GCAL_OP_EVENT_PATCH ? "events.patch" :
	    "events.delete";
	return gcal_api(g, &c);
}

/* Delete the event of a deleted entry. 404 and 410 mean it is gone already: done. */
static enum api_google_res
sync_delete(struct gcal *g, struct plan *p, int force)
{
	enum api_google_res ar;

	p->new_state = "deleted";
	p->new_event_state = "cancelled";
	if (!force && strcmp(p->event_state, "cancelled") == 0)
		return API_GOOGLE_OK;
	/* Even with no event recorded: an insert may have reached Google before its worker died. */
	ar = call_event(g, GCAL_OP_EVENT_DELETE, p, NULL);
	if (ar == API_GOOGLE_NOT_FOUND || ar == API_GOOGLE_GONE)
		ar = API_GOOGLE_OK;
	return ar;
}

/* Make the event match a live entry: patch what exists (status confirmed revives a cancelled one), insert
 * what does not. A 409 on insert means it exists after all (a crash after the insert): patch. A 404 on
 * patch means it was purged: insert. An insert answered 404/410 means the calendar is gone. */
static enum api_google_res
sync_live(struct gcal *g, struct plan *p, int64_t now_ms)
{
	json_t *ins = NULL, *patch = NULL;
	enum api_google_res ar;
	int exists = strcmp(p->event_state, "none") != 0;

	p->new_state = "synced";
	p->new_event_state = "live";
	if ((patch = gcal_event_build(&p->e, now_ms, GCAL_BODY_PATCH)) == NULL ||
	    (ins = gcal_event_build(&p->e, now_ms, GCAL_BODY_INSERT)) == NULL) {
		memset(&g->api.err, 0, sizeof(g->api.err));
		g->api.err.res = ar = API_GOOGLE_NETWORK;
		snprintf(g->api.err.message, sizeof(g->api.err.message), "out of memory building the event");
		goto out;
	}
	if (exists) {
		ar = call_event(g, GCAL_OP_EVENT_PATCH, p, patch);
		if (ar == API_GOOGLE_NOT_FOUND)
			ar = call_event(g, GCAL_OP_EVENT_INSERT, p, ins);
		else if (ar == API_GOOGLE_GONE)
			p->calendar_gone = 1;
	} else {
		ar = call_event(g, GCAL_OP_EVENT_INSERT, p, ins);
		if (ar == API_GOOGLE_DUPLICATE)
			ar = call_event(g, GCAL_OP_EVENT_PATCH, p, patch);
	}
	if ((ar == API_GOOGLE_NOT_FOUND || ar == API_GOOGLE_GONE) && strcmp(p->what, "events.insert") == 0)
		p->calendar_gone = 1;
out:
	json_decref(ins);
	json_decref(patch);
	return ar;
}

static double
lock_wait_s(int attempt)
{
	double d = LIMIT_GOOGLE_LOCK_RETRY_S;

	for (int i = 1; i < attempt && i < 16; i++)
		d *= 2;
	return d;
}

/* The one commit of a successful sync (see STMT_GOOGLE_SYNC_DONE). Returns GCAL_OK with g->completed set,
 * or GCAL_RETRY (lease lost, database error); the lock is released either way if the statement ran. */
static enum gcal_result
commit_sync(struct gcal *g, const char *id, const char *uid, struct plan *p, int reset_backoff, int *locked)
{
	char ver[DB_I64_LEN], job[DB_I64_LEN], ttl[DB_I64_LEN];
	PGresult *r;
	enum gcal_result res = GCAL_RETRY;

	r = DB_EXEC(g->db, STMT_GOOGLE_SYNC_DONE, id, uid, p->eid, p->cal, p->new_event_state,
	    db_i64s(p->e.version, ver), p->new_state, db_i64s(g->job_id, job), g->owner, g->fresh_sealed,
	    g->fresh_sealed ? db_i64s(g->fresh_ttl_s, ttl) : NULL, reset_backoff ? "true" : "false",
	    p->e.running && !p->e.deleted ? "true" : "false");
	if (r == NULL) {
		gcal_error(g, "recording entry %s: %s", id, g->db->err);
		return GCAL_RETRY;
	}
	*locked = 0;
	if (db_i64(r, 0, 0) != 1)
		gcal_error(g, "lease lost: another worker owns the job now; entry %s left as it was", id);
	else {
		g->completed = 1;
		free(g->fresh_sealed);
		g->fresh_sealed = NULL;
		if (db_str(r, 0, 1) && strcmp(db_str(r, 0, 1), "pending") == 0)
			log_info(g->ctx, "entry %s changed during the call (read version %s): left to the newer job", id,
			    ver);
		res = GCAL_OK;
	}
	PQclear(r);
	return res;
}

enum gcal_result
gcal_sync_entry(struct gcal *g, int64_t entry_id, int force)
{
	enum gcal_result res = GCAL_RETRY;
	enum api_google_res ar = API_GOOGLE_OK;
	char id[DB_I64_LEN], uid[DB_I64_LEN], ver[DB_I64_LEN];
	const char *status, *mcal, *mstate;
	PGresult *r = NULL;
	double backoff_s;
	int level = 0, skip, locked = 0;
	struct plan p;

	memset(&p, 0, sizeof(p));
	if (g->job_id <= 0 || g->owner == NULL) {
		gcal_error(g, "a sync runs as a job (it commits with the job's done mark)");
		return GCAL_FATAL;
	}
	if ((r = DB_EXEC(g->db, STMT_GOOGLE_SYNC_LOAD, db_i64s(entry_id, id), db_i64s(g->user_id, uid))) == NULL) {
		gcal_error(g, "reading entry %s: %s", id, g->db->err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		res = GCAL_OK;   /* no Google connection (any more): nothing to mirror to */
		goto out;
	}
	locked = db_bool(r, 0, GC_LOCKED);
	status = db_str(r, 0, GC_G_STATUS);
	if (strcmp(status, "ok") != 0) {
		if (strcmp(status, "needs_reconnect") == 0) {
			gcal_error(g, "waiting for a Google reconnect");
			gcal_mirror_fail(g, entry_id, "paused", g->err);
			res = GCAL_PAUSE;
		} else
			res = GCAL_OK;   /* disconnecting: the revoke job deletes everything */
		goto out;
	}
	if (!locked) {
		/* Another worker is syncing this entry right now; once it commits, ours reads its result. */
		g->retry_after_s = lock_wait_s(g->attempt);
		gcal_error(g, "another worker is syncing entry %s; again in %.2f s", id, g->retry_after_s);
		goto out;
	}
	level = (int)db_i64(r, 0, GC_G_BACKOFF_LEVEL);
	backoff_s = db_isnull(r, 0, GC_G_BACKOFF_S) ? 0 : strtod(db_str(r, 0, GC_G_BACKOFF_S), NULL);
	if (backoff_s > 0) {
		g->retry_after_s = backoff_s + crypto_rand01() * (backoff_s / 5 + 0.1);
		gcal_error(g, "waiting %.1f s: Google rate-limited this user", backoff_s);
		gcal_uncount(g);
		goto out;
	}
	if (db_isnull(r, 0, GC_ID)) {
		res = GCAL_OK;   /* the entry is gone from the database; its mirror row went with it */
		goto out;
	}
	if ((p.cal = db_str(r, 0, GC_G_CALENDAR)) == NULL) {
		if (gcal_calendar_queue(g->db, g->user_id, NULL) != 0) {
			gcal_error(g, "queueing the calendar: %s", g->db->err);
			goto out;
		}
		gcal_mirror_fail(g, entry_id, "pending", "waiting for the Google calendar to be created");
		res = GCAL_OK;
		goto out;
	}
	gcal_entry_from_row(r, 0, &p.e);
	(void)gcal_event_id(p.e.id, p.eid);
	g->access_sealed = db_str(r, 0, GC_G_ACCESS);
	g->access_ttl_s = db_i64(r, 0, GC_G_ACCESS_TTL);
	mcal = db_str(r, 0, GC_M_CALENDAR);
	mstate = db_str(r, 0, GC_M_STATE);
	/* What the mirror knows holds only for the calendar it was recorded for. */
	p.event_state = mcal && strcmp(mcal, p.cal) == 0 && db_str(r, 0, GC_M_EVENT_STATE) ?
	    db_str(r, 0, GC_M_EVENT_STATE) : "none";

	if (p.e.deleted)
		ar = sync_delete(g, &p, force);
	else {
		skip = !force && !p.e.running && mstate && strcmp(mstate, "synced") == 0 &&
		    strcmp(p.event_state, "live") == 0 && db_i64(r, 0, GC_M_SYNCED_VERSION) == p.e.version;
		if (skip) {
			p.new_state = "synced";
			p.new_event_state = "live";
			log_debug(g->ctx, "entry %s: in sync at version %s", id, db_i64s(p.e.version, ver));
		} else
			ar = sync_live(g, &p, tb_now_ms());
	}
	if (ar == API_GOOGLE_OK) {
		res = commit_sync(g, id, uid, &p, level > 0, &locked);
		goto out;
	}

	(void)gcal_token_persist(g);
	if (p.calendar_gone) {
		log_warn(g->ctx, "entry %s: %s answered %ld: the calendar seems deleted; making sure", id, p.what,
		    g->api.err.status);
		if (gcal_calendar_queue(g->db, g->user_id, p.cal) != 0) {
			gcal_error(g, "queueing a new calendar: %s", g->db->err);
			goto out;
		}
		gcal_mirror_fail(g, entry_id, "pending", "the Google calendar was deleted; creating a new one");
		res = GCAL_OK;
		goto out;
	}
	/* The failure is recorded on the entry while we still hold it, so it cannot overwrite a newer job's
	 * success. */
	res = gcal_api_failure(g, p.what ? p.what : "Google", level);
	gcal_mirror_fail(g, entry_id, res == GCAL_FATAL ? "error" : res == GCAL_PAUSE ? "paused" : "retrying",
	    g->err);
out:
	if (locked && DB_RUN(g->db, STMT_GOOGLE_SYNC_UNLOCK, id) != 0)
		log_error(g->ctx, "releasing the lock of entry %s: %s", id, g->db->err);
	g->access_sealed = NULL;
	if (r != NULL)
		PQclear(r);
	return res;
}

int
gcal_refresh_running(struct db *db)
{
	PGresult *r = DB_EXEC0(db, STMT_GOOGLE_REFRESH_RUNNING);
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n;
}

int
gcal_resync(struct db *db, int64_t user_id, int64_t entry_id, const char *why)
{
	char uid[DB_I64_LEN], id[DB_I64_LEN];
	PGresult *r = DB_EXEC(db, STMT_GOOGLE_RESYNC, db_i64s(user_id, uid), db_i64s(entry_id, id), why);
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r) > 0 ? 1 : 0;
	PQclear(r);
	return n;
}
