/* page.c: the shared side of the admin pages: the layout around each page (navigation, the logged-in user,
 * the demo banner, a flash message), signed flash cookies for POST-redirect-GET, the scope (whose data a
 * page shows), and small fragments and formatters. */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/page.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

#define FLASH_COOKIE    "tb_flash"
#define FLASH_MAC_BYTES 16               /* of the HMAC: forging stays out of reach, the cookie short */

struct nav_def {
	const char *href;
	const char *label;
	int         admin_only;
};

static const struct nav_def nav_defs[PAGE_NAV__MAX] = {
	[PAGE_NAV_DASHBOARD] = { "/", "Dashboard", 0 },
	[PAGE_NAV_TOGGL]     = { "/toggl", "Toggl", 0 },
	[PAGE_NAV_GOOGLE]    = { "/google", "Google", 0 },
	[PAGE_NAV_ENTRIES]   = { "/entries", "Entries", 0 },
	[PAGE_NAV_JOBS]      = { "/jobs", "Jobs", 0 },
	[PAGE_NAV_TOKENS]    = { "/tokens", "API tokens", 0 },
	[PAGE_NAV_USERS]     = { "/users", "Users", 1 },
	[PAGE_NAV_SETTINGS]  = { "/settings", "Settings", 1 },
};

static const char *const flash_kinds[] = { [PAGE_FLASH_OK] = "ok", [PAGE_FLASH_INFO] = "info",
	[PAGE_FLASH_ERROR] = "error" };

/* ---- demo mode ---- */

static pthread_once_t demo_once = PTHREAD_ONCE_INIT;
static int demo_on;

static void
demo_init(void)
{
	const char *v = getenv("TIMEBRIDGE_DEMO");

	demo_on = v != NULL && strcmp(v, "1") == 0;
}

int
page_demo(void)
{
	pthread_once(&demo_once, demo_init);
	return demo_on;
}

/* ---- generic rows ---- */

int
page_row_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct page_row *row = arg;

	if (key < PAGE_ROW_KEYS && row->v[key] != NULL) {
		tmpl_put(ctx, row->v[key]);
		return 0;
	}
	return row->nest ? row->nest(key, ctx, row->arg) : 0;
}

int
page_nest_row(struct tmpl_ctx *ctx, enum tmpl_id id, struct page_row *row)
{
	const struct tmpl *t = templates_get(id);

	return t ? tmpl_nest(ctx, t, page_row_cb, row) : -1;
}

int
page_nest_values(struct tmpl_ctx *ctx, enum tmpl_id id, const char *const *v, size_t n)
{
	struct page_row row;

	memset(&row, 0, sizeof(row));
	for (size_t i = 0; i < n && i < PAGE_ROW_KEYS; i++)
		row.v[i] = v[i];
	return page_nest_row(ctx, id, &row);
}

/* ---- fragments ---- */

int
page_badge(struct tmpl_ctx *ctx, const char *kind, const char *label)
{
	const char *v[TK_BADGE__MAX] = { [TK_BADGE_KIND] = kind, [TK_BADGE_LABEL] = label };

	return page_nest_values(ctx, TMPL_BADGE, v, TK_BADGE__MAX);
}

int
page_muted(struct tmpl_ctx *ctx, const char *text)
{
	const char *v[TK_TEXT__MAX] = { [TK_TEXT_TEXT] = text };

	return page_nest_values(ctx, TMPL_MUTED, v, TK_TEXT__MAX);
}

int
page_empty_row(struct tmpl_ctx *ctx, const char *text)
{
	const char *v[TK_TEXT__MAX] = { [TK_TEXT_TEXT] = text };

	return page_nest_values(ctx, TMPL_EMPTYROW, v, TK_TEXT__MAX);
}

static int
card_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	const struct page_card *c = arg;

	if (key == TK_STATUS_BADGE)
		return page_badge(ctx, c->badge_kind, c->badge);
	if (key == TK_STATUS_EXTRA)
		return c->extra ? page_muted(ctx, c->extra) : 0;
	return 0;
}

int
page_status_card(struct tmpl_ctx *ctx, struct page_card *c)
{
	struct page_row row;

	memset(&row, 0, sizeof(row));
	row.v[TK_STATUS_TITLE] = c->title;
	row.v[TK_STATUS_DETAIL] = c->detail;
	row.v[TK_STATUS_HREF] = c->href;
	row.v[TK_STATUS_ACTION] = c->action;
	row.nest = card_nest;
	row.arg = c;
	return page_nest_row(ctx, TMPL_STATUS, &row);
}

int
page_form_error(struct tmpl_ctx *ctx, const char *message)
{
	const char *v[TK_FERR__MAX] = { [TK_FERR_MESSAGE] = message };

	if (message == NULL || *message == '\0')
		return 0;
	return page_nest_values(ctx, TMPL_FERR, v, TK_FERR__MAX);
}

int
page_option(struct tmpl_ctx *ctx, const char *value, const char *label, int selected)
{
	const char *v[TK_OPT__MAX] = { [TK_OPT_VALUE] = value, [TK_OPT_LABEL] = label };

	return page_nest_values(ctx, selected ? TMPL_OPT_SEL : TMPL_OPT, v, TK_OPT__MAX);
}

int
page_link(struct tmpl_ctx *ctx, const char *href, const char *label, int current)
{
	const char *v[TK_LINK__MAX] = { [TK_LINK_HREF] = href, [TK_LINK_LABEL] = label,
		[TK_LINK_CURRENT] = current ? "page" : "false" };

	return page_nest_values(ctx, TMPL_LINK, v, TK_LINK__MAX);
}

int
page_button(struct tmpl_ctx *ctx, struct req *r, const struct page_btn *b)
{
	const char *v[TK_BUTTON__MAX] = {
		[TK_BUTTON_ACTION] = b->action, [TK_BUTTON_CSRF] = session_csrf_token(r), [TK_BUTTON_NAME] = b->name,
		[TK_BUTTON_VALUE] = b->value, [TK_BUTTON_LABEL] = b->label, [TK_BUTTON_KIND] = b->kind,
		[TK_BUTTON_TITLE] = b->title ? b->title : b->label, [TK_BUTTON_UID] = b->uid ? b->uid : "",
		[TK_BUTTON_BACK] = b->back ? b->back : "",
	};

	return page_nest_values(ctx, TMPL_BUTTON, v, TK_BUTTON__MAX);
}

const char *
page_back(struct req *r, const char *fallback)
{
	return http_local_path(req_form(r, "back"), fallback);
}

int
page_once(struct tmpl_ctx *ctx, const char *label, const char *value, const char *hint)
{
	const char *v[TK_ONCE__MAX] = { [TK_ONCE_LABEL] = label, [TK_ONCE_VALUE] = value, [TK_ONCE_HINT] = hint };

	return page_nest_values(ctx, TMPL_ONCE, v, TK_ONCE__MAX);
}

struct pager {
	struct req *r;
	const char *base;
	long        offset, limit, total;
};

static int
pager_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct pager *p = arg;
	long first = p->total ? p->offset + 1 : 0, last = p->offset + p->limit;
	const char *href;

	if (last > p->total)
		last = p->total;
	switch (key) {
	case TK_PAGER_INFO:
		tmpl_putf(ctx, "%ld–%ld of %ld", first, last, p->total);
		return 0;
	case TK_PAGER_PREV:
		if (p->offset <= 0)
			return page_muted(ctx, "← Newer");
		href = arena_printf(&p->r->arena, "%soffset=%ld", p->base,
		    p->offset > p->limit ? p->offset - p->limit : 0);
		return href ? page_link(ctx, href, "← Newer", 0) : -1;
	case TK_PAGER_NEXT:
		if (p->offset + p->limit >= p->total || p->offset + p->limit > LIMIT_PAGE_OFFSET_MAX)
			return page_muted(ctx, "Older →");
		href = arena_printf(&p->r->arena, "%soffset=%ld", p->base, p->offset + p->limit);
		return href ? page_link(ctx, href, "Older →", 0) : -1;
	default:
		return 0;
	}
}

int
page_pager(struct tmpl_ctx *ctx, struct req *r, const char *base, long offset, long limit, long total)
{
	struct pager p = { r, base, offset, limit, total };
	const struct tmpl *t = templates_get(TMPL_PAGER);

	/* One page holds it all: no pager. */
	if (offset <= 0 && total <= limit)
		return 0;
	return t ? tmpl_nest(ctx, t, pager_cb, &p) : -1;
}

/* ---- scope ---- */

int64_t
page_id(const char *s)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int64_t
page_scope(struct req *r, int allow_all, int all_default)
{
	const char *v;
	int64_t id;

	if (!r->user.is_admin)
		return r->user.id;
	v = (r->method & METHOD_POST) ? req_form(r, "user") : req_query(r, "user");
	if (v == NULL || *v == '\0')
		return allow_all && all_default ? 0 : r->user.id;
	if (strcmp(v, "all") == 0)
		return allow_all ? 0 : r->user.id;
	if ((id = page_id(v)) > 0)
		return id;
	return r->user.id;
}

const char *
page_scope_param(struct req *r, int64_t scope)
{
	if (scope == 0)
		return "all";
	return arena_printf(&r->arena, "%" PRId64, scope);
}

int
page_user_options(struct tmpl_ctx *ctx, struct req *r, int64_t selected, int allow_all)
{
	PGresult *res;
	int rc = 0;

	if (allow_all && page_option(ctx, "all", "All users", selected == 0) != 0)
		return -1;
	if ((res = DB_EXEC0(r->db, STMT_USER_LIST)) == NULL) {
		log_warn(r->id, "user list: %s", r->db->err);
		return -1;
	}
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = page_option(ctx, db_str(res, i, 0), db_str(res, i, 1), db_i64(res, i, 0) == selected);
	PQclear(res);
	return rc;
}

struct scope_form {
	struct req *r;
	const char *action;
	int64_t     scope;
	int         allow_all;
};

static int
scope_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct scope_form *s = arg;

	if (key == TK_SCOPE_ACTION)
		tmpl_put(ctx, s->action);
	else if (key == TK_SCOPE_OPTIONS)
		return page_user_options(ctx, s->r, s->scope, s->allow_all);
	return 0;
}

int
page_scope_form(struct tmpl_ctx *ctx, struct req *r, const char *action, int64_t scope, int allow_all)
{
	struct scope_form s = { r, action, scope, allow_all };
	const struct tmpl *t = templates_get(TMPL_SCOPE);

	if (!r->user.is_admin)
		return 0;
	return t ? tmpl_nest(ctx, t, scope_cb, &s) : -1;
}

/* ---- formatters ---- */

const char *
page_state_kind(const char *s)
{
	static const struct { const char *state, *kind; } map[] = {
		{ "queued", "info" }, { "running", "run" }, { "failed", "warn" }, { "dead", "bad" },
		{ "done", "ok" }, { "paused", "warn" },
		{ "pending", "info" }, { "synced", "ok" }, { "deleted", "muted" }, { "retrying", "warn" },
		{ "error", "bad" }, { "none", "muted" },
		{ "ok", "ok" }, { "needs_reconnect", "bad" }, { "invalid_token", "bad" },
		{ "disconnecting", "warn" }, { "failed_import", "bad" },
	};

	for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, s) == 0)
			return map[i].kind;
	return "muted";
}

void
page_duration(char *out, size_t n, int64_t s)
{
	if (s < 0)
		s = 0;
	snprintf(out, n, "%" PRId64 ":%02d:%02d", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
}

void
page_hours(char *out, size_t n, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s >= 100 * 3600)
		snprintf(out, n, "%" PRId64 " h", (s + 1800) / 3600);
	else
		snprintf(out, n, "%.1f h", (double)s / 3600.0);
}

void
page_ago(char *out, size_t n, int64_t ago)
{
	int64_t a = ago < 0 ? -ago : ago;
	const char *unit;
	int64_t v;

	if (a < 45) {
		snprintf(out, n, ago < 0 ? "in a few seconds" : "just now");
		return;
	}
	if (a < 3600)
		v = (a + 30) / 60, unit = "min";
	else if (a < 48 * 3600)
		v = (a + 1800) / 3600, unit = "h";
	else
		v = (a + 43200) / 86400, unit = v == 1 ? "day" : "days";
	if (strcmp(unit, "days") == 0 && v == 1)
		unit = "day";
	if (ago < 0)
		snprintf(out, n, "in %" PRId64 " %s", v, unit);
	else
		snprintf(out, n, "%" PRId64 " %s ago", v, unit);
}

void
page_when(char *out, size_t n, int64_t ago, const char *abs)
{
	if (abs != NULL && (ago > 7 * 86400 || ago < -7 * 86400))
		snprintf(out, n, "%s", abs);
	else
		page_ago(out, n, ago);
}

void
page_audit(struct req *r, const char *action, const char *detail_json)
{
	char uid[DB_I64_LEN];

	if (DB_RUN(r->db, STMT_AUDIT_INSERT, r->authed ? db_i64s(r->user.id, uid) : NULL, action,
	    detail_json ? detail_json : "{}", r->remote_addr) != 0)
		log_warn(r->id, "audit %s: %s", action, r->db->err);
}

void
page_wipe(const char *s, size_t n)
{
	if (s != NULL)
		crypto_wipe((void *)(uintptr_t)s, n);
}

/* ---- flash messages ---- */

/* MAC over "flash:" + payload, with the CSRF key: a cookie we did not write is ignored. */
static void
flash_mac(const char *payload, size_t len, unsigned char mac[CRYPTO_SHA256_LEN])
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "flash:");
	buf_append(&b, payload, len);
	crypto_hmac_sha256(crypto_key(CRYPTO_KEY_CSRF), CRYPTO_KEY_LEN, b.data ? b.data : "", b.len, mac);
	buf_free(&b);
}

int
page_flash_encode(enum page_flash kind, const char *msg, char *out, size_t outsz)
{
	char payload[LIMIT_FLASH_MAX + 2], macenc[64];
	unsigned char mac[CRYPTO_SHA256_LEN];
	size_t len;
	long n;

	if ((int)kind < 0 || kind > PAGE_FLASH_ERROR || msg == NULL)
		return -1;
	payload[0] = (char)('0' + (int)kind);
	len = strlen(msg);
	if (len > LIMIT_FLASH_MAX) {
		/* A cut message ends on a character boundary, so the page never shows a broken one. */
		len = LIMIT_FLASH_MAX;
		while (len > 0 && ((unsigned char)msg[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(payload + 1, msg, len);
	len++;
	flash_mac(payload, len, mac);
	if ((n = crypto_b64_encode((const unsigned char *)payload, len, out, outsz, 1)) <= 0 ||
	    (size_t)n + 2 >= outsz || crypto_b64_encode(mac, FLASH_MAC_BYTES, macenc, sizeof(macenc), 1) <= 0 ||
	    (size_t)n + 1 + strlen(macenc) >= outsz)
		return -1;
	out[n] = '.';
	memcpy(out + n + 1, macenc, strlen(macenc) + 1);
	return 0;
}

int
page_flash_decode(const char *cookie, enum page_flash *kind, char *msg, size_t msgsz)
{
	unsigned char dec[LIMIT_FLASH_MAX + 8], mac[CRYPTO_SHA256_LEN], sent[FLASH_MAC_BYTES + 4];
	const char *dot;
	long n, m;

	if (cookie == NULL || msgsz == 0 || (dot = strchr(cookie, '.')) == NULL)
		return -1;
	n = crypto_b64_decode(cookie, (size_t)(dot - cookie), dec, sizeof(dec), 1);
	m = crypto_b64_decode(dot + 1, strlen(dot + 1), sent, sizeof(sent), 1);
	if (n < 1 || m != FLASH_MAC_BYTES)
		return -1;
	flash_mac((const char *)dec, (size_t)n, mac);
	if (!crypto_eq(mac, FLASH_MAC_BYTES, sent, FLASH_MAC_BYTES) || dec[0] < '0' || dec[0] > '0' + PAGE_FLASH_ERROR ||
	    (size_t)n > msgsz)
		return -1;
	*kind = (enum page_flash)(dec[0] - '0');
	memcpy(msg, dec + 1, (size_t)n - 1);
	msg[n - 1] = '\0';
	return 0;
}

void
page_done(struct req *r, const char *location, enum page_flash kind, const char *fmt, ...)
{
	char msg[LIMIT_FLASH_MAX + 1], cookie[(LIMIT_FLASH_MAX + 2) * 4 / 3 + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (page_flash_encode(kind, msg, cookie, sizeof(cookie)) == 0)
		resp_cookie(r, FLASH_COOKIE, cookie, LIMIT_FLASH_TTL_S, 1);
	resp_redirect(r, 303, location);
}

/* The message in the request's flash cookie, verified, or NULL. */
static const char *
flash_read(struct req *r, enum page_flash *kind)
{
	char msg[LIMIT_FLASH_MAX + 1];

	if (page_flash_decode(req_cookie(r, FLASH_COOKIE), kind, msg, sizeof(msg)) != 0)
		return NULL;
	return arena_strdup(&r->arena, msg);
}

/* ---- the layout ---- */

struct layout {
	struct req      *r;
	const char      *title, *slug;
	enum page_nav    nav;
	const struct tmpl *body;
	tmpl_cb          cb;
	void            *arg;
	const char      *flash;
	enum page_flash  flash_kind;
};

static int
demo_links(struct tmpl_ctx *ctx, struct req *r)
{
	const struct config *c = config_get();
	const char *toggl = c->toggl_url ? c->toggl_url : "", *api = c->google_api_url ? c->google_api_url : "";
	const char *cut = strstr(api, "/calendar/v3");
	const char *v[TK_DEMO__MAX] = {
		[TK_DEMO_TOGGL] = arena_printf(&r->arena, "%s/_control/view", toggl),
		[TK_DEMO_GOOGLE] = arena_printf(&r->arena, "%.*s/_control/view",
		    (int)(cut ? (size_t)(cut - api) : strlen(api)), api),
	};

	return page_nest_values(ctx, TMPL_DEMO, v, TK_DEMO__MAX);
}

static int
layout_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct layout *l = arg;
	struct req *r = l->r;
	const char *tok;

	switch (key) {
	case LAYOUT_TITLE:
		tmpl_put(ctx, l->title);
		return 0;
	case LAYOUT_PAGE:
		tmpl_put(ctx, l->slug);
		return 0;
	case LAYOUT_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case LAYOUT_DEMO:
		return page_demo() ? demo_links(ctx, r) : 0;
	case LAYOUT_USER: {
		const char *v[TK_WHOAMI__MAX] = { [TK_WHOAMI_EMAIL] = r->user.email,
			[TK_WHOAMI_ROLE] = r->user.is_admin ? "admin" : "user", [TK_WHOAMI_CSRF] = session_csrf_token(r) };
		if (!r->authed)
			return 0;
		return page_nest_values(ctx, TMPL_WHOAMI, v, TK_WHOAMI__MAX);
	}
	case LAYOUT_NAV:
		if (!r->authed)
			return 0;
		for (int i = 0; i < PAGE_NAV__MAX; i++) {
			const char *v[TK_NAVI__MAX] = { [TK_NAVI_HREF] = nav_defs[i].href,
				[TK_NAVI_LABEL] = nav_defs[i].label,
				[TK_NAVI_CURRENT] = (int)l->nav == i ? "page" : "false" };
			if (nav_defs[i].admin_only && !r->user.is_admin)
				continue;
			if (page_nest_values(ctx, TMPL_NAVI, v, TK_NAVI__MAX) != 0)
				return -1;
		}
		return 0;
	case LAYOUT_FLASH: {
		const char *v[TK_FLASH__MAX] = { [TK_FLASH_KIND] = flash_kinds[l->flash_kind],
			[TK_FLASH_MESSAGE] = l->flash };
		return l->flash ? page_nest_values(ctx, TMPL_FLASH, v, TK_FLASH__MAX) : 0;
	}
	case LAYOUT_BODY:
		return tmpl_nest(ctx, l->body, l->cb, l->arg);
	default:
		return 0;
	}
}

void
page_render(struct req *r, int status, const char *title, const char *slug, enum page_nav nav,
    enum tmpl_id body, tmpl_cb cb, void *arg)
{
	struct layout l = { r, title, slug, nav, templates_get(body), cb, arg, NULL, PAGE_FLASH_OK };
	const struct tmpl *layout = templates_get(TMPL_LAYOUT);

	if ((l.flash = flash_read(r, &l.flash_kind)) != NULL || req_cookie(r, FLASH_COOKIE) != NULL)
		resp_cookie(r, FLASH_COOKIE, "", 0, 1);
	buf_reset(&r->out);
	if (layout == NULL || l.body == NULL || tmpl_render(layout, &r->out, layout_cb, &l) != 0) {
		log_error(r->id, "rendering the %s page failed", slug);
		resp_error(r, 500, "This page could not be shown; the details are in the server log.");
		return;
	}
	r->status = status;
	r->out_type = "text/html; charset=utf-8";
}

int
page_webhook_badge(struct tmpl_ctx *ctx, const PGresult *ws, int i)
{
	if (db_isnull(ws, i, 2))
		return page_badge(ctx, "muted", "No webhook");
	if (!db_bool(ws, i, 3))
		return page_badge(ctx, "warn", "Disabled");
	if (!db_bool(ws, i, 4))
		return page_badge(ctx, "warn", "Not validated");
	if (db_bool(ws, i, 7))
		return page_badge(ctx, "warn", "Deliveries retrying");
	return page_badge(ctx, "ok", "Active");
}

void
page_webhook_last(char *out, size_t n, const PGresult *ws, int i)
{
	if (db_isnull(ws, i, 5))
		snprintf(out, n, "%s", db_isnull(ws, i, 2) ? "—" : "None yet");
	else
		page_when(out, n, db_i64(ws, i, 5), db_str(ws, i, 6));
}
