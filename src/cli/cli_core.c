/* cli_core.c: the foundation's commands: migrate, users, API tokens and the job queue. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"

int
cli_migrate(struct cli *c)
{
	const char *dir = cli_opt(c, "--sql-dir");
	char err[1024];
	int n, v;

	if (dir == NULL)
		dir = config_get()->sql_dir;
	if (c->argc != 0)
		return CLI_USAGE;
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((n = db_migrate(&c->db, dir, err, sizeof(err))) < 0) {
		fprintf(stderr, "timebridge: migrate: %s\n", err);
		return CLI_FAIL;
	}
	v = db_schema_version(&c->db);
	printf("migrate: %d applied, schema version %d\n", n, v);
	return CLI_OK;
}

/* A password from stdin, or a generated one that is printed once. Caller frees with crypto_free_secret. */
static char *
password_for(int *generated)
{
	char *pw = cli_read_secret("Password: "), tok[64];

	*generated = 0;
	if (pw != NULL)
		return pw;
	if (crypto_token(tok, sizeof(tok), 18) != 0)
		return NULL;
	*generated = 1;
	pw = strdup(tok);
	crypto_wipe(tok, sizeof(tok));
	return pw;
}

static int
set_password_hash(const char *pw, char *hash, size_t hashsz)
{
	if (strlen(pw) < LIMIT_PASSWORD_MIN || strlen(pw) > LIMIT_PASSWORD_MAX) {
		fprintf(stderr, "timebridge: the password must be %d to %d characters\n", LIMIT_PASSWORD_MIN,
		    LIMIT_PASSWORD_MAX);
		return CLI_USAGE;
	}
	if (crypto_password_hash(pw, hash, hashsz) != 0) {
		fprintf(stderr, "timebridge: password hashing failed\n");
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cli_user_add(struct cli *c)
{
	int admin = cli_flag(c, "--admin"), generated, rc;
	char hash[256];
	const char *email;
	PGresult *r;
	char *pw;

	if (c->argc != 1 || strchr(c->argv[0], '@') == NULL) {
		fprintf(stderr, "usage: timebridge user add EMAIL [--admin]\n");
		return CLI_USAGE;
	}
	email = c->argv[0];
	if ((pw = password_for(&generated)) == NULL)
		return CLI_FAIL;
	if ((rc = set_password_hash(pw, hash, sizeof(hash))) != CLI_OK)
		goto out;
	if ((rc = cli_db(c) != 0 ? CLI_FAIL : CLI_OK) != CLI_OK)
		goto out;
	if ((r = DB_EXEC(&c->db, STMT_USER_INSERT, email, hash, admin ? "true" : "false")) == NULL) {
		if (strcmp(db_sqlstate(&c->db), "23505") == 0) {
			fprintf(stderr, "timebridge: a user %s exists already\n", email);
			rc = CLI_CONFLICT;
		} else {
			fprintf(stderr, "timebridge: %s\n", c->db.err);
			rc = CLI_FAIL;
		}
		goto out;
	}
	printf("user %s created (id %s%s)\n", email, db_str(r, 0, 0), admin ? ", admin" : "");
	if (generated)
		printf("password: %s\n", pw);
	PQclear(r);
out:
	crypto_wipe(hash, sizeof(hash));
	crypto_free_secret(pw);
	return rc;
}

int
cli_user_passwd(struct cli *c)
{
	char hash[256], uid[DB_I64_LEN];
	int generated, rc;
	int64_t id;
	char *pw;

	if (c->argc != 1) {
		fprintf(stderr, "usage: timebridge user passwd EMAIL\n");
		return CLI_USAGE;
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((id = cli_user_id(c, c->argv[0])) < 0)
		return CLI_NOTFOUND;
	if ((pw = password_for(&generated)) == NULL)
		return CLI_FAIL;
	if ((rc = set_password_hash(pw, hash, sizeof(hash))) != CLI_OK)
		goto out;
	if (DB_RUN(&c->db, STMT_USER_SET_PASSWORD, db_i64s(id, uid), hash) != 0 ||
	    DB_RUN(&c->db, STMT_SESSION_DELETE_USER, uid) != 0) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		rc = CLI_FAIL;
		goto out;
	}
	printf("password of %s changed; their sessions are ended\n", c->argv[0]);
	if (generated)
		printf("password: %s\n", pw);
out:
	crypto_wipe(hash, sizeof(hash));
	crypto_free_secret(pw);
	return rc;
}

int
cli_user_list(struct cli *c)
{
	json_t *a;
	PGresult *r;

	if (c->argc != 0)
		return CLI_USAGE;
	if (cli_db(c) != 0 || (r = DB_EXEC0(&c->db, STMT_USER_LIST)) == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	a = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		if (c->json)
			json_array_append_new(a, json_pack("{s:I, s:s, s:b, s:s, s:b}", "id",
			    (json_int_t)db_i64(r, i, 0), "email", db_str(r, i, 1), "admin", db_bool(r, i, 2),
			    "time_zone", db_str(r, i, 3), "disabled", db_bool(r, i, 4)));
		else
			printf("%-6s %-40s %s%s\n", db_str(r, i, 0), db_str(r, i, 1), db_bool(r, i, 2) ? "admin" : "user",
			    db_bool(r, i, 4) ? " (disabled)" : "");
	}
	if (c->json)
		json_dumpf(a, stdout, JSON_INDENT(2)), putchar('\n');
	json_decref(a);
	PQclear(r);
	return CLI_OK;
}

int
cli_token_create(struct cli *c)
{
	const char *name = cli_opt(c, "--name");
	char tok[64], hash[2 * CRYPTO_SHA256_LEN + 1], uid[DB_I64_LEN], prefix[12];
	int64_t id;

	if (c->argc != 1) {
		fprintf(stderr, "usage: timebridge token create EMAIL [--name N]\n");
		return CLI_USAGE;
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((id = cli_user_id(c, c->argv[0])) < 0)
		return CLI_NOTFOUND;
	/* "tb_" marks our tokens so secret scanners and people can recognise a leaked one. */
	memcpy(tok, "tb_", 3);
	if (crypto_token(tok + 3, sizeof(tok) - 3, LIMIT_TOKEN_BYTES) != 0)
		return CLI_FAIL;
	crypto_token_hash(tok, hash);
	snprintf(prefix, sizeof(prefix), "%.8s", tok);
	if (DB_RUN(&c->db, STMT_TOKEN_INSERT, db_i64s(id, uid), name ? name : "", hash, prefix) != 0) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		crypto_wipe(tok, sizeof(tok));
		return CLI_FAIL;
	}
	if (c->json)
		printf("{\"token\": \"%s\"}\n", tok);
	else
		printf("%s\n", tok);
	crypto_wipe(tok, sizeof(tok));
	return CLI_OK;
}

int
cli_jobs(struct cli *c)
{
	const char *state = cli_opt(c, "--state"), *limit = cli_opt(c, "--limit");
	static const char *const states[] = { "queued", "running", "failed", "dead", "done", "paused" };
	int ok = state == NULL;
	json_t *a;
	PGresult *r;

	for (size_t i = 0; state && i < sizeof(states) / sizeof(states[0]); i++)
		ok |= strcmp(state, states[i]) == 0;
	if (!ok || c->argc != 0) {
		fprintf(stderr, "usage: timebridge jobs [--state queued|running|failed|dead|done|paused] [--limit N] [--json]\n");
		return CLI_USAGE;
	}
	if (limit && (atoi(limit) <= 0 || atoi(limit) > 100000)) {
		fprintf(stderr, "timebridge: --limit must be 1 to 100000\n");
		return CLI_USAGE;
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((r = DB_EXEC(&c->db, STMT_JOB_LIST, state, NULL, limit ? limit : "100", "0")) == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	a = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		if (c->json) {
			json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:i, s:s, s:s?}", "id", (json_int_t)db_i64(r, i, 0),
			    "kind", db_str(r, i, 1), "state", db_str(r, i, 2), "attempts", (int)db_i64(r, i, 3),
			    "max_attempts", (int)db_i64(r, i, 4), "run_after", db_str(r, i, 5),
			    "last_error", db_str(r, i, 6));
			json_array_append_new(a, o);
		} else
			printf("%-8s %-24s %-8s %d/%-3d %-30s %s\n", db_str(r, i, 0), db_str(r, i, 1), db_str(r, i, 2),
			    (int)db_i64(r, i, 3), (int)db_i64(r, i, 4), db_str(r, i, 5),
			    db_str(r, i, 6) ? db_str(r, i, 6) : "");
	}
	if (c->json)
		json_dumpf(a, stdout, JSON_INDENT(2)), putchar('\n');
	json_decref(a);
	PQclear(r);
	return CLI_OK;
}

int
cli_jobs_retry(struct cli *c)
{
	int dead = cli_flag(c, "--dead");
	PGresult *r;
	char *end;

	if (dead == (c->argc == 1) || c->argc > 1 || (c->argc == 1 && (strtoll(c->argv[0], &end, 10) <= 0 || *end))) {
		fprintf(stderr, "usage: timebridge jobs retry ID|--dead\n");
		return CLI_USAGE;
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	r = dead ? DB_EXEC(&c->db, STMT_JOB_RETRY_DEAD, NULL) : DB_EXEC(&c->db, STMT_JOB_RETRY, c->argv[0], NULL);
	if (r == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	if (dead)
		printf("%s dead jobs queued again\n", db_str(r, 0, 0));
	else if (PQntuples(r) == 0) {
		fprintf(stderr, "timebridge: no failed, dead or paused job %s\n", c->argv[0]);
		PQclear(r);
		return CLI_NOTFOUND;
	} else
		printf("job %s queued again\n", c->argv[0]);
	PQclear(r);
	return CLI_OK;
}

int
cli_jobs_enqueue(struct cli *c)
{
	const char *email = cli_opt(c, "--user"), *payload;
	json_error_t jerr;
	int64_t uid = 0, id;
	json_t *j;

	if (c->argc < 1 || c->argc > 2) {
		fprintf(stderr, "usage: timebridge jobs enqueue KIND [JSON] [--user EMAIL]\n");
		return CLI_USAGE;
	}
	payload = c->argc == 2 ? c->argv[1] : "{}";
	if ((j = json_loads(payload, 0, &jerr)) == NULL || !json_is_object(j)) {
		fprintf(stderr, "timebridge: the payload must be a JSON object: %s\n", j ? "not an object" : jerr.text);
		json_decref(j);
		return CLI_USAGE;
	}
	json_decref(j);
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if (email && (uid = cli_user_id(c, email)) < 0)
		return CLI_NOTFOUND;
	if ((id = db_job_enqueue(&c->db, c->argv[0], payload, uid, NULL, 0)) < 0) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	printf("job %lld queued\n", (long long)id);
	return CLI_OK;
}
