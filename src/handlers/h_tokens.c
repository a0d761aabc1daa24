/* h_tokens.c: GET /tokens, POST /tokens/create and /tokens/revoke — the caller's own API tokens (Grafana,
 * scripts). A new token is shown once, on the answer to the POST itself: it never goes into a cookie, a
 * URL or the log, and only its hash and first characters are stored. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "handlers/handlers.h"
#include "handlers/page.h"
#include "http/parse.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

struct tokens_page {
	struct req *r;
	PGresult   *rows;
	const char *once;      /* a token just created */
	const char *name;      /* the name field, kept after an error */
	const char *error;
};

struct token_row {
	struct tokens_page *p;
	int                 i;
};

static int
row_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct token_row *t = arg;
	PGresult *res = t->p->rows;
	int revoked = db_bool(res, t->i, 6);

	if (key == TK_TROW_STATE)
		return revoked ? page_badge(ctx, "muted", "Revoked") : page_badge(ctx, "ok", "Active");
	if (key == TK_TROW_ACTION && !revoked) {
		struct page_btn b = { "/tokens/revoke", "", "/tokens", "id", db_str(res, t->i, 0), "Revoke", "danger",
			arena_printf(&t->p->r->arena, "Revoke the token “%s”? Anything using it stops working at once.",
			db_str(res, t->i, 1)) };
		return page_button(ctx, t->p->r, &b);
	}
	return 0;
}

static int
tokens_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct tokens_page *p = arg;
	struct req *r = p->r;
	const char *tok;

	switch (key) {
	case TK_TOKENS_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_TOKENS_ONCE:
		return p->once ? page_once(ctx, "Your new token:", p->once,
		    "Copy it now: it is shown only this once. Use it as Authorization: Bearer <token>.") : 0;
	case TK_TOKENS_ERROR:
		return page_form_error(ctx, p->error);
	case TK_TOKENS_NAME:
		if (p->name)
			tmpl_put(ctx, p->name);
		return 0;
	case TK_TOKENS_ROWS:
		if (PQntuples(p->rows) == 0)
			return page_empty_row(ctx, "No tokens yet.");
		for (int i = 0; i < PQntuples(p->rows); i++) {
			struct token_row t = { p, i };
			struct page_row row;
			char used[64];
			memset(&row, 0, sizeof(row));
			if (db_isnull(p->rows, i, 4))
				snprintf(used, sizeof(used), "Never");
			else
				page_when(used, sizeof(used), db_i64(p->rows, i, 4), db_str(p->rows, i, 5));
			row.v[TK_TROW_NAME] = *db_str(p->rows, i, 1) ? db_str(p->rows, i, 1) : "(unnamed)";
			row.v[TK_TROW_PREFIX] = db_str(p->rows, i, 2);
			row.v[TK_TROW_CREATED] = db_str(p->rows, i, 3);
			row.v[TK_TROW_USED] = arena_strdup(&r->arena, used);
			row.nest = row_nest;
			row.arg = &t;
			if (page_nest_row(ctx, TMPL_TROW, &row) != 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static void
show(struct req *r, int status, struct tokens_page *p)
{
	char uid[DB_I64_LEN];

	p->r = r;
	if ((p->rows = DB_EXEC(r->db, STMT_ADMIN_TOKEN_LIST, db_i64s(r->user.id, uid), r->user.time_zone)) == NULL) {
		log_error(r->id, "tokens: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	page_render(r, status, "API tokens", "tokens", PAGE_NAV_TOKENS, TMPL_TOKENS, tokens_cb, p);
	PQclear(p->rows);
	p->rows = NULL;
}

void
h_tokens(struct req *r)
{
	struct tokens_page p = { 0 };

	show(r, 200, &p);
}

void
h_tokens_create(struct req *r)
{
	static const struct http_field fields[] = {
		{ "name", HTTP_FT_LINE, LIMIT_TOKEN_NAME_MAX, HTTP_FIELD_REQUIRED, NULL, 0, 0 },
	};
	struct http_value v[1];
	struct tokens_page p = { 0 };
	char tok[64], hash[2 * CRYPTO_SHA256_LEN + 1], uid[DB_I64_LEN], prefix[12];
	json_t *detail;
	char *dj;

	if (http_validate(fields, 1, r->form, v) != 0 || v[0].len == 0) {
		p.name = req_form(r, "name");
		p.error = v[0].present && v[0].len > 0 ? arena_printf(&r->arena, "The name is %s: use one line of at "
		    "most %d characters.", v[0].reason ? v[0].reason : "not valid", LIMIT_TOKEN_NAME_MAX) :
		    "Give the token a name, e.g. Grafana.";
		if (p.name && strlen(p.name) > LIMIT_TOKEN_NAME_MAX)
			p.name = NULL;
		show(r, 400, &p);
		return;
	}
	/* "tb_" marks our tokens, as the CLI does, so secret scanners recognise a leaked one. */
	memcpy(tok, "tb_", 3);
	if (crypto_token(tok + 3, sizeof(tok) - 3, LIMIT_TOKEN_BYTES) != 0) {
		resp_error(r, 500, "No randomness available; the token was not created.");
		return;
	}
	crypto_token_hash(tok, hash);
	snprintf(prefix, sizeof(prefix), "%.8s", tok);
	if (DB_RUN(r->db, STMT_TOKEN_INSERT, db_i64s(r->user.id, uid), v[0].s, hash, prefix) != 0) {
		crypto_wipe(tok, sizeof(tok));
		log_error(r->id, "token insert: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; the token was not created.");
		return;
	}
	detail = json_pack("{s:s, s:s}", "name", v[0].s, "prefix", prefix);
	dj = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	page_audit(r, "token.create", dj);
	free(dj);
	json_decref(detail);
	p.once = arena_strdup(&r->arena, tok);
	crypto_wipe(tok, sizeof(tok));
	show(r, 200, &p);
	/* The page holding it has been written to r->out; the arena copy is not needed any more. */
	if (p.once)
		page_wipe(p.once, strlen(p.once));
}

void
h_tokens_revoke(struct req *r)
{
	int64_t id = page_id(req_form(r, "id"));
	char uid[DB_I64_LEN], tid[DB_I64_LEN];
	PGresult *res;

	if (id <= 0) {
		page_done(r, "/tokens", PAGE_FLASH_ERROR, "No token was named.");
		return;
	}
	/* Only the caller's own token: the statement checks the owner. */
	if ((res = DB_EXEC(r->db, STMT_TOKEN_REVOKE, db_i64s(id, tid), db_i64s(r->user.id, uid))) == NULL) {
		log_error(r->id, "token revoke: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	if (strcmp(PQcmdTuples(res), "1") == 0) {
		page_audit(r, "token.revoke", arena_printf(&r->arena, "{\"token_id\": %s}", tid));
		page_done(r, "/tokens", PAGE_FLASH_OK, "The token is revoked: it no longer opens anything.");
	} else
		page_done(r, "/tokens", PAGE_FLASH_ERROR, "That token is not yours, or it was revoked already.");
	PQclear(res);
}
