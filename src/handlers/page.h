/* page.h: what every admin page shares: the layout (navigation, who is logged in, the demo banner), flash
 * messages carried across a POST-redirect-GET, the user a page is about, and the small fragments and
 * formatters the pages have in common. Only the h_*.c page handlers include it. */
#ifndef TB_HANDLERS_PAGE_H
#define TB_HANDLERS_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "http/templates.h"

/* The navigation entries, in display order. Users and Settings are shown to admins only. */
enum page_nav {
	PAGE_NAV_NONE = -1,
	PAGE_NAV_DASHBOARD = 0,
	PAGE_NAV_TOGGL,
	PAGE_NAV_GOOGLE,
	PAGE_NAV_ENTRIES,
	PAGE_NAV_JOBS,
	PAGE_NAV_TOKENS,
	PAGE_NAV_USERS,
	PAGE_NAV_SETTINGS,
	PAGE_NAV__MAX
};

enum page_flash { PAGE_FLASH_OK = 0, PAGE_FLASH_INFO, PAGE_FLASH_ERROR };

/*
 * Answer status with the page: body (a template of templates.h) rendered by cb/arg inside the layout.
 * slug names the page for CSS ("login", "dashboard"...). A flash message left by the previous POST is
 * shown and cleared. On a rendering failure the answer is a 500 error page instead.
 */
void page_render(struct req *r, int status, const char *title, const char *slug, enum page_nav nav,
	enum tmpl_id body, tmpl_cb cb, void *arg);

/* After a successful POST: keep a message for the next page (a signed cookie, so nobody else can put words
 * on our pages) and answer 303 to location (a local path). */
void page_done(struct req *r, const char *location, enum page_flash kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The flash cookie's value: base64url(kind digit + message) "." base64url(16 bytes of HMAC-SHA256 with the
 * CSRF key over "flash:" + the same). encode: 0, or -1 when out is too small. decode: 0 with *kind and msg
 * (NUL-terminated) set, or -1 for anything we did not write (bad MAC, bad base64, unknown kind, too long). */
int page_flash_encode(enum page_flash kind, const char *msg, char *out, size_t outsz) __attribute__((warn_unused_result));
int page_flash_decode(const char *cookie, enum page_flash *kind, char *msg, size_t msgsz) __attribute__((warn_unused_result));

/*
 * The user a page shows or changes: the caller, or for an admin the user named by the parameter "user"
 * (the query of a GET, the form of a POST). With allow_all, an admin's "all" (or nothing, when all_default)
 * means every user: 0. A non-admin always gets themself, whatever they send.
 */
int64_t page_scope(struct req *r, int allow_all, int all_default);

/* The scope as a "user" parameter value for links and hidden fields: "" for the caller themself, "all", or
 * the id. Arena-owned. */
const char *page_scope_param(struct req *r, int64_t scope);

/* A GET form choosing the scope (admins only; nothing for others), for the pages' headers. */
int page_scope_form(struct tmpl_ctx *ctx, struct req *r, const char *action, int64_t scope, int allow_all) __attribute__((warn_unused_result));
/* The <option>s of every user (admins), with "All users" first when allow_all. */
int page_user_options(struct tmpl_ctx *ctx, struct req *r, int64_t selected, int allow_all) __attribute__((warn_unused_result));

/* A row of any template: a text per key (indexed by the template's key enum; NULL writes nothing), and for
 * the keys without text an optional callback that nests what they need (badges, buttons). */
#define PAGE_ROW_KEYS 24
struct page_row {
	const char  *v[PAGE_ROW_KEYS];
	tmpl_cb      nest;
	void        *arg;
};
int page_row_cb(size_t key, struct tmpl_ctx *ctx, void *arg) __attribute__((warn_unused_result));
int page_nest_row(struct tmpl_ctx *ctx, enum tmpl_id id, struct page_row *row) __attribute__((warn_unused_result));
/* The same for a template whose values are all text: v[0..n). */
int page_nest_values(struct tmpl_ctx *ctx, enum tmpl_id id, const char *const *v, size_t n) __attribute__((warn_unused_result));

/* Fragments, nested at a TEXT marker. Each returns 0 or -1 (the rendering then fails). */
int page_badge(struct tmpl_ctx *ctx, const char *kind, const char *label) __attribute__((warn_unused_result));
int page_muted(struct tmpl_ctx *ctx, const char *text) __attribute__((warn_unused_result));
int page_form_error(struct tmpl_ctx *ctx, const char *message) __attribute__((warn_unused_result));   /* nothing when message is NULL */
int page_option(struct tmpl_ctx *ctx, const char *value, const char *label, int selected) __attribute__((warn_unused_result));
int page_empty_row(struct tmpl_ctx *ctx, const char *text) __attribute__((warn_unused_result));
int page_link(struct tmpl_ctx *ctx, const char *href, const char *label, int current) __attribute__((warn_unused_result));
/* A status card (status_card.html): a badge, a title, what it means, an optional muted line (extra, may be
 * NULL) and a link. */
struct page_card {
	const char *badge_kind, *badge, *title, *detail, *extra, *href, *action;
};
int page_status_card(struct tmpl_ctx *ctx, struct page_card *c) __attribute__((warn_unused_result));
/* A one-button POST form with the CSRF token, the scope (uid, may be ""), where to come back to (back, a
 * local path, may be NULL) and one named value. kind is a button style: primary, secondary, ghost, danger
 * (danger asks for confirmation when JS runs, with title). */
struct page_btn {
	const char *action, *uid, *back, *name, *value, *label, *kind, *title;
};
int page_button(struct tmpl_ctx *ctx, struct req *r, const struct page_btn *b) __attribute__((warn_unused_result));
/* The "back" field of a POST as a local path, else fallback. */
const char *page_back(struct req *r, const char *fallback);
/* A secret shown once (a new API token, a generated password). */
int page_once(struct tmpl_ctx *ctx, const char *label, const char *value, const char *hint) __attribute__((warn_unused_result));
/* Previous/next links of a list: base is the path with its query so far (ending in '?' or '&'). */
int page_pager(struct tmpl_ctx *ctx, struct req *r, const char *base, long offset, long limit, long total) __attribute__((warn_unused_result));

/* The badge style of a job state, a mirror state, or a connection status. */
const char *page_state_kind(const char *state);

/* Formatters into out (always NUL-terminated). */
void page_duration(char *out, size_t n, int64_t seconds);              /* "1:05:09" style: h:mm:ss */
void page_hours(char *out, size_t n, int64_t seconds);                 /* "12.5 h" */
void page_ago(char *out, size_t n, int64_t seconds_ago);               /* "3 min ago", "in 2 h" */
/* "N ago" when the time is within a week, else the absolute text abs (may be NULL). */
void page_when(char *out, size_t n, int64_t seconds_ago, const char *abs);
/* Row i of STMT_ADMIN_WORKSPACES (dashboard and Toggl page): the webhook's state as a badge, and when
 * its last event arrived. */
int  page_webhook_badge(struct tmpl_ctx *ctx, const PGresult *ws, int i) __attribute__((warn_unused_result));
void page_webhook_last(char *out, size_t n, const PGresult *ws, int i);

/* Parse a non-negative decimal int64; -1 when s is NULL, empty, not a number or too large. */
int64_t page_id(const char *s);

/* Record an admin action in audit_log (who, what, detail JSON object text or NULL, from where). A failure is
 * logged, not fatal: the action itself already happened. */
void page_audit(struct req *r, const char *action, const char *detail_json);

/* Wipe a secret that arrived as request data (a password, a token): its bytes live in the request's arena
 * or body, which the const of the accessors does not make read-only. NULL is fine. */
void page_wipe(const char *s, size_t n);

/* Demo mode (TIMEBRIDGE_DEMO=1 in the environment, set by `./dev run --demo`): every page says so. */
int page_demo(void);

#endif
