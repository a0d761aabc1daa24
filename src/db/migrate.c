/* migrate.c: apply the numbered files of sql/ (NNN_name.sql) in order, each in its own transaction,
 * recorded in schema_migrations. An advisory lock makes concurrent runs wait for each other. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/buf.h"
#include "util/log.h"

struct migration {
	int  version;
	char name[256];
};

static int
cmp_migration(const void *a, const void *b)
{
	return ((const struct migration *)a)->version - ((const struct migration *)b)->version;
}

/* Files named NNN_description.sql; anything else in the directory is ignored. */
static int
list_migrations(const char *dir, struct migration **out, size_t *n, char *err, size_t errsz)
{
	struct migration *list = NULL, *tmp;
	size_t count = 0, len;
	struct dirent *de;
	char *end;
	long v;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errsz, "migrations directory %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 8 || len >= sizeof(list->name) || strcmp(de->d_name + len - 4, ".sql") != 0)
			continue;
		v = strtol(de->d_name, &end, 10);
		if (end == de->d_name || *end != '_' || v <= 0 || v > 99999)
			continue;
		if ((tmp = realloc(list, (count + 1) * sizeof(*list))) == NULL) {
			free(list);
			closedir(d);
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		list = tmp;
		list[count].version = (int)v;
		memcpy(list[count].name, de->d_name, len + 1);
		count++;
	}
	closedir(d);
	qsort(list, count, sizeof(*list), cmp_migration);
	for (size_t i = 1; i < count; i++)
		if (list[i].version == list[i - 1].version) {
			snprintf(err, errsz, "two migrations numbered %d: %s and %s", list[i].version,
			    list[i - 1].name, list[i].name);
			free(list);
			return -1;
		}
	*out = list;
	*n = count;
	return 0;
}

static int
read_all(const char *path, struct buf *b, char *err, size_t errsz)
{
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	fclose(f);
	if (b->oom) {
		snprintf(err, errsz, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

/* Apply one migration unless another process already did. 1 applied, 0 skipped, -1 error. */
static int
apply_one(struct db *db, const char *dir, const struct migration *m, char *err, size_t errsz)
{
	char ver[16], path[4096];
	struct buf sql = BUF_INIT;
	PGresult *r = NULL;
	int rc = -1;

	snprintf(ver, sizeof(ver), "%d", m->version);
	snprintf(path, sizeof(path), "%s/%s", dir, m->name);
	if (db_begin(db) != 0)
		goto fail_db;
	if ((r = DB_EXEC(db, STMT_MIGRATE_APPLIED, ver)) == NULL)
		goto fail_db;
	if (PQntuples(r) > 0) {
		rc = 0;
		db_rollback(db);
		goto out;
	}
	PQclear(r);
	r = NULL;
	if (read_all(path, &sql, err, errsz) != 0)
		goto out_rollback;
	/* A migration file is trusted text from our own tree: the one place SQL runs unprepared. */
	r = PQexec(db->conn, sql.data ? sql.data : "");
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errsz, "%s: %s", m->name, PQresultErrorMessage(r));
		goto out_rollback;
	}
	PQclear(r);
	r = NULL;
	if (DB_RUN(db, STMT_MIGRATE_RECORD, ver, m->name) != 0 || db_commit(db) != 0)
		goto fail_db;
	log_info("migrate", "applied %s", m->name);
	rc = 1;
	goto out;
fail_db:
	snprintf(err, errsz, "%s: %s", m->name, db->err);
out_rollback:
	db_rollback(db);
out:
	if (r)
		PQclear(r);
	buf_free(&sql);
	return rc;
}

int
db_migrate(struct db *db, const char *dir, char *err, size_t errsz)
{
	struct migration *list = NULL;
	size_t n = 0;
	int applied = 0, rc;

	if (list_migrations(dir, &list, &n, err, errsz) != 0)
		return -1;
	if (n == 0) {
		snprintf(err, errsz, "no migrations in %s", dir);
		free(list);
		return -1;
	}
	if (DB_RUN0(db, STMT_MIGRATE_LOCK) != 0) {
		snprintf(err, errsz, "migration lock: %s", db->err);
		free(list);
		return -1;
	}
	if (DB_RUN0(db, STMT_MIGRATE_INIT) != 0) {
		snprintf(err, errsz, "schema_migrations: %s", db->err);
		applied = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rc = apply_one(db, dir, &list[i], err, errsz)) < 0) {
			applied = -1;
			goto out;
		}
		applied += rc;
	}
out:
	if (DB_RUN0(db, STMT_MIGRATE_UNLOCK) != 0)
		log_warn("migrate", "unlock: %s", db->err);
	free(list);
	return applied;
}

int
db_migrations_latest(const char *dir, char *err, size_t errsz)
{
	struct migration *list = NULL;
	size_t n = 0;
	int v;

	if (list_migrations(dir, &list, &n, err, errsz) != 0)
		return -1;
	v = n ? list[n - 1].version : -1;
	if (n == 0)
		snprintf(err, errsz, "no migrations in %s", dir);
	free(list);
	return v;
}

int
db_schema_version(struct db *db)
{
	PGresult *r = DB_EXEC0(db, STMT_SCHEMA_VERSION);
	int v;

	if (r == NULL)
		return -1;
	v = (int)db_i64(r, 0, 0);
	PQclear(r);
	return v;
}
