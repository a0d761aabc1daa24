/* db.h: PostgreSQL access. One struct db per thread or process; every statement comes from the table in
 * stmt.c and runs prepared, with text parameters only. */
#ifndef TB_DB_H
#define TB_DB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db/stmt.h"

struct db {
	PGconn        *conn;
	const char    *conninfo;
	const char    *appname;
	unsigned char  prepared[(STMT__MAX + 7) / 8];
	int            in_tx;              /* inside BEGIN..COMMIT: no transparent reconnect */
	long           statement_timeout_ms;
	char           err[256];           /* the last error, one line */
	char           sqlstate[6];        /* SQLSTATE of the last failed statement, "" if none */
};

/* Connect (or note the failure; db_exec reconnects later). 0 when connected. */
int  db_open(struct db *db, const char *conninfo, const char *appname, long statement_timeout_ms);
void db_close(struct db *db);
/* Make sure the connection is up, reconnecting if it was lost. 0 when usable. */
int  db_ensure(struct db *db) __attribute__((warn_unused_result));

/* Run statement s with n text parameters (NULL = SQL NULL). Returns the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK) which the caller PQclear()s, or NULL with db->err set. A lost connection outside a
 * transaction is reconnected and the statement retried once. */
PGresult *db_exec(struct db *db, enum stmt s, const char *const *params, int n)
	__attribute__((warn_unused_result));
#define DB_PARAMS(...) ((const char *const []){ __VA_ARGS__ })
#define DB_NPARAMS(...) ((int)(sizeof((const char *const []){ __VA_ARGS__ }) / sizeof(const char *)))
#define DB_EXEC(db, s, ...) db_exec((db), (s), DB_PARAMS(__VA_ARGS__), DB_NPARAMS(__VA_ARGS__))
#define DB_EXEC0(db, s) db_exec((db), (s), NULL, 0)

/* Run a statement whose result is not needed. 0 on success. */
int  db_run(struct db *db, enum stmt s, const char *const *params, int n) __attribute__((warn_unused_result));
#define DB_RUN(db, s, ...) db_run((db), (s), DB_PARAMS(__VA_ARGS__), DB_NPARAMS(__VA_ARGS__))
#define DB_RUN0(db, s) db_run((db), (s), NULL, 0)

int  db_begin(struct db *db) __attribute__((warn_unused_result));
int  db_commit(struct db *db) __attribute__((warn_unused_result));
void db_rollback(struct db *db);

/* Typed readers of a result cell. */
const char *db_str(const PGresult *r, int row, int col);       /* NULL for SQL NULL */
int64_t     db_i64(const PGresult *r, int row, int col);       /* 0 for NULL */
int         db_bool(const PGresult *r, int row, int col);
int         db_isnull(const PGresult *r, int row, int col);

/* The connection is currently usable (for /readyz, without side effects). */
int  db_ok(const struct db *db);
/* SQLSTATE of the last failed db_exec, e.g. "23505" for a unique violation; "" when none. */
const char *db_sqlstate(const struct db *db);

/* Migrations (migrate.c): apply the pending numbered files of dir, each in its own transaction, under an
 * advisory lock so two processes at once are safe. Writes progress lines to log. Returns the number
 * applied, or -1. */
int  db_migrate(struct db *db, const char *dir, char *err, size_t errsz);
/* The highest migration number in dir (what the database must be at for this build), or -1. */
int  db_migrations_latest(const char *dir, char *err, size_t errsz);
/* The version recorded in the database, or -1 when the table is missing or unreachable. */
int  db_schema_version(struct db *db);

/* The job queue (db_job.c). payload is JSON text; user_id 0 = none; dedupe_key NULL = none. Returns
 * the job id, or -1. Inside a caller's transaction the job becomes visible (and NOTIFY fires) at commit. */
int64_t db_job_enqueue(struct db *db, const char *kind, const char *payload, int64_t user_id,
            const char *dedupe_key, double delay_s) __attribute__((warn_unused_result));

/* Group commit (db_group.c): concurrent writers of one process share a statement and a commit. Embed a
 * db_group_item in what run() needs; db_group_submit() returns once run() has been called with it
 * (by this thread or another) and the batch is over. run() gets at most LIMIT_DB_GROUP_MAX items, no
 * two with the same key, and the connection of the thread that leads; it must answer every item. */
struct db_group_item {
	struct db_group_item *next;
	int64_t               key;
	enum { DB_GROUP_WAITING, DB_GROUP_LEAD, DB_GROUP_DONE } state;
	pthread_cond_t        wake;
};
struct db_group {
	pthread_mutex_t        lock;
	pthread_cond_t         cond;
	struct db_group_item  *head;     /* waiting, in arrival order */
	int                    leading;  /* a batch is running */
	void                 (*run)(struct db *db, struct db_group_item **items, int n);
};
#define DB_GROUP_INIT(fn) { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, (fn) }
void db_group_submit(struct db_group *g, struct db *db, struct db_group_item *it);

/* int64 to decimal text, for parameters. */
#define DB_I64_LEN 24
const char *db_i64s(int64_t v, char buf[DB_I64_LEN]);

#endif
