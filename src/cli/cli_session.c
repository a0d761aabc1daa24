/* cli_session.c: `timebridge session create EMAIL`: a login session made without a password, for scripts
 * and the end-to-end tests (e.g. to drive /oauth/google/start with curl). It is made exactly as a login
 * makes one (src/http/session.c): a random id, stored as its HMAC, valid LIMIT_SESSION_ABSOLUTE_S; the
 * printed value is the tb_session cookie. Anyone who can run this already holds the secret key. */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"
#include "http/http.h"
#include "util/crypto.h"
#include "util/limits.h"

int
cli_session_create(struct cli *c)
{
	char tok[64], hash[2 * CRYPTO_SHA256_LEN + 1], uid[DB_I64_LEN], ttl[16];
	int64_t id;
	int rc = CLI_FAIL;

	if (c->argc != 1) {
		fprintf(stderr, "usage: timebridge session create EMAIL\n");
		return CLI_USAGE;
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((id = cli_user_id(c, c->argv[0])) < 0)
		return CLI_NOTFOUND;
	if (crypto_token(tok, sizeof(tok), LIMIT_TOKEN_BYTES) != 0)
		return CLI_FAIL;
	crypto_token_hash(tok, hash);
	snprintf(ttl, sizeof(ttl), "%d", LIMIT_SESSION_ABSOLUTE_S);
	if (DB_RUN(&c->db, STMT_SESSION_INSERT, hash, db_i64s(id, uid), ttl, "cli") != 0) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		goto out;
	}
	if (c->json)
		printf("{\"cookie\": \"%s\", \"value\": \"%s\"}\n", SESSION_COOKIE, tok);
	else
		printf("%s\n", tok);
	rc = CLI_OK;
out:
	crypto_wipe(tok, sizeof(tok));
	return rc;
}
