/* db.c: one PostgreSQL connection: connect, reconnect, prepare on first use, run, transactions. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/limits.h"
#include "util/log.h"

static void
set_err(struct db *db, const char *what, const char *msg)
{
	size_t n;

	snprintf(db->err, sizeof(db->err), "%s: %s", what, msg ? msg : "unknown error");
	/* libpq messages end in a newline; keep the log to one line. */
	n = strlen(db->err);
	while (n && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
		db->err[--n] = '\0';
	for (char *p = db->err; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* Server notices ("relation already exists, skipping") are debug chatter, not stderr noise. */
static void
notice(void *arg, const char *msg)
{
	log_debug("db", "%s", msg);
}

static int
connect_now(struct db *db)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	char timeout[16];
	const char *vals[4];
	PGresult *r;

	snprintf(timeout, sizeof(timeout), "%d", LIMIT_DB_CONNECT_S);
	vals[0] = db->conninfo;
	vals[1] = db->appname;
	vals[2] = timeout;
	vals[3] = NULL;
	if (db->conn)
		PQfinish(db->conn);
	memset(db->prepared, 0, sizeof(db->prepared));
	db->in_tx = 0;
	/* expand_dbname: the conninfo string may be a full "host=... dbname=..." or a URI. */
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		set_err(db, "connect", db->conn ? PQerrorMessage(db->conn) : "out of memory");
		return -1;
	}
	PQsetNoticeProcessor(db->conn, notice, NULL);
	if (db->statement_timeout_ms > 0) {
		char ms[32];
		const char *p[1] = { ms };
		snprintf(ms, sizeof(ms), "%ld", db->statement_timeout_ms);
		r = PQexecParams(db->conn, "SELECT set_config('statement_timeout', $1, false)", 1, NULL, p,
		    NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			set_err(db, "statement_timeout", PQerrorMessage(db->conn));
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	db->err[0] = '\0';
	return 0;
}

int
db_open(struct db *db, const char *conninfo, const char *appname, long statement_timeout_ms)
{
	memset(db, 0, sizeof(*db));
	db->conninfo = conninfo;
	db->appname = appname;
	db->statement_timeout_ms = statement_timeout_ms;
	return connect_now(db);
}

void
db_close(struct db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
}

int
db_ok(const struct db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

int
db_ensure(struct db *db)
{
	if (db_ok(db))
		return 0;
	/* Inside a transaction the work so far is lost with the connection: the caller must start over. */
	if (db->in_tx)
		return -1;
	return connect_now(db);
}

static int
prepare(struct db *db, enum stmt s)
{
	char name[STMT_NAME_LEN];
	PGresult *r;
	int ok;

	if (db->prepared[s / 8] & (1u << (s % 8)))
		return 0;
	stmt_name(s, name);
	r = PQprepare(db->conn, name, stmt_sql(s), 0, NULL);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		set_err(db, name, PQresultErrorMessage(r));
	PQclear(r);
	if (!ok)
		return -1;
	db->prepared[s / 8] |= (unsigned char)(1u << (s % 8));
	return 0;
}

PGresult *
db_exec(struct db *db, enum stmt s, const char *const *params, int n)
{
	char name[STMT_NAME_LEN];
	PGresult *r = NULL;
	ExecStatusType st;

	if (s < 0 || s >= STMT__MAX || stmt_sql(s) == NULL) {
		set_err(db, "db_exec", "unknown statement");
		return NULL;
	}
	db->sqlstate[0] = '\0';
	if (n != stmt_nparams(s)) {
		snprintf(db->err, sizeof(db->err), "statement %d takes %d parameters, given %d", (int)s,
		    stmt_nparams(s), n);
		log_error("db", "%s", db->err);
		return NULL;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (db_ensure(db) != 0)
			return NULL;
		if (prepare(db, s) != 0) {
			if (!db_ok(db) && !db->in_tx)
				continue;
			return NULL;
		}
		stmt_name(s, name);
		r = PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0);
		st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			return r;
		set_err(db, name, PQresultErrorMessage(r));
		/* A dropped connection outside a transaction is safe to retry once on a new one. */
		if (!db_ok(db) && !db->in_tx) {
			PQclear(r);
			r = NULL;
			continue;
		}
		break;
	}
	if (r) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
		PQclear(r);
	}
	return NULL;
}

int
db_run(struct db *db, enum stmt s, const char *const *params, int n)
{
	PGresult *r = db_exec(db, s, params, n);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

static int
simple(struct db *db, const char *sql)
{
	PGresult *r;
	int ok;

	if (db->conn == NULL)
		return -1;
	r = PQexec(db->conn, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		set_err(db, sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

int
db_begin(struct db *db)
{
	if (db_ensure(db) != 0)
		return -1;
	if (simple(db, "BEGIN") != 0) {
		/* A connection that died while idle (server restart) shows only now; BEGIN is safe to retry. */
		if (db_ok(db) || db_ensure(db) != 0 || simple(db, "BEGIN") != 0)
			return -1;
	}
	db->in_tx = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	PGresult *r;
	int rc = -1;

	db->in_tx = 0;
	if (db->conn == NULL)
		return -1;
	/* COMMIT of a transaction that had an error answers "ROLLBACK" with PGRES_COMMAND_OK: not a success. */
	r = PQexec(db->conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		set_err(db, "COMMIT", PQresultErrorMessage(r));
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		set_err(db, "COMMIT", "the transaction was rolled back after an earlier error");
	else
		rc = 0;
	PQclear(r);
	return rc;
}

void
db_rollback(struct db *db)
{
	if (db->in_tx && db_ok(db))
		(void)simple(db, "ROLLBACK");
	db->in_tx = 0;
}

const char *
db_str(const PGresult *r, int row, int col)
{
	if (row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

int64_t
db_i64(const PGresult *r, int row, int col)
{
	const char *s = db_str(r, row, col);

	return s ? strtoll(s, NULL, 10) : 0;
}

int
db_bool(const PGresult *r, int row, int col)
{
	const char *s = db_str(r, row, col);

	return s != NULL && s[0] == 't';
}

int
db_isnull(const PGresult *r, int row, int col)
{
	return row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col);
}

const char *
db_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

const char *
db_i64s(int64_t v, char buf[DB_I64_LEN])
{
	snprintf(buf, DB_I64_LEN, "%" PRId64, v);
	return buf;
}
