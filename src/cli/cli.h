/* cli.h: the `timebridge` admin command line: a table of commands, each a function in a cli_*.c file. */
#ifndef TB_CLI_H
#define TB_CLI_H

#include <stdio.h>

#include "db/db.h"

/* Exit codes, documented in `timebridge --help`. */
enum cli_exit {
	CLI_OK = 0,
	CLI_FAIL = 1,       /* the command ran and failed: database, upstream, I/O */
	CLI_USAGE = 2,      /* wrong arguments */
	CLI_NOTFOUND = 3,   /* the named user, job or workspace does not exist */
	CLI_CONFIG = 4,     /* bad configuration */
	CLI_CONFLICT = 5,   /* the thing exists already */
};

struct cli {
	struct db   db;
	int         json;      /* --json: machine-readable output */
	int         argc;      /* the command's own arguments, after global options and the command words */
	char      **argv;
};

/* Options of a command: find "--name" (flag) or "--name VALUE" among c->argv, removing them. */
int         cli_flag(struct cli *c, const char *name);
const char *cli_opt(struct cli *c, const char *name);
/* Read one line from stdin (a password, a token), without echo when stdin is a terminal. Caller frees
 * with crypto_free_secret. NULL when stdin is empty. */
char       *cli_read_secret(const char *prompt);
int         cli_db(struct cli *c);   /* connect; prints the error; 0 ok */
/* Look up a user id by email; prints "no user EMAIL" and returns -1 when missing. */
int64_t     cli_user_id(struct cli *c, const char *email);

/* cli_core.c */
int cli_migrate(struct cli *c);
int cli_user_add(struct cli *c);
int cli_user_passwd(struct cli *c);
int cli_user_list(struct cli *c);
int cli_token_create(struct cli *c);
int cli_jobs(struct cli *c);
int cli_jobs_retry(struct cli *c);
int cli_jobs_enqueue(struct cli *c);

/* -- features add their sections below -- */

/* cli_webhook_dev.c (issue 3: tests and benchmarks only) */
int cli_webhook_dev_create(struct cli *c);

/* cli_toggl.c (issue 3: Toggl connect, webhooks, import, reconciliation) */
int cli_toggl_connect(struct cli *c);
int cli_toggl_refresh(struct cli *c);
int cli_toggl_status(struct cli *c);
int cli_webhook_setup(struct cli *c);
int cli_webhook_remove(struct cli *c);
int cli_webhook_status(struct cli *c);
int cli_import(struct cli *c);
int cli_reconcile(struct cli *c);

/* cli_google.c (issue 4) */
int cli_google_status(struct cli *c);
int cli_google_sync(struct cli *c);

/* cli_session.c (issue 4: scripts and tests drive session-only pages with it) */
int cli_session_create(struct cli *c);

/* cli_demo.c (issue 6: ./dev run --demo) */
int cli_demo_setup(struct cli *c);

#endif
