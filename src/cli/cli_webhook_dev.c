/* cli_webhook_dev.c: `timebridge webhook dev-create EMAIL WORKSPACE_ID [--secret-stdin]`, for tests,
 * benchmarks and local development only. It makes a live webhook subscription row the way `webhook setup`
 * does (URL token stored as its hash, signing secret sealed in secrets with AAD "webhook_secret:<id>"),
 * marked validated, but never talks to Toggl: the caller signs its own deliveries with the secret it
 * printed (or chose, e.g. the documented signature vectors' secret). Prints
 * {"id": N, "token": "...", "secret": "...", "url": "..."} once. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"

int
cli_webhook_dev_create(struct cli *c)
{
	int from_stdin = cli_flag(c, "--secret-stdin");
	char token[64], hash[2 * CRYPTO_SHA256_LEN + 1], gen[64], uid[DB_I64_LEN], idbuf[DB_I64_LEN], aad[64];
	char *secret = NULL, *sealed = NULL, *url = NULL, *ws_end;
	const char *ws;
	int64_t user_id, id;
	long long wsid;
	size_t urlsz;
	PGresult *r = NULL;
	json_t *out = NULL;
	int rc = CLI_FAIL;

	if (c->argc != 2) {
		fprintf(stderr, "usage: timebridge webhook dev-create EMAIL WORKSPACE_ID [--secret-stdin]\n");
		return CLI_USAGE;
	}
	ws = c->argv[1];
	wsid = strtoll(ws, &ws_end, 10);
	if (*ws == '\0' || *ws_end != '\0' || wsid <= 0) {
		fprintf(stderr, "timebridge: WORKSPACE_ID must be a positive integer\n");
		return CLI_USAGE;
	}
	if (from_stdin) {
		if ((secret = cli_read_secret("Signing secret: ")) == NULL) {
			fprintf(stderr, "timebridge: --secret-stdin: no secret on stdin\n");
			return CLI_USAGE;
		}
	} else {
		if (crypto_token(gen, sizeof(gen), LIMIT_TOKEN_BYTES) != 0 || (secret = strdup(gen)) == NULL)
			goto out;
	}
	if (cli_db(c) != 0)
		goto out;
	if ((user_id = cli_user_id(c, c->argv[0])) < 0) {
		rc = CLI_NOTFOUND;
		goto out;
	}
	if (crypto_token(token, sizeof(token), LIMIT_TOKEN_BYTES) != 0)
		goto out;
	crypto_token_hash(token, hash);
	urlsz = strlen(config_get()->public_url) + strlen(token) + sizeof("/webhook/toggl/");
	if ((url = malloc(urlsz)) == NULL)
		goto out;
	snprintf(url, urlsz, "%s/webhook/toggl/%s", config_get()->public_url, token);
	if (db_begin(&c->db) != 0)
		goto dberr;
	if ((r = DB_EXEC(&c->db, STMT_WEBHOOK_DEV_INSERT, db_i64s(user_id, uid), ws, hash,
	    "timebridge dev subscription", url)) == NULL)
		goto dberr;
	id = db_i64(r, 0, 0);
	PQclear(r);
	r = NULL;
	snprintf(aad, sizeof(aad), "webhook_secret:%lld", (long long)id);
	if (crypto_seal(secret, strlen(secret), aad, &sealed) != 0) {
		fprintf(stderr, "timebridge: sealing the secret failed\n");
		db_rollback(&c->db);
		goto out;
	}
	if (DB_RUN(&c->db, STMT_SECRET_PUT, uid, "webhook_secret", db_i64s(id, idbuf), sealed) != 0 ||
	    db_commit(&c->db) != 0)
		goto dberr;
	out = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "token", token, "secret", secret, "url", url);
	if (out == NULL || json_dumpf(out, stdout, JSON_COMPACT) != 0)
		goto out;
	printf("\n");
	rc = CLI_OK;
	goto out;
dberr:
	fprintf(stderr, "timebridge: %s\n", c->db.err);
	db_rollback(&c->db);
	if (strcmp(db_sqlstate(&c->db), "23505") == 0) {
		fprintf(stderr, "timebridge: that user already has a live subscription for workspace %s\n", ws);
		rc = CLI_CONFLICT;
	}
out:
	if (r)
		PQclear(r);
	json_decref(out);
	free(sealed);
	free(url);
	crypto_free_secret(secret);
	crypto_wipe(token, sizeof(token));
	crypto_wipe(gen, sizeof(gen));
	return rc;
}
