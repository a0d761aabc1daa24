/* cli_toggl.c: the Toggl commands of `timebridge`: toggl connect|refresh|status, webhook
 * setup|remove|status, import and reconcile. They run the operations of src/toggl/ in this process (the
 * worker runs the same ones as jobs for the admin pages), waiting out quotas and saying so on stderr. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/http_client.h"
#include "cli/cli.h"
#include "toggl/toggl.h"
#include "util/crypto.h"
#include "util/tbtime.h"

#define BAR_WIDTH 30

struct session {
	struct toggl_sync   s;
	struct http_client *http;
	int                 opened;
	int                 bar;       /* a progress bar is on screen */
};

static int
exit_for(enum toggl_rc rc)
{
	switch (rc) {
	case TOGGL_OK:
		return CLI_OK;
	case TOGGL_NOTFOUND:
		return CLI_NOTFOUND;
	case TOGGL_CONFLICT:
		return CLI_CONFLICT;
	default:
		return CLI_FAIL;
	}
}

static int
say_wait(void *arg, const char *why, double seconds)
{
	struct session *se = arg;

	if (se->bar) {
		fputc('\n', stdout);
		fflush(stdout);
		se->bar = 0;
	}
	fprintf(stderr, "timebridge: %s\n", why);
	(void)seconds;
	return 0;
}

static void
bar(void *arg, const struct toggl_import_stats *st)
{
	struct session *se = arg;
	double f = st->hi > st->lo ? (double)(st->pos - st->lo) / (double)(st->hi - st->lo) : 0;
	char b[BAR_WIDTH + 1];
	int n;

	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	n = (int)(f * BAR_WIDTH + 0.5);
	memset(b, '#', (size_t)n);
	memset(b + n, '.', (size_t)(BAR_WIDTH - n));
	b[BAR_WIDTH] = '\0';
	printf("\r[%s] %3.0f%%  %ld entries, %ld new, %ld updated  ", b, f * 100, st->fetched, st->inserted,
	    st->updated);
	fflush(stdout);
	se->bar = 1;
}

/* --max-wait SECONDS (default: LIMIT_TOGGL_CLI_WAIT_S). -1 when malformed. */
static double
max_wait(struct cli *c)
{
	const char *v = cli_opt(c, "--max-wait");
	char *end;
	double d;

	if (v == NULL)
		return LIMIT_TOGGL_CLI_WAIT_S;
	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= 0) || d > 86400)
		return -1;
	return d;
}

/* Connect to the database and open the user's Toggl session (token given: connecting). */
static int
session_open(struct cli *c, struct session *se, int64_t uid, const char *token, double wait)
{
	enum toggl_rc rc;

	memset(se, 0, sizeof(*se));
	if ((se->http = http_client_new()) == NULL) {
		fprintf(stderr, "timebridge: cannot set up the HTTP client\n");
		return CLI_FAIL;
	}
	if (token != NULL)
		rc = toggl_sync_open_token(&se->s, &c->db, se->http, uid, token, "cli", wait);
	else
		rc = toggl_sync_open(&se->s, &c->db, se->http, uid, "cli", wait);
	se->opened = 1;
	se->s.on_wait = say_wait;
	se->s.hook_arg = se;
	if (rc != TOGGL_OK) {
		fprintf(stderr, "timebridge: %s\n", se->s.err);
		return exit_for(rc);
	}
	return CLI_OK;
}

static void
session_close(struct session *se)
{
	if (se->opened)
		toggl_sync_close(&se->s);
	http_client_free(se->http);
	se->opened = 0;
	se->http = NULL;
}

static int
fail(struct session *se, enum toggl_rc rc, const char *extra)
{
	if (se->bar) {
		fputc('\n', stdout);
		se->bar = 0;
	}
	fprintf(stderr, "timebridge: %s%s\n", se->s.err, extra ? extra : "");
	return exit_for(rc);
}

static void
print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (text != NULL) {
		printf("%s\n", text);
		free(text);
	}
}

/* EMAIL as the only positional argument. */
static int64_t
user_arg(struct cli *c, const char *usage)
{
	if (c->argc != 1) {
		fprintf(stderr, "usage: timebridge %s\n", usage);
		return -2;
	}
	if (cli_db(c) != 0)
		return -1;
	return cli_user_id(c, c->argv[0]);
}

int
cli_toggl_connect(struct cli *c)
{
	struct session se;
	json_t *acct;
	char *token = NULL;
	double wait = max_wait(c);
	int64_t uid;
	int rc;

	if (wait < 0 || (uid = user_arg(c, "toggl connect EMAIL [--max-wait S] [--json]  (the API token on stdin)")) == -2)
		return CLI_USAGE;
	if (uid < 0)
		return db_ok(&c->db) ? CLI_NOTFOUND : CLI_FAIL;
	if ((token = cli_read_secret("Toggl API token: ")) == NULL) {
		fprintf(stderr, "timebridge: no token on stdin (find it at https://track.toggl.com/profile)\n");
		return CLI_USAGE;
	}
	if ((rc = session_open(c, &se, uid, token, wait)) != CLI_OK)
		goto out;
	if ((rc = exit_for(toggl_connect(&se.s, 1))) != CLI_OK) {
		fprintf(stderr, "timebridge: %s\n", se.s.err);
		goto out;
	}
	if (se.s.err[0])
		fprintf(stderr, "timebridge: warning: %s\n", se.s.err);
	acct = toggl_account_json(&c->db, uid);
	if (c->json)
		print_json(acct);
	else
		printf("connected %s to Toggl user %" PRId64 " (%s, time zone %s): %ld workspaces, %ld projects, "
		    "%ld clients, %ld tags; reconciliation scheduled\n", c->argv[0], se.s.toggl_user_id,
		    json_string_value(json_object_get(acct, "email")) ? json_string_value(json_object_get(acct, "email")) : "?",
		    json_string_value(json_object_get(acct, "time_zone")) ? json_string_value(json_object_get(acct, "time_zone")) : "UTC",
		    se.s.n_workspaces, se.s.n_projects, se.s.n_clients, se.s.n_tags);
	json_decref(acct);
out:
	session_close(&se);
	crypto_free_secret(token);
	return rc;
}

int
cli_toggl_refresh(struct cli *c)
{
	struct session se;
	double wait = max_wait(c);
	enum toggl_rc r;
	int64_t uid;
	int rc;

	if (wait < 0 || (uid = user_arg(c, "toggl refresh EMAIL [--max-wait S] [--json]")) == -2)
		return CLI_USAGE;
	if (uid < 0)
		return CLI_NOTFOUND;
	if ((rc = session_open(c, &se, uid, NULL, wait)) != CLI_OK)
		goto out;
	if ((r = toggl_metadata_refresh(&se.s)) != TOGGL_OK) {
		rc = fail(&se, r, NULL);
		goto out;
	}
	if (c->json)
		printf("{\"organizations\": %ld, \"workspaces\": %ld, \"projects\": %ld, \"clients\": %ld, \"tags\": %ld, "
		    "\"changed\": %ld}\n", se.s.n_orgs, se.s.n_workspaces, se.s.n_projects, se.s.n_clients, se.s.n_tags,
		    se.s.n_meta_changed);
	else
		printf("refreshed: %ld organizations, %ld workspaces, %ld projects, %ld clients, %ld tags (%ld rows "
		    "changed)\n", se.s.n_orgs, se.s.n_workspaces, se.s.n_projects, se.s.n_clients, se.s.n_tags,
		    se.s.n_meta_changed);
out:
	session_close(&se);
	return rc;
}

int
cli_toggl_status(struct cli *c)
{
	json_t *acct, *imp, *q, *item;
	int64_t uid;
	size_t i;

	if ((uid = user_arg(c, "toggl status EMAIL [--json]")) == -2)
		return CLI_USAGE;
	if (uid < 0)
		return CLI_NOTFOUND;
	if ((acct = toggl_account_json(&c->db, uid)) == NULL) {
		fprintf(stderr, "timebridge: %s has not connected Toggl\n", c->argv[0]);
		return CLI_NOTFOUND;
	}
	if ((imp = toggl_import_last(&c->db, uid)) != NULL)
		json_object_set_new(acct, "last_import", imp);
	if (c->json) {
		print_json(acct);
	} else {
		printf("Toggl user %" JSON_INTEGER_FORMAT " (%s): %s%s%s\n",
		    json_integer_value(json_object_get(acct, "toggl_user_id")),
		    json_string_value(json_object_get(acct, "email")) ? json_string_value(json_object_get(acct, "email")) : "?",
		    json_string_value(json_object_get(acct, "status")),
		    json_is_string(json_object_get(acct, "status_detail")) ? ": " : "",
		    json_is_string(json_object_get(acct, "status_detail")) ?
		    json_string_value(json_object_get(acct, "status_detail")) : "");
		q = json_object_get(acct, "quota");
		json_array_foreach(q, i, item)
			printf("quota %-16s %" JSON_INTEGER_FORMAT " left, resets %s\n",
			    json_string_value(json_object_get(item, "bucket")),
			    json_integer_value(json_object_get(item, "remaining")),
			    json_string_value(json_object_get(item, "resets_at")));
		printf("last pull: %s\n", json_is_string(json_object_get(acct, "last_pull_at")) ?
		    json_string_value(json_object_get(acct, "last_pull_at")) : "never");
	}
	json_decref(acct);
	return CLI_OK;
}

/* WORKSPACE_ID [--user EMAIL]: the workspace and whose it is. */
static int
workspace_user(struct cli *c, int need_wid, int64_t *wid, int64_t *uid, const char *usage)
{
	const char *email = cli_opt(c, "--user");
	char w[DB_I64_LEN], *end;
	PGresult *r;

	*wid = 0;
	if (c->argc > 1 || (need_wid && c->argc != 1) || (c->argc == 0 && email == NULL)) {
		fprintf(stderr, "usage: timebridge %s\n", usage);
		return CLI_USAGE;
	}
	if (c->argc == 1) {
		errno = 0;
		*wid = strtoll(c->argv[0], &end, 10);
		if (errno != 0 || *end != '\0' || *wid <= 0) {
			fprintf(stderr, "timebridge: WORKSPACE_ID is a Toggl workspace id (a positive number)\n");
			return CLI_USAGE;
		}
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if (email != NULL)
		return (*uid = cli_user_id(c, email)) < 0 ? CLI_NOTFOUND : CLI_OK;
	if ((r = DB_EXEC(&c->db, STMT_TOGGL_WORKSPACE_GET, db_i64s(*wid, w))) == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	*uid = PQntuples(r) == 1 ? db_i64(r, 0, 3) : -1;
	PQclear(r);
	if (*uid < 0) {
		fprintf(stderr, "timebridge: workspace %" PRId64 " is not a connected Toggl workspace; name its user with "
		    "--user EMAIL\n", *wid);
		return CLI_NOTFOUND;
	}
	return CLI_OK;
}

static void
print_hook(json_t *h)
{
	json_t *f = json_object_get(h, "foreign"), *item, *v;
	size_t i;

#define STR(k) (json_is_string(json_object_get(h, (k))) ? json_string_value(json_object_get(h, (k))) : NULL)
	v = json_object_get(h, "subscription_id");
	printf("workspace %" JSON_INTEGER_FORMAT "%s%s%s: subscription %s%" JSON_INTEGER_FORMAT
	    ", enabled %s, validated %s, pending events %s, last event %s, callback host %s%s%s%s\n",
	    json_integer_value(json_object_get(h, "workspace_id")), STR("workspace_name") ? " (" : "",
	    STR("workspace_name") ? STR("workspace_name") : "", STR("workspace_name") ? ")" : "",
	    json_is_integer(v) ? "" : "none ", json_is_integer(v) ? json_integer_value(v) : 0,
	    json_is_true(json_object_get(h, "enabled")) ? "yes" : "no",
	    STR("validated_at") ? STR("validated_at") : "no",
	    json_is_true(json_object_get(h, "has_pending_events")) ? "yes" : "no",
	    STR("last_event_at") ? STR("last_event_at") : "never", STR("callback_host") ? STR("callback_host") : "?",
	    STR("result") ? " [" : "", STR("result") ? STR("result") : "", STR("result") ? "]" : "");
	if (json_is_true(json_object_get(h, "stale")) || STR("note"))
		printf("  note: %s%s\n", json_is_true(json_object_get(h, "stale")) ? "stored status, Toggl not asked: " : "",
		    STR("note") ? STR("note") : "");
	json_array_foreach(f, i, item)
		printf("  not ours (left alone): #%" JSON_INTEGER_FORMAT " \"%s\" -> %s%s\n",
		    json_integer_value(json_object_get(item, "subscription_id")),
		    json_string_value(json_object_get(item, "description")),
		    json_string_value(json_object_get(item, "url_callback")),
		    json_is_true(json_object_get(item, "enabled")) ? " (enabled)" : " (disabled)");
#undef STR
}

/* The start of every webhook command: --max-wait, WORKSPACE_ID and --user, then the user's Toggl session.
 * se can be given to session_close() whatever this returns. */
static int
webhook_begin(struct cli *c, int need_wid, const char *usage, struct session *se, int64_t *wid)
{
	double wait = max_wait(c);
	int64_t uid;
	int rc;

	memset(se, 0, sizeof(*se));
	if (wait < 0)
		return CLI_USAGE;
	if ((rc = workspace_user(c, need_wid, wid, &uid, usage)) != CLI_OK)
		return rc;
	return session_open(c, se, uid, NULL, wait);
}

int
cli_webhook_setup(struct cli *c)
{
	struct session se;
	json_t *out = NULL;
	int64_t wid;
	int rc;

	if ((rc = webhook_begin(c, 1, "webhook setup WORKSPACE_ID [--user EMAIL] [--json]", &se, &wid)) != CLI_OK)
		goto out;
	if ((rc = exit_for(toggl_webhook_setup(&se.s, wid, &out))) != CLI_OK) {
		fprintf(stderr, "timebridge: %s\n", se.s.err);
		goto out;
	}
	if (c->json)
		print_json(out);
	else
		print_hook(out);
out:
	json_decref(out);
	session_close(&se);
	return rc;
}

int
cli_webhook_remove(struct cli *c)
{
	struct session se;
	int64_t wid;
	int rc;

	if ((rc = webhook_begin(c, 1, "webhook remove WORKSPACE_ID [--user EMAIL]", &se, &wid)) != CLI_OK)
		goto out;
	if ((rc = exit_for(toggl_webhook_remove(&se.s, wid))) != CLI_OK) {
		fprintf(stderr, "timebridge: %s\n", se.s.err);
		goto out;
	}
	printf("webhook of workspace %" PRId64 " removed; its URL now answers 404\n", wid);
out:
	session_close(&se);
	return rc;
}

int
cli_webhook_status(struct cli *c)
{
	struct session se;
	json_t *out = NULL, *item;
	int64_t wid;
	size_t i;
	int rc;

	if ((rc = webhook_begin(c, 0, "webhook status [WORKSPACE_ID] [--user EMAIL] [--json]", &se, &wid)) != CLI_OK)
		goto out;
	if ((rc = exit_for(toggl_webhook_status(&se.s, wid, &out))) != CLI_OK) {
		fprintf(stderr, "timebridge: %s\n", se.s.err);
		goto out;
	}
	if (c->json)
		print_json(out);
	else if (json_array_size(out) == 0)
		printf("no webhook of timebridge for this user\n");
	else
		json_array_foreach(out, i, item)
			print_hook(item);
out:
	json_decref(out);
	session_close(&se);
	return rc;
}

static int
parse_day(const char *s, int64_t *out)
{
	int y, m, d;

	if (s == NULL || tb_parse_date(s, &y, &m, &d) != 0)
		return -1;
	*out = tb_days_from_civil(y, m, d) * 86400;
	return 0;
}

static void
print_stats(struct cli *c, const char *what, const char *state, const struct toggl_import_stats *st)
{
	if (c->json) {
		printf("{\"state\": \"%s\", \"method\": \"%s\", \"run_id\": %" PRId64 ", \"fetched\": %ld, \"inserted\": %ld, "
		    "\"updated\": %ld, \"unchanged\": %ld, \"deleted\": %ld, \"skipped\": %ld, \"requests\": %ld, "
		    "\"windows\": %ld, \"splits\": %ld, \"quota_waits\": %ld, \"waited_s\": %.1f, \"resumes\": %ld, "
		    "\"verified\": %ld}\n", state, st->method ? st->method : "", st->run_id, st->fetched, st->inserted,
		    st->updated, st->unchanged, st->deleted, st->skipped, st->requests, st->windows, st->splits,
		    st->quota_waits, st->waited_s, st->resumes, st->verified);
		return;
	}
	printf("%s %s via %s: fetched %ld, inserted %ld, updated %ld, unchanged %ld, deleted %ld", what, state,
	    st->method ? st->method : "?", st->fetched, st->inserted, st->updated, st->unchanged, st->deleted);
	if (st->skipped)
		printf(", skipped (malformed) %ld", st->skipped);
	printf("\n%ld requests, %ld windows, %ld splits, %ld quota waits (%.0f s)%s\n", st->requests, st->windows,
	    st->splits, st->quota_waits, st->waited_s, st->resumes ? ", resumed from a checkpoint" : "");
}

int
cli_import(struct cli *c)
{
	const char *since = cli_opt(c, "--since"), *until = cli_opt(c, "--until");
	int restart = cli_flag(c, "--restart");
	struct toggl_import_opts o;
	struct toggl_import_stats st;
	struct session se;
	double wait = max_wait(c);
	int64_t uid;
	enum toggl_rc r;
	int rc;

	memset(&o, 0, sizeof(o));
	if (wait < 0 || since == NULL || parse_day(since, &o.since_s) != 0 ||
	    (until != NULL && parse_day(until, &o.until_s) != 0)) {
		fprintf(stderr, "usage: timebridge import EMAIL --since YYYY-MM-DD [--until YYYY-MM-DD] [--restart] "
		    "[--max-wait S] [--json]\n");
		return CLI_USAGE;
	}
	if (until == NULL)
		o.until_s = tb_now_ms() / 1000 / 86400 * 86400;
	o.until_s += 86400;   /* --until names the last day */
	o.restart = restart;
	if ((uid = user_arg(c, "import EMAIL --since YYYY-MM-DD [--until YYYY-MM-DD]")) == -2)
		return CLI_USAGE;
	if (uid < 0)
		return CLI_NOTFOUND;
	if ((rc = session_open(c, &se, uid, NULL, wait)) != CLI_OK)
		goto out;
	if (!c->json && isatty(STDOUT_FILENO))
		se.s.progress = bar;
	r = toggl_import(&se.s, &o, &st);
	if (se.bar) {
		fputc('\n', stdout);
		se.bar = 0;
	}
	if (r != TOGGL_OK) {
		rc = fail(&se, r, r == TOGGL_RETRY || r == TOGGL_AUTH ?
		    "; the import is checkpointed: run the same command again to resume" : NULL);
		if (st.run_id > 0)
			print_stats(c, "import", "interrupted", &st);
		goto out;
	}
	print_stats(c, "import", "done", &st);
	rc = CLI_OK;
out:
	session_close(&se);
	return rc;
}

int
cli_reconcile(struct cli *c)
{
	struct toggl_import_stats st;
	struct session se;
	double wait = max_wait(c);
	int64_t uid;
	enum toggl_rc r;
	int rc;

	if (wait < 0 || (uid = user_arg(c, "reconcile EMAIL [--max-wait S] [--json]")) == -2)
		return CLI_USAGE;
	if (uid < 0)
		return CLI_NOTFOUND;
	if ((rc = session_open(c, &se, uid, NULL, wait)) != CLI_OK)
		goto out;
	if ((r = toggl_reconcile(&se.s, &st)) != TOGGL_OK) {
		rc = fail(&se, r, NULL);
		goto out;
	}
	print_stats(c, "reconcile", "done", &st);
	rc = CLI_OK;
out:
	session_close(&se);
	return rc;
}
