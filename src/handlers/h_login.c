/* h_login.c: GET/POST /login and POST /logout. Password checks are scrypt (32 MiB, ~120 ms): at most
 * LIMIT_LOGIN_CONCURRENT run at once per process, and failures are throttled per account and per address
 * in the database (so every FastCGI process sees the same counts), before any password work is done. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "handlers/handlers.h"
#include "handlers/page.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

/* Process-wide, not per-request: the semaphore bounds the memory scrypt takes, and the dummy hash makes
 * an unknown account cost the same time as a known one (no account discovery by timing). */
static pthread_once_t login_once = PTHREAD_ONCE_INIT;
static sem_t login_slots;
static int login_slots_ok;
static char dummy_hash[256];

static void
login_init(void)
{
	char pw[64];

	login_slots_ok = sem_init(&login_slots, 0, LIMIT_LOGIN_CONCURRENT) == 0;
	if (crypto_token(pw, sizeof(pw), 24) != 0 || crypto_password_hash(pw, dummy_hash, sizeof(dummy_hash)) != 0)
		dummy_hash[0] = '\0';
	crypto_wipe(pw, sizeof(pw));
}

/* Wait up to LIMIT_LOGIN_QUEUE_MS for a password-check slot. 0 when taken. */
static int
slot_take(void)
{
	struct timespec ts;

	if (!login_slots_ok)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LIMIT_LOGIN_QUEUE_MS / 1000;
	ts.tv_nsec += (long)(LIMIT_LOGIN_QUEUE_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&login_slots, &ts) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

struct login_page {
	struct req *r;
	const char *next;
	const char *email;
	const char *error;
};

static int
login_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct login_page *p = arg;
	const char *tok;

	switch (key) {
	case TK_LOGIN_CSRF:
		if ((tok = session_csrf_token(p->r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_LOGIN_NEXT:
		tmpl_put(ctx, p->next);
		return 0;
	case TK_LOGIN_EMAIL:
		if (p->email)
			tmpl_put(ctx, p->email);
		return 0;
	case TK_LOGIN_ERROR:
		return page_form_error(ctx, p->error);
	default:
		return 0;
	}
}

static void
login_show(struct req *r, int status, const char *next, const char *email, const char *error)
{
	struct login_page p = { r, http_local_path(next, "/"), email, error };

	page_render(r, status, "Log in", "login", PAGE_NAV_NONE, TMPL_LOGIN, login_cb, &p);
}

void
h_login_form(struct req *r)
{
	const char *next = http_local_path(req_query(r, "next"), "/");
	int rc;

	/* Already logged in: straight on. */
	if ((rc = session_load(r)) == 1) {
		resp_redirect(r, 303, next);
		return;
	}
	if (rc < 0) {
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	login_show(r, 200, next, NULL, NULL);
}

/* Lowercased copy of the e-mail for the throttle's account key. */
static char *
lower_dup(struct req *r, const char *s)
{
	char *d = arena_strdup(&r->arena, s);

	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static void
minutes_text(char *out, size_t n, int s)
{
	int m = (s + 59) / 60;

	if (m <= 1)
		snprintf(out, n, "a minute");
	else
		snprintf(out, n, "%d minutes", m);
}

void
h_login(struct req *r)
{
	const char *email = req_form(r, "email"), *pw = req_form(r, "password");
	const char *next = http_local_path(req_form(r, "next"), "/");
	char win[16], la[16], lb[16], wait[32], uid[DB_I64_LEN];
	PGresult *res = NULL;
	int ok = 0, known = 0, disabled = 0;
	int64_t user_id = 0;
	char *key = NULL;

	if (email == NULL || *email == '\0' || pw == NULL || *pw == '\0') {
		login_show(r, 400, next, email, "Enter your email and your password.");
		goto out;
	}
	if (strlen(email) > LIMIT_EMAIL_MAX || strlen(pw) > LIMIT_PASSWORD_MAX) {
		login_show(r, 400, next, NULL, "Wrong email or password.");
		goto out;
	}
	key = lower_dup(r, email);
	snprintf(win, sizeof(win), "%d", LIMIT_LOGIN_WINDOW_S);
	snprintf(la, sizeof(la), "%d", LIMIT_LOGIN_FAILS_ACCOUNT);
	snprintf(lb, sizeof(lb), "%d", LIMIT_LOGIN_FAILS_ADDR);
	if ((res = DB_EXEC(r->db, STMT_ADMIN_LOGIN_THROTTLE, key, r->remote_addr, win, la, lb)) == NULL) {
		log_error(r->id, "login throttle: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	if (db_i64(res, 0, 0) >= LIMIT_LOGIN_FAILS_ACCOUNT || db_i64(res, 0, 1) >= LIMIT_LOGIN_FAILS_ADDR) {
		int acct = db_i64(res, 0, 0) >= LIMIT_LOGIN_FAILS_ACCOUNT;
		int s = (int)db_i64(res, 0, acct ? 2 : 3);
		minutes_text(wait, sizeof(wait), s > 0 ? s : 60);
		resp_header(r, "Retry-After", "%d", s > 0 ? s : 60);
		log_warn(r->id, "login throttled (%s)", acct ? "account" : "address");
		login_show(r, 429, next, email, arena_printf(&r->arena, acct ?
		    "Too many failed logins for this account. For its safety, logging in is paused: try again in %s." :
		    "Too many failed logins from your network address. Try again in %s.", wait));
		goto out;
	}
	PQclear(res);
	if ((res = DB_EXEC(r->db, STMT_USER_BY_EMAIL, email)) == NULL) {
		log_error(r->id, "login: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	known = PQntuples(res) == 1 && !db_isnull(res, 0, 2);
	pthread_once(&login_once, login_init);
	if (slot_take() != 0) {
		resp_header(r, "Retry-After", "2");
		login_show(r, 503, next, email, "The server is busy checking other logins; try again in a moment.");
		goto out;
	}
	/* The same work whether or not the account exists. */
	ok = crypto_password_verify(pw, known ? db_str(res, 0, 2) : dummy_hash) == 1 && known;
	sem_post(&login_slots);
	if (ok) {
		user_id = db_i64(res, 0, 0);
		disabled = db_bool(res, 0, 5);
	}
	if (DB_RUN(r->db, STMT_ADMIN_LOGIN_RECORD, key, r->remote_addr, ok ? "true" : "false", win) != 0)
		log_warn(r->id, "login record: %s", r->db->err);
	if (!ok) {
		log_info(r->id, "login failed for an account key of %zu bytes", strlen(key));
		login_show(r, 401, next, email, "Wrong email or password.");
		goto out;
	}
	if (disabled) {
		login_show(r, 403, next, email, "This account is disabled. Ask an administrator to enable it.");
		goto out;
	}
	if (session_create(r, user_id) != 0) {
		log_error(r->id, "session create: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	r->user.id = user_id;
	r->authed = 1;
	page_audit(r, "login", NULL);
	log_info(r->id, "login: user %s", db_i64s(user_id, uid));
	resp_redirect(r, 303, next);
out:
	PQclear(res);
	/* The password is not needed any more: neither its decoded copy nor the raw body keep it. */
	if (pw)
		page_wipe(pw, strlen(pw));
	if (r->body)
		page_wipe(r->body, r->body_len);
}

void
h_logout(struct req *r)
{
	page_audit(r, "logout", NULL);
	session_destroy(r);
	page_done(r, "/login", PAGE_FLASH_INFO, "You are logged out.");
}
