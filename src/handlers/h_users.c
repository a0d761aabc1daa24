/* h_users.c: GET /users and its POSTs (admins only, the router checks): add a user, disable or enable one,
 * make or unmake an admin, reset a password. A generated password is shown once, on the answer to the POST.
 * An admin cannot disable or demote themself, so there is always someone left to fix things. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "handlers/handlers.h"
#include "handlers/page.h"
#include "http/parse.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

struct users_page {
	struct req *r;
	PGresult   *rows;
	const char *once_label, *once;
	const char *email;
	const char *error;
};

struct user_row {
	struct users_page *p;
	int                i;
};

static int
row_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct user_row *u = arg;
	struct req *r = u->p->r;
	PGresult *res = u->p->rows;
	int i = u->i, self = db_i64(res, i, 0) == r->user.id;
	const char *id = db_str(res, i, 0), *email = db_str(res, i, 1);

	switch (key) {
	case TK_UROW_ROLE:
		return db_bool(res, i, 2) ? page_badge(ctx, "info", "Admin") : page_badge(ctx, "muted", "User");
	case TK_UROW_STATUS:
		if (db_bool(res, i, 3))
			return page_badge(ctx, "bad", "Disabled");
		return page_badge(ctx, "ok", "Active");
	case TK_UROW_ACTIONS: {
		struct page_btn pw = { "/users/update", id, "/users", "op", "password", "Reset password", "secondary",
			arena_printf(&r->arena, "Give %s a new generated password and end their sessions", email) };
		struct page_btn adm = { "/users/update", id, "/users", "op", db_bool(res, i, 2) ? "unadmin" : "admin",
			db_bool(res, i, 2) ? "Remove admin" : "Make admin", "secondary", NULL };
		struct page_btn dis = { "/users/update", id, "/users", "op", db_bool(res, i, 3) ? "enable" : "disable",
			db_bool(res, i, 3) ? "Enable" : "Disable", db_bool(res, i, 3) ? "secondary" : "danger",
			arena_printf(&r->arena, "Disable %s? Their sessions and API tokens stop working.", email) };
		if (page_button(ctx, r, &pw) != 0)
			return -1;
		if (self)
			return page_muted(ctx, "(you)");
		if (page_button(ctx, r, &adm) != 0 || page_button(ctx, r, &dis) != 0)
			return -1;
		return 0;
	}
	default:
		return 0;
	}
}

static int
users_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct users_page *p = arg;
	struct req *r = p->r;
	const char *tok;

	switch (key) {
	case TK_USERS_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_USERS_ONCE:
		return p->once ? page_once(ctx, p->once_label, p->once,
		    "Hand it over safely: it is shown only this once and cannot be looked up later.") : 0;
	case TK_USERS_ERROR:
		return page_form_error(ctx, p->error);
	case TK_USERS_EMAIL:
		if (p->email)
			tmpl_put(ctx, p->email);
		return 0;
	case TK_USERS_ROWS:
		for (int i = 0; i < PQntuples(p->rows); i++) {
			struct user_row u = { p, i };
			struct page_row row;
			char seen[160];
			memset(&row, 0, sizeof(row));
			if (db_isnull(p->rows, i, 5))
				snprintf(seen, sizeof(seen), "created %s", db_str(p->rows, i, 4));
			else {
				char ago[48];
				page_ago(ago, sizeof(ago), db_i64(p->rows, i, 5));
				snprintf(seen, sizeof(seen), "created %s, last seen %s", db_str(p->rows, i, 4), ago);
			}
			row.v[TK_UROW_EMAIL] = db_str(p->rows, i, 1);
			row.v[TK_UROW_CREATED] = arena_strdup(&r->arena, seen);
			row.nest = row_nest;
			row.arg = &u;
			if (page_nest_row(ctx, TMPL_UROW, &row) != 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static void
show(struct req *r, int status, struct users_page *p)
{
	p->r = r;
	if ((p->rows = DB_EXEC(r->db, STMT_ADMIN_USERS, r->user.time_zone)) == NULL) {
		log_error(r->id, "users: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	page_render(r, status, "Users", "users", PAGE_NAV_USERS, TMPL_USERS, users_cb, p);
	PQclear(p->rows);
	p->rows = NULL;
}

void
h_users(struct req *r)
{
	struct users_page p = { 0 };

	show(r, 200, &p);
}

/* A fresh random password (18 random bytes, URL-safe) into out. 0 or -1. */
static int
generate(char *out, size_t n)
{
	return crypto_token(out, n, 18);
}

static void
audit_user(struct req *r, const char *action, const char *email)
{
	json_t *d = json_pack("{s:s}", "email", email);
	char *s = d ? json_dumps(d, JSON_COMPACT) : NULL;

	page_audit(r, action, s);
	free(s);
	json_decref(d);
}

void
h_users_add(struct req *r)
{
	static const struct http_field fields[] = {
		{ "email", HTTP_FT_EMAIL, LIMIT_EMAIL_MAX, HTTP_FIELD_REQUIRED, NULL, 0, 0 },
		{ "password", HTTP_FT_TEXT, LIMIT_PASSWORD_MAX, 0, NULL, 0, 0 },
		{ "admin", HTTP_FT_BOOL, 0, 0, NULL, 0, 0 },
	};
	struct http_value v[3];
	struct users_page p = { 0 };
	char gen[64], hash[256];
	const char *pw;
	int generated = 0;
	PGresult *res;

	gen[0] = '\0';
	hash[0] = '\0';
	if (http_validate(fields, 3, r->form, v) != 0) {
		p.email = v[0].valid ? v[0].s : NULL;
		p.error = !v[0].valid ? "Enter a valid email address." : !v[1].valid ?
		    "The password is not valid text." : "The administrator box has an unexpected value.";
		show(r, 400, &p);
		goto out;
	}
	pw = v[1].present && v[1].len > 0 ? v[1].s : NULL;
	if (pw && (strlen(pw) < LIMIT_PASSWORD_MIN || strlen(pw) > LIMIT_PASSWORD_MAX)) {
		p.email = v[0].s;
		p.error = arena_printf(&r->arena, "The password must have at least %d characters (or leave it empty "
		    "to generate one).", LIMIT_PASSWORD_MIN);
		show(r, 400, &p);
		goto out;
	}
	if (pw == NULL) {
		if (generate(gen, sizeof(gen)) != 0) {
			resp_error(r, 500, "No randomness available; the user was not created.");
			goto out;
		}
		pw = gen;
		generated = 1;
	}
	if (crypto_password_hash(pw, hash, sizeof(hash)) != 0) {
		resp_error(r, 500, "The password could not be hashed; the user was not created.");
		goto out;
	}
	if ((res = DB_EXEC(r->db, STMT_USER_INSERT, v[0].s, hash, v[2].present && v[2].b ? "true" : "false")) == NULL) {
		if (strcmp(db_sqlstate(r->db), "23505") == 0) {
			p.email = v[0].s;
			p.error = "A user with this email exists already.";
			show(r, 409, &p);
		} else {
			log_error(r->id, "user insert: %s", r->db->err);
			resp_error(r, 503, "The database is unavailable; the user was not created.");
		}
		goto out;
	}
	PQclear(res);
	audit_user(r, "user.add", v[0].s);
	if (generated) {
		p.once_label = arena_printf(&r->arena, "%s can log in with the password:", v[0].s);
		p.once = arena_strdup(&r->arena, gen);
		show(r, 201, &p);
		if (p.once)
			page_wipe(p.once, strlen(p.once));
	} else
		page_done(r, "/users", PAGE_FLASH_OK, "%s can log in now.", v[0].s);
out:
	crypto_wipe(gen, sizeof(gen));
	crypto_wipe(hash, sizeof(hash));
	if (r->body)
		page_wipe(r->body, r->body_len);
	if (req_form(r, "password"))
		page_wipe(req_form(r, "password"), strlen(req_form(r, "password")));
}

void
h_users_update(struct req *r)
{
	int64_t id = page_id(req_form(r, "user"));
	const char *op = req_form(r, "op");
	char uid[DB_I64_LEN], gen[64], hash[256];
	struct users_page p = { 0 };
	const char *email;
	PGresult *res = NULL;
	int err = 0;

	gen[0] = hash[0] = '\0';
	if (id <= 0 || op == NULL) {
		page_done(r, "/users", PAGE_FLASH_ERROR, "No user or action was named.");
		return;
	}
	if ((res = DB_EXEC(r->db, STMT_USER_BY_ID, db_i64s(id, uid))) == NULL)
		goto dberr;
	if (PQntuples(res) != 1) {
		page_done(r, "/users", PAGE_FLASH_ERROR, "There is no such user.");
		goto out;
	}
	email = arena_strdup(&r->arena, db_str(res, 0, 1));
	if (id == r->user.id && (strcmp(op, "disable") == 0 || strcmp(op, "unadmin") == 0)) {
		page_done(r, "/users", PAGE_FLASH_ERROR, "You cannot %s yourself: ask another administrator.",
		    strcmp(op, "disable") == 0 ? "disable" : "remove the admin role from");
		goto out;
	}
	if (strcmp(op, "disable") == 0 || strcmp(op, "enable") == 0) {
		int dis = strcmp(op, "disable") == 0;
		/* A disabled account keeps nothing open: its sessions end now (its tokens stop at lookup). */
		err = DB_RUN(r->db, STMT_USER_SET_DISABLED, uid, dis ? "true" : "false") != 0 ||
		    (dis && DB_RUN(r->db, STMT_SESSION_DELETE_USER, uid) != 0);
		if (err)
			goto dberr;
		audit_user(r, dis ? "user.disable" : "user.enable", email);
		page_done(r, "/users", PAGE_FLASH_OK, dis ? "%s is disabled." : "%s is enabled again.", email);
	} else if (strcmp(op, "admin") == 0 || strcmp(op, "unadmin") == 0) {
		int adm = strcmp(op, "admin") == 0;
		if (DB_RUN(r->db, STMT_USER_SET_ADMIN, uid, adm ? "true" : "false") != 0)
			goto dberr;
		audit_user(r, adm ? "user.admin" : "user.unadmin", email);
		page_done(r, "/users", PAGE_FLASH_OK, adm ? "%s is an administrator now." :
		    "%s is no longer an administrator.", email);
	} else if (strcmp(op, "password") == 0) {
		if (generate(gen, sizeof(gen)) != 0 || crypto_password_hash(gen, hash, sizeof(hash)) != 0) {
			resp_error(r, 500, "The password could not be generated.");
			goto out;
		}
		if (DB_RUN(r->db, STMT_USER_SET_PASSWORD, uid, hash) != 0 ||
		    DB_RUN(r->db, STMT_SESSION_DELETE_USER, uid) != 0)
			goto dberr;
		audit_user(r, "user.password_reset", email);
		p.once_label = arena_printf(&r->arena, "New password of %s:", email);
		p.once = arena_strdup(&r->arena, gen);
		show(r, 200, &p);
		if (p.once)
			page_wipe(p.once, strlen(p.once));
	} else
		page_done(r, "/users", PAGE_FLASH_ERROR, "Unknown action.");
	goto out;
dberr:
	log_error(r->id, "users update: %s", r->db->err);
	resp_error(r, 503, "The database is unavailable; nothing was changed.");
out:
	PQclear(res);
	crypto_wipe(gen, sizeof(gen));
	crypto_wipe(hash, sizeof(hash));
}
