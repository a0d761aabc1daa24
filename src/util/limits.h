/* limits.h: every size and time limit of timebridge, named once. Each has one defined rejection. */
#ifndef TB_LIMITS_H
#define TB_LIMITS_H

/* Request input (FastCGI side). Oversize → 413 for bodies, 400 for the rest; nginx mirrors these. */
#define LIMIT_BODY_MAX            (1024 * 1024)   /* any request body; webhook bodies too → 413 */
#define LIMIT_FORM_BODY_MAX       (64 * 1024)     /* urlencoded admin forms → 413 */
#define LIMIT_QUERY_MAX           4096            /* QUERY_STRING bytes → 400 */
#define LIMIT_COOKIE_MAX          4096            /* HTTP_COOKIE bytes → 400 */
#define LIMIT_HEADER_MAX          8192            /* any single header value → 400 */
#define LIMIT_PATH_MAX            1024            /* request path bytes → 414 */
#define LIMIT_FIELDS_MAX          64              /* query/form/cookie pairs → 400 */
#define LIMIT_FIELD_NAME_MAX      64              /* one key → 400 */
#define LIMIT_FIELD_VALUE_MAX     8192            /* one value → 400 */
#define LIMIT_JSON_DEPTH_MAX      32              /* nesting of a JSON body → 400 */
#define LIMIT_EMAIL_MAX           254             /* an e-mail address (RFC 5321 path) → invalid field */

/* Templates. */
#define LIMIT_TEMPLATE_SIZE_MAX   (256 * 1024)    /* a template file → load error */
#define LIMIT_TEMPLATE_KEY_MAX    48              /* a @@key@@ marker name → parse error */
#define LIMIT_TEMPLATE_NEST_MAX   8               /* tmpl_nest() depth (layout → page → rows) → render error */

/* Secrets. */
#define LIMIT_SECRET_KEY_MIN      32              /* TIMEBRIDGE_SECRET_KEY characters → refuse to start */
#define LIMIT_PASSWORD_MIN        10              /* user passwords */
#define LIMIT_PASSWORD_MAX        1024
#define LIMIT_SESSION_IDLE_S      (2 * 3600)      /* a session unused this long is over → /login */
#define LIMIT_SESSION_ABSOLUTE_S  (7 * 24 * 3600) /* and every session ends after this */
#define LIMIT_TOKEN_BYTES         32              /* random bytes in session ids, API tokens, URL tokens */

/* Database. */
#define LIMIT_DB_STATEMENT_MS     5000            /* statement_timeout of web requests → 503/504 */
#define LIMIT_DB_CONNECT_S        5               /* connect_timeout */
#define LIMIT_DB_GROUP_MAX        32              /* writes sharing one statement and commit (db_group.c) */

/* Toggl webhooks (POST /webhook/toggl/{token}, issue 3). The body limit is LIMIT_BODY_MAX. */
#define LIMIT_WEBHOOK_TOKEN_MAX   128             /* URL token characters; longer or not URL-safe → 404 */
#define LIMIT_WEBHOOK_CACHE_TTL_MS 10000          /* a cached subscription (id, opened secret) is re-read
                                                   * after this; revocation is seen at once anyway */
#define LIMIT_WEBHOOK_CACHE_SLOTS 1024            /* subscriptions cached per process (direct-mapped) */
#define LIMIT_WEBHOOK_VALIDATION_CODE_MAX 256     /* a ping's validation_code echoed back; longer → 400 */
#define LIMIT_WEBHOOK_TOUCH_S     1               /* last_event_at is written at most this often */
#define LIMIT_WEBHOOK_RETENTION_DAYS 30           /* raw events kept, unless the setting
                                                   * webhook_event_retention_days says otherwise */

/* Outbound HTTP (libcurl). */
#define LIMIT_HTTP_CONNECT_MS     5000
#define LIMIT_HTTP_TOTAL_MS       30000
#define LIMIT_HTTP_RESPONSE_MAX   (16 * 1024 * 1024)

/* Worker. */
#define LIMIT_JOB_LEASE_S         120             /* a job not finished by then is taken again */
#define LIMIT_JOB_ATTEMPTS        8               /* then the job is dead */
#define LIMIT_JOB_BACKOFF_BASE_S  5               /* first retry delay; doubles per attempt */
#define LIMIT_JOB_BACKOFF_MAX_S   3600
#define LIMIT_WORKER_POLL_MS      1000            /* wake-up without NOTIFY */
#define LIMIT_JOB_ERROR_MAX       2000            /* chars of last_error kept */

/* FastCGI. */
#define LIMIT_FCGI_THREADS_MAX    256
#define LIMIT_FCGI_THREADS_DEFAULT 32             /* cheap while they wait: webhook deliveries in
                                                   * flight together share one commit (db_group.c) */

/* Toggl client and sync (issue 3: src/api/toggl.c, src/toggl/). */
#define LIMIT_TOGGL_TOKEN_MAX          256          /* an API token longer than this is refused → "not a token" */
#define LIMIT_TOGGL_ERROR_TEXT         300          /* chars of an upstream error sentence kept for the user */
#define LIMIT_TOGGL_PER_PAGE           200          /* projects/tags per page: Toggl's documented maximum */
#define LIMIT_TOGGL_PAGES_MAX          1000         /* pages of one listing before we stop → error */
#define LIMIT_TOGGL_ENTRIES_CAP        1000         /* rows /me/time_entries returns at most: a full window is split */
#define LIMIT_TOGGL_WINDOW_INIT_S      (7 * 86400)  /* first /me/time_entries window of an import */
#define LIMIT_TOGGL_WINDOW_MAX_S       (92 * 86400) /* a window never grows beyond this */
#define LIMIT_TOGGL_WINDOW_MIN_S       1            /* a full window this short cannot be split → error */
#define LIMIT_TOGGL_WINDOW_TARGET      700          /* rows aimed at per window when sizing the next one */
#define LIMIT_TOGGL_REPORTS_PAGE       1000         /* page_size asked of the Reports API detailed search */
#define LIMIT_TOGGL_REPORTS_SPAN_D     365          /* days per detailed search (the API refuses > 1 year) */
#define LIMIT_TOGGL_RATE_BACKOFF_MIN_S 60           /* first wait after a 429 (docs: "a few minutes") */
#define LIMIT_TOGGL_RATE_BACKOFF_MAX_S 1800         /* 429 waits double up to this */
#define LIMIT_TOGGL_5XX_BACKOFF_S      2            /* first wait after a 5xx or no answer; doubles */
#define LIMIT_TOGGL_5XX_BACKOFF_MAX_S  300
#define LIMIT_TOGGL_TRIES              5            /* attempts of one call inside one run before giving up */
#define LIMIT_TOGGL_JOB_WAIT_S         60           /* a job waits inline this long at most, else retries later */
#define LIMIT_TOGGL_CLI_WAIT_S         (2 * 3600)   /* the CLI waits out quotas up to this long per call */
#define LIMIT_TOGGL_RECONCILE_OVERLAP_S 300         /* reconciliation re-reads this much before the last pull */
#define LIMIT_TOGGL_RECONCILE_MIN_GAP_S 600         /* a reconcile cron firing more often is refused (quota) */
#define LIMIT_TOGGL_METADATA_DELAY_S   10           /* metadata refresh requests within this fold into one job */
#define LIMIT_TOGGL_VERIFY_MAX         50           /* unseen entries an import checks one by one; more: left to reconcile */
#define LIMIT_TOGGL_FIRST_PULL_S       (7 * 86400)  /* the first reconciliation looks back this far */

/* Google OAuth and the Calendar mirror (issue 4: src/api/google.c, src/gcal/, src/handlers/h_oauth.c). */
#define LIMIT_GOOGLE_TOKEN_MAX         4096         /* an access/refresh token longer than this → bad answer */
#define LIMIT_GOOGLE_ERROR_TEXT        300          /* chars of a Google error message kept for the user */
#define LIMIT_GOOGLE_STATE_S           600          /* an OAuth state is good for 10 minutes, then → 400 */
#define LIMIT_GOOGLE_STATE_PARAM_MAX   128          /* chars of the state parameter; longer → 400 */
#define LIMIT_GOOGLE_CODE_MAX          2048         /* chars of an authorization code; longer → 400 */
#define LIMIT_GOOGLE_TOKEN_EARLY_S     60           /* the access token is refreshed this long before expiry */
#define LIMIT_GOOGLE_BACKOFF_BASE_S    2            /* first per-user wait after a rate/quota error; doubles */
#define LIMIT_GOOGLE_BACKOFF_MAX_S     900          /* ...up to this; the jobs wait, they do not die */
#define LIMIT_GOOGLE_BACKOFF_LEVEL_MAX 10           /* doublings remembered */
#define LIMIT_GOOGLE_LOCK_RETRY_S      0.25         /* an entry another worker is syncing: again after this,
                                                     * doubling per attempt (past LIMIT_HTTP_TOTAL_MS in 8) */
#define LIMIT_GOOGLE_LIST_PAGE         2500         /* events.list maxResults: Google's maximum */
#define LIMIT_GOOGLE_LIST_PAGES_MAX    400          /* pages of one validation listing, then → job error */
#define LIMIT_GOOGLE_DAYS_MAX          3650         /* backfill/validation window in days; more → refused */
#define LIMIT_GOOGLE_SUMMARY_MAX       1000         /* bytes of an event summary (cut on a UTF-8 boundary) */
#define LIMIT_GOOGLE_DESCRIPTION_MAX   8000         /* bytes of an event description */
#define LIMIT_GOOGLE_CALENDAR_NAME_MAX 200          /* bytes of the calendar's name; longer → refused */
#define LIMIT_GOOGLE_RUNNING_MIN_S     60           /* a running entry's event lasts at least this long */
#define LIMIT_GOOGLE_REFRESH_MIN_MAX   1440         /* running-entry refresh interval, minutes, 1..this */
#define LIMIT_GOOGLE_BACKFILL_RATE_MAX 100          /* backfill syncs per second per user, 1..this */
#define LIMIT_GOOGLE_VALIDATE_ROWS     50000        /* entries one validation compares, latest changed first */
#define LIMIT_GOOGLE_VALIDATE_MIN_MAX  (7 * 1440)   /* SYNC_VALIDATE_INTERVAL, minutes, 1..this */
#define LIMIT_GOOGLE_STATE_KEEP_S      86400        /* expired OAuth states are purged after a day, so an
                                                     * expired link is told apart from a bogus one */

/* Grafana JSON API (issue 5: src/grafana/, src/handlers/h_grafana.c). */
#define LIMIT_GRAFANA_STATEMENT_MS 5000           /* statement_timeout of every Grafana query → 504; well
                                                   * under Grafana's 30 s data-proxy timeout */
#define LIMIT_GRAFANA_WORK_MEM_KB 65536           /* work_mem of a Grafana query: the aggregates hash */
#define LIMIT_GRAFANA_POINTS_DEFAULT 1000         /* maxDataPoints when the request has none */
#define LIMIT_GRAFANA_POINTS_MAX  10000           /* buckets per series whatever maxDataPoints says → capped */
#define LIMIT_GRAFANA_SERIES_MAX  500             /* series per target; the rest are dropped with a notice */
#define LIMIT_GRAFANA_TARGETS_MAX 32              /* targets in one /query → 400 */
#define LIMIT_GRAFANA_FILTERS_MAX 64              /* ad-hoc filters plus payload filters → 400 */
#define LIMIT_GRAFANA_VALUES_MAX  1000            /* values of one multi-select or filter → 400 */
#define LIMIT_GRAFANA_VALUE_MAX   1024            /* bytes of one payload or filter value → 400 */
#define LIMIT_GRAFANA_ROWS_DEFAULT 1000           /* entries_table/annotations rows without a limit */
#define LIMIT_GRAFANA_ROWS_MAX    10000           /* rows of entries_table/annotations; more → 400 */
#define LIMIT_GRAFANA_OPTIONS_MAX 1000            /* answers of /tag-values, /variable, options; cut there */
#define LIMIT_GRAFANA_TZ_NAMES_MAX 4096           /* names cached from pg_timezone_names (≈600 today) */

/* Admin pages and login (issue 6: src/handlers/h_login.c and the pages). */
#define LIMIT_LOGIN_WINDOW_S      900             /* failed logins are counted over this window */
#define LIMIT_LOGIN_FAILS_ACCOUNT 5               /* failures of one account in the window → 429 */
#define LIMIT_LOGIN_FAILS_ADDR    30              /* failures from one address in the window → 429 */
#define LIMIT_LOGIN_CONCURRENT    2               /* password checks at once per process (scrypt:
                                                   * 32 MiB and ~120 ms each) */
#define LIMIT_LOGIN_QUEUE_MS      3000            /* no check slot within this → 503 "busy" */
#define LIMIT_PAGE_ROWS           50              /* rows per page of the entries and jobs lists */
#define LIMIT_PAGE_OFFSET_MAX     100000          /* deepest row offset of a list → clamped */
#define LIMIT_SELECTION_MAX       200             /* ids in one "resync selected" → 400 */
#define LIMIT_SEARCH_MAX          200             /* bytes of a search string → 400 */
#define LIMIT_TOKEN_NAME_MAX      100             /* an API token's name → 400 */
#define LIMIT_FLASH_MAX           400             /* bytes of a flash message; longer ones are cut */
#define LIMIT_FLASH_TTL_S         120             /* a flash message nobody came back for is dropped */
#define LIMIT_OPTIONS_MAX         500             /* choices offered in one <select> (projects, rule targets) */
#define LIMIT_RECENT_ROWS         8               /* latest jobs and imports shown on the Toggl page */
#define LIMIT_CHART_DAYS          30              /* the dashboard chart's span */
#define LIMIT_CHART_PROJECTS      8               /* projects named in the chart; the rest are "Other" */
#define LIMIT_IMPORT_DAYS_MAX     (10 * 366)      /* an import range from the admin page → 400 */
#define LIMIT_SETTING_VALUE_MAX   200             /* a setting's value from the settings page → 400 */

#endif
