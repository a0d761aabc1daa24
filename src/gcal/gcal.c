/* gcal.c: the plumbing every part of the Google module shares: the operation context, its error text,
 * settings, sealing labels and the account row. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcal/internal.h"
#include "util/crypto.h"
#include "util/log.h"

void
gcal_init(struct gcal *g, struct db *db, struct http_client *http, const char *ctx, int64_t user_id)
{
	memset(g, 0, sizeof(*g));
	g->db = db;
	g->api.http = http;
	g->api.log_ctx = ctx;
	g->ctx = ctx;
	g->user_id = user_id;
	g->attempt = 1;
}

void
gcal_done(struct gcal *g)
{
	crypto_free_secret(g->access);
	g->access = NULL;
	free(g->fresh_sealed);
	g->fresh_sealed = NULL;
	g->access_sealed = NULL;
}

/* Valid UTF-8 for a PostgreSQL text column: invalid bytes become '?', control characters spaces. */
static void
text_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t need, i;
		unsigned char lo = 0x80, hi = 0xbf;

		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				*p = ' ';
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			need = 1;
		else if (*p >= 0xe0 && *p <= 0xef) {
			need = 2;
			lo = *p == 0xe0 ? 0xa0 : 0x80;
			hi = *p == 0xed ? 0x9f : 0xbf;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			need = 3;
			lo = *p == 0xf0 ? 0x90 : 0x80;
			hi = *p == 0xf4 ? 0x8f : 0xbf;
		} else {
			*p++ = '?';
			continue;
		}
		for (i = 1; i <= need; i++)
			if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
				break;
		if (i <= need) {
			*p++ = '?';
			continue;
		}
		p += need + 1;
	}
}

void
gcal_error(struct gcal *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	text_clean(g->err);
}

long
gcal_setting(struct db *db, const char *key, long def, long lo, long hi)
{
	PGresult *r = DB_EXEC(db, STMT_SETTING_GET, key);
	const char *v;
	char *end;
	long n = def;

	if (r == NULL)
		return def;
	if ((v = db_str(r, 0, 0)) != NULL) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end != '\0' || n < lo || n > hi) {
			log_warn("google", "setting %s = \"%s\" is not a number from %ld to %ld; using %ld", key, v, lo,
			    hi, def);
			n = def;
		}
	}
	PQclear(r);
	return n;
}

void
gcal_aad(char *out, size_t outsz, const char *prefix, int64_t user_id)
{
	snprintf(out, outsz, "%s:%" PRId64, prefix, user_id);
}

int
gcal_account_load(struct gcal *g, PGresult **out)
{
	char uid[DB_I64_LEN];
	PGresult *r;

	*out = NULL;
	if ((r = DB_EXEC(g->db, STMT_GOOGLE_ACCOUNT_LOAD, db_i64s(g->user_id, uid))) == NULL) {
		gcal_error(g, "reading the Google connection: %s", g->db->err);
		return -1;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	g->access_sealed = db_str(r, 0, GA_ACCESS);
	g->access_ttl_s = db_i64(r, 0, GA_ACCESS_TTL);
	*out = r;
	return 1;
}
