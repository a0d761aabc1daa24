/* cli_main.c: `timebridge`, the admin command line. Global options, then a command found in the table. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/log.h"

struct command {
	const char *words;      /* one or two words, e.g. "user add" */
	const char *args;       /* for the usage text */
	const char *help;
	int       (*fn)(struct cli *);
};

static const struct command commands[] = {
	{ "migrate",      "[--sql-dir DIR]",             "apply pending database migrations", cli_migrate },
	{ "user add",     "EMAIL [--admin]",             "create a user; password from stdin, or generated and printed once", cli_user_add },
	{ "user passwd",  "EMAIL",                       "set a user's password (stdin, or generated and printed once)", cli_user_passwd },
	{ "user list",    "[--json]",                    "list users", cli_user_list },
	{ "token create", "EMAIL [--name N]",            "create an API token; printed once, stored hashed", cli_token_create },
	{ "jobs retry",   "ID|--dead",                   "queue a failed or dead job again, or every dead job", cli_jobs_retry },
	{ "jobs enqueue", "KIND [JSON] [--user EMAIL]",  "queue a job by hand (e.g. diag.sleep)", cli_jobs_enqueue },
	{ "jobs",         "[--state S] [--limit N] [--json]", "list jobs, newest first", cli_jobs },
	/* -- features add their commands below -- */
	{ "webhook dev-create", "EMAIL WORKSPACE_ID [--secret-stdin]",
	  "tests and benchmarks only: a webhook subscription without Toggl; prints its token and secret",
	  cli_webhook_dev_create },
	{ "toggl connect", "EMAIL [--json]",            "connect a user's Toggl account; the API token is read from stdin",
	  cli_toggl_connect },
	{ "toggl refresh", "EMAIL [--json]",            "fetch Toggl organizations, workspaces, projects, clients and tags",
	  cli_toggl_refresh },
	{ "toggl status",  "EMAIL [--json]",            "the Toggl connection, its quota budgets and the last import",
	  cli_toggl_status },
	{ "webhook setup", "WORKSPACE_ID [--user EMAIL] [--json]", "create (or repair) our Toggl webhook of a workspace",
	  cli_webhook_setup },
	{ "webhook remove", "WORKSPACE_ID [--user EMAIL]", "delete our Toggl webhook of a workspace; its URL answers 404",
	  cli_webhook_remove },
	{ "webhook status", "[WORKSPACE_ID] [--user EMAIL] [--json]", "our webhooks: enabled, validated, pending, last event",
	  cli_webhook_status },
	{ "import",        "EMAIL --since DATE [--until DATE] [--restart] [--json]",
	  "import Toggl history (resumable, idempotent); a progress bar on a terminal", cli_import },
	{ "reconcile",     "EMAIL [--json]",            "pull what changed in Toggl since the last pull (repairs missed events)",
	  cli_reconcile },
	{ "google status", "EMAIL [--json]",              "the Google connection, calendar, mirror states and jobs of a user",
	  cli_google_status },
	{ "google sync",   "EMAIL [--entry ID]",          "queue a forced resync of one entry, or of the whole backfill window",
	  cli_google_sync },
	{ "session create", "EMAIL",                      "scripts and tests: a login session without a password; prints the tb_session cookie value",
	  cli_session_create },
	{ "demo setup",    "",                            "demo mode only (./dev run --demo): connect a demo user to the local fake Toggl and Google",
	  cli_demo_setup },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: timebridge [--config FILE] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].words, commands[i].args, commands[i].help);
	fprintf(f, "\nExit codes: 0 success, 1 failure (database, upstream, I/O), 2 usage error, 3 not found,\n"
	    "4 bad configuration, 5 already exists.\n\n%s", config_help);
}

/* Match "user add" against argv[0..1]. Returns the number of words matched, 0 for none. */
static int
match_words(const char *words, int argc, char **argv)
{
	const char *sp = strchr(words, ' ');

	if (sp == NULL)
		return argc >= 1 && strcmp(argv[0], words) == 0 ? 1 : 0;
	if (argc >= 2 && strncmp(argv[0], words, (size_t)(sp - words)) == 0 &&
	    argv[0][sp - words] == '\0' && strcmp(argv[1], sp + 1) == 0)
		return 2;
	return 0;
}

int
cli_flag(struct cli *c, const char *name)
{
	for (int i = 0; i < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0) {
			memmove(&c->argv[i], &c->argv[i + 1], (size_t)(c->argc - i) * sizeof(char *));
			c->argc--;
			return 1;
		}
	return 0;
}

const char *
cli_opt(struct cli *c, const char *name)
{
	const char *v;

	for (int i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0) {
			v = c->argv[i + 1];
			memmove(&c->argv[i], &c->argv[i + 2], (size_t)(c->argc - i - 1) * sizeof(char *));
			c->argc -= 2;
			return v;
		}
	return NULL;
}

char *
cli_read_secret(const char *prompt)
{
	struct termios old, quiet;
	char line[1024];
	int tty = isatty(STDIN_FILENO);
	size_t n;
	char *s;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	s = fgets(line, sizeof(line), stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (s == NULL) {
		crypto_wipe(line, sizeof(line));
		return NULL;
	}
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	s = n ? strdup(line) : NULL;
	crypto_wipe(line, sizeof(line));
	return s;
}

int
cli_db(struct cli *c)
{
	if (db_open(&c->db, config_get()->database, "timebridge-cli", 0) != 0) {
		fprintf(stderr, "timebridge: database: %s\n", c->db.err);
		return -1;
	}
	return 0;
}

int64_t
cli_user_id(struct cli *c, const char *email)
{
	PGresult *r = DB_EXEC(&c->db, STMT_USER_BY_EMAIL, email);
	int64_t id = -1;

	if (r == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return -1;
	}
	if (PQntuples(r) == 1)
		id = db_i64(r, 0, 0);
	else
		fprintf(stderr, "timebridge: no user %s\n", email);
	PQclear(r);
	return id;
}

int
main(int argc, char *argv[])
{
	const char *cfgfile = NULL;
	struct cli c;
	char err[512];
	int i = 1, m, rc;

	memset(&c, 0, sizeof(c));
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			cfgfile = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CLI_OK;
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	log_init("timebridge", LOG_WARN);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if ((m = match_words(commands[k].words, argc - i, argv + i)) == 0)
			continue;
		if (config_load(cfgfile, CONFIG_NEED_SECRET, err, sizeof(err)) != 0) {
			fprintf(stderr, "timebridge: %s\n", err);
			return CLI_CONFIG;
		}
		if (config_get()->log_level > LOG_WARN)
			log_set_level(config_get()->log_level);
		c.argc = argc - i - m;
		c.argv = argv + i + m;
		c.json = cli_flag(&c, "--json");
		rc = commands[k].fn(&c);
		db_close(&c.db);
		crypto_shutdown();
	config_free();
		return rc;
	}
	usage(stderr);
	return CLI_USAGE;
}
