/* test_stmt.c: the statement table is whole (every enum has SQL, names are unique) and, when
 * TB_TEST_DATABASE names a migrated database, every statement prepares against the real schema. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "db/db.h"

int
main(void)
{
	const char *conninfo = getenv("TB_TEST_DATABASE");
	char name[STMT_NAME_LEN], other[STMT_NAME_LEN];
	PGconn *conn;
	PGresult *r;

	for (int s = 0; s < STMT__MAX; s++) {
		CHECK(stmt_sql((enum stmt)s) != NULL);
		CHECK(stmt_nparams((enum stmt)s) >= 0);
	}
	stmt_name(STMT_PING, name);
	stmt_name(STMT_USER_INSERT, other);
	CHECK(strcmp(name, other) != 0);
	CHECK_INT(stmt_nparams(STMT_PING), 0);
	CHECK_INT(stmt_nparams(STMT_USER_INSERT), 3);
	CHECK_INT(stmt_nparams(STMT_JOB_INSERT), 6);

	if (conninfo == NULL || *conninfo == '\0') {
		printf("test_stmt: TB_TEST_DATABASE unset: statements not prepared against a database\n");
		return CHECK_DONE("test_stmt");
	}
	conn = PQconnectdb(conninfo);
	CHECK(PQstatus(conn) == CONNECTION_OK);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return CHECK_DONE("test_stmt");
	}
	for (int s = 0; s < STMT__MAX; s++) {
		stmt_name((enum stmt)s, name);
		r = PQprepare(conn, name, stmt_sql((enum stmt)s), 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fprintf(stderr, "statement %d: %s\n  %s\n", s, PQresultErrorMessage(r), stmt_sql((enum stmt)s));
		CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
		PQclear(r);
		/* the server's count of parameters matches ours */
		r = PQdescribePrepared(conn, name);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			CHECK_INT(PQnparams(r), stmt_nparams((enum stmt)s));
		PQclear(r);
	}
	PQfinish(conn);
	return CHECK_DONE("test_stmt");
}
