/* grafana_stmt.c: prints the text of one Grafana statement from src/db/stmt.c, so bench/grafana.sh can
 * time exactly the SQL the server runs, with psql, as the baseline. Built by the bench script itself:
 * cc -I src -I BUILD bench/grafana_stmt.c src/db/stmt.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "db/stmt.h"

int
main(int argc, char **argv)
{
	static const struct { const char *name; enum stmt s; } known[] = {
		{ "series", STMT_GRAFANA_SERIES },
		{ "series_tag", STMT_GRAFANA_SERIES_TAG },
		{ "settings", STMT_GRAFANA_SETTINGS },
		{ "entries", STMT_GRAFANA_ENTRIES },
	};

	for (size_t i = 0; argc == 2 && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(argv[1], known[i].name) == 0) {
			printf("%s\n", stmt_sql(known[i].s));
			return 0;
		}
	fprintf(stderr, "usage: grafana_stmt series|series_tag|settings|entries\n");
	return 2;
}
