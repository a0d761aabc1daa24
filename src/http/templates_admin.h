/* templates_admin.h: the admin pages' templates (issue 6) and their marker keys. Each template's keys are
 * one X-macro list, so the enum a handler indexes by and the names the file is checked against cannot
 * drift apart. templates.h puts TMPL_ADMIN_IDS into enum tmpl_id and templates.c TMPL_ADMIN_DEFS into
 * its table; the name arrays are in templates_admin.c. */
#ifndef TB_TEMPLATES_ADMIN_H
#define TB_TEMPLATES_ADMIN_H

#define TK_ENUM(id, name) id,
#define TK_NAME(id, name) name,

/* ---- shared fragments ---- */
#define TK_WHOAMI(X) X(TK_WHOAMI_EMAIL, "email") X(TK_WHOAMI_ROLE, "role") X(TK_WHOAMI_CSRF, "csrf")
#define TK_NAVI(X) X(TK_NAVI_HREF, "href") X(TK_NAVI_LABEL, "label") X(TK_NAVI_CURRENT, "current")
#define TK_FLASH(X) X(TK_FLASH_KIND, "kind") X(TK_FLASH_MESSAGE, "message")
#define TK_DEMO(X) X(TK_DEMO_TOGGL, "toggl_view") X(TK_DEMO_GOOGLE, "google_view")
#define TK_OPT(X) X(TK_OPT_VALUE, "value") X(TK_OPT_LABEL, "label")
#define TK_OPTGROUP(X) X(TK_OPTGROUP_LABEL, "label") X(TK_OPTGROUP_OPTIONS, "options")
#define TK_FERR(X) X(TK_FERR_MESSAGE, "message")
#define TK_BADGE(X) X(TK_BADGE_KIND, "kind") X(TK_BADGE_LABEL, "label")
#define TK_LINK(X) X(TK_LINK_HREF, "href") X(TK_LINK_LABEL, "label") X(TK_LINK_CURRENT, "current")
#define TK_TEXT(X) X(TK_TEXT_TEXT, "text")
#define TK_PAGER(X) X(TK_PAGER_INFO, "info") X(TK_PAGER_PREV, "prev") X(TK_PAGER_NEXT, "next")
#define TK_ONCE(X) X(TK_ONCE_LABEL, "label") X(TK_ONCE_VALUE, "value") X(TK_ONCE_HINT, "hint")
#define TK_BUTTON(X) X(TK_BUTTON_ACTION, "action") X(TK_BUTTON_CSRF, "csrf") X(TK_BUTTON_NAME, "name") \
	X(TK_BUTTON_VALUE, "value") X(TK_BUTTON_LABEL, "label") X(TK_BUTTON_KIND, "kind") \
	X(TK_BUTTON_TITLE, "title") X(TK_BUTTON_UID, "uid") X(TK_BUTTON_BACK, "back")

/* ---- login ---- */
#define TK_LOGIN(X) X(TK_LOGIN_CSRF, "csrf") X(TK_LOGIN_NEXT, "next") X(TK_LOGIN_EMAIL, "email") \
	X(TK_LOGIN_ERROR, "error")

/* ---- dashboard ---- */
#define TK_DASH(X) X(TK_DASH_SCOPE, "scope") X(TK_DASH_TOGGL, "toggl") X(TK_DASH_WEBHOOKS, "webhooks") \
	X(TK_DASH_GOOGLE, "google") X(TK_DASH_JOBS, "jobs") X(TK_DASH_FAILURES, "failures") \
	X(TK_DASH_MIRRORED, "mirrored") X(TK_DASH_CHART, "chart") X(TK_DASH_LEGEND, "legend") \
	X(TK_DASH_TOTAL, "total") X(TK_DASH_RANGE, "range")
#define TK_STATUS(X) X(TK_STATUS_BADGE, "badge") X(TK_STATUS_TITLE, "title") X(TK_STATUS_DETAIL, "detail") \
	X(TK_STATUS_EXTRA, "extra") X(TK_STATUS_HREF, "href") X(TK_STATUS_ACTION, "action")
#define TK_DWH(X) X(TK_DWH_WORKSPACE, "workspace") X(TK_DWH_BADGE, "badge") X(TK_DWH_LAST, "last")
#define TK_DJOB(X) X(TK_DJOB_HREF, "href") X(TK_DJOB_STATE, "state") X(TK_DJOB_COUNT, "count") \
	X(TK_DJOB_KIND, "kind")
#define TK_SCOPE(X) X(TK_SCOPE_ACTION, "action") X(TK_SCOPE_OPTIONS, "options")

/* ---- the SVG chart (svg_chart.c) ---- */
#define TK_CHART(X) X(TK_CHART_WIDTH, "width") X(TK_CHART_HEIGHT, "height") X(TK_CHART_DESC, "desc") \
	X(TK_CHART_BODY, "body")
#define TK_CRECT(X) X(TK_CRECT_X, "x") X(TK_CRECT_Y, "y") X(TK_CRECT_W, "w") X(TK_CRECT_H, "h") \
	X(TK_CRECT_FILL, "fill") X(TK_CRECT_TIP, "tip")
#define TK_CTEXT(X) X(TK_CTEXT_X, "x") X(TK_CTEXT_Y, "y") X(TK_CTEXT_ANCHOR, "anchor") \
	X(TK_CTEXT_TEXT, "text")
#define TK_CLINE(X) X(TK_CLINE_X1, "x1") X(TK_CLINE_Y1, "y1") X(TK_CLINE_X2, "x2") X(TK_CLINE_Y2, "y2") \
	X(TK_CLINE_KIND, "kind")
#define TK_CLEGEND(X) X(TK_CLEGEND_FILL, "fill") X(TK_CLEGEND_LABEL, "label") X(TK_CLEGEND_HOURS, "hours")

/* ---- entries ---- */
#define TK_ENTRIES(X) X(TK_ENTRIES_CSRF, "csrf") X(TK_ENTRIES_Q, "q") X(TK_ENTRIES_FROM, "from") \
	X(TK_ENTRIES_TO, "to") X(TK_ENTRIES_PROJECTS, "projects") X(TK_ENTRIES_STATES, "states") \
	X(TK_ENTRIES_USERS, "users") X(TK_ENTRIES_ROWS, "rows") X(TK_ENTRIES_PAGER, "pager") \
	X(TK_ENTRIES_TOTAL, "total") X(TK_ENTRIES_BACK, "back") X(TK_ENTRIES_NOTE, "note")
#define TK_EROW(X) X(TK_EROW_ID, "id") X(TK_EROW_DAY, "day") X(TK_EROW_TIME, "time") \
	X(TK_EROW_DURATION, "duration") X(TK_EROW_DESCRIPTION, "description") X(TK_EROW_PROJECT, "project") \
	X(TK_EROW_COLOR, "color") X(TK_EROW_TAGS, "tags") X(TK_EROW_USER, "user") X(TK_EROW_BADGE, "badge") \
	X(TK_EROW_ERROR, "error") X(TK_EROW_LABEL, "label")
#define TK_USERSEL(X) X(TK_USERSEL_OPTIONS, "options")

/* ---- jobs ---- */
#define TK_JOBS(X) X(TK_JOBS_TABS, "tabs") X(TK_JOBS_ROWS, "rows") X(TK_JOBS_PAGER, "pager") \
	X(TK_JOBS_RETRY_ALL, "retry_all") X(TK_JOBS_USERS, "users") X(TK_JOBS_STATE, "state") \
	X(TK_JOBS_EMPTY, "empty")
#define TK_JROW(X) X(TK_JROW_ID, "id") X(TK_JROW_KIND, "kind") X(TK_JROW_USER, "user") \
	X(TK_JROW_BADGE, "badge") X(TK_JROW_ATTEMPTS, "attempts") X(TK_JROW_NEXT, "next") \
	X(TK_JROW_ERROR, "error") X(TK_JROW_PROGRESS, "progress") X(TK_JROW_UPDATED, "updated") \
	X(TK_JROW_ACTION, "action")

/* ---- users ---- */
#define TK_USERS(X) X(TK_USERS_CSRF, "csrf") X(TK_USERS_ONCE, "once") X(TK_USERS_ERROR, "error") \
	X(TK_USERS_ROWS, "rows") X(TK_USERS_EMAIL, "email")
#define TK_UROW(X) X(TK_UROW_EMAIL, "email") X(TK_UROW_ROLE, "role") X(TK_UROW_STATUS, "status") \
	X(TK_UROW_CREATED, "created") X(TK_UROW_ACTIONS, "actions")

/* ---- API tokens ---- */
#define TK_TOKENS(X) X(TK_TOKENS_CSRF, "csrf") X(TK_TOKENS_ONCE, "once") X(TK_TOKENS_ERROR, "error") \
	X(TK_TOKENS_ROWS, "rows") X(TK_TOKENS_NAME, "name")
#define TK_TROW(X) X(TK_TROW_NAME, "name") X(TK_TROW_PREFIX, "prefix") X(TK_TROW_CREATED, "created") \
	X(TK_TROW_USED, "used") X(TK_TROW_STATE, "state") X(TK_TROW_ACTION, "action")

/* ---- settings ---- */
#define TK_SETTINGS(X) X(TK_SETTINGS_CSRF, "csrf") X(TK_SETTINGS_ERROR, "error") \
	X(TK_SETTINGS_VALIDATE, "validate") X(TK_SETTINGS_RECONCILE, "reconcile") \
	X(TK_SETTINGS_RETENTION, "retention") X(TK_SETTINGS_SCHEDULES, "schedules")
#define TK_SROW(X) X(TK_SROW_NAME, "name") X(TK_SROW_CRON, "cron") X(TK_SROW_NEXT, "next") \
	X(TK_SROW_LAST, "last") X(TK_SROW_STATE, "state")

/* ---- Toggl ---- */
#define TK_TOGGL(X) X(TK_TOGGL_CSRF, "csrf") X(TK_TOGGL_ERROR, "error") X(TK_TOGGL_STATUS, "status") \
	X(TK_TOGGL_TOKEN_STATE, "token_state") X(TK_TOGGL_WORKSPACES, "workspaces") X(TK_TOGGL_IMPORTS, "imports") \
	X(TK_TOGGL_JOBS, "jobs") X(TK_TOGGL_SINCE, "since") X(TK_TOGGL_UNTIL, "until") X(TK_TOGGL_USER, "user") \
	X(TK_TOGGL_QUOTA, "quota") X(TK_TOGGL_UID, "uid")
#define TK_TWS(X) X(TK_TWS_ID, "id") X(TK_TWS_NAME, "name") X(TK_TWS_BADGE, "badge") X(TK_TWS_LAST, "last") \
	X(TK_TWS_DETAIL, "detail") X(TK_TWS_ACTIONS, "actions")
#define TK_IMPORT(X) X(TK_IMPORT_RANGE, "range") X(TK_IMPORT_BADGE, "badge") X(TK_IMPORT_PCT, "pct") \
	X(TK_IMPORT_COUNTS, "counts") X(TK_IMPORT_WHEN, "when")
#define TK_JMINI(X) X(TK_JMINI_KIND, "kind") X(TK_JMINI_BADGE, "badge") X(TK_JMINI_DETAIL, "detail") \
	X(TK_JMINI_WHEN, "when")

/* ---- Google ---- */
#define TK_GOOGLE(X) X(TK_GOOGLE_CSRF, "csrf") X(TK_GOOGLE_ERROR, "error") X(TK_GOOGLE_STATUS, "status") \
	X(TK_GOOGLE_CONNECT, "connect") X(TK_GOOGLE_BACKFILL, "backfill") X(TK_GOOGLE_REFRESH, "refresh") \
	X(TK_GOOGLE_CALENDAR, "calendar") X(TK_GOOGLE_RULES, "rules") X(TK_GOOGLE_REFS, "refs") \
	X(TK_GOOGLE_COLORS, "colors") X(TK_GOOGLE_USER, "user") X(TK_GOOGLE_NOTE, "note") \
	X(TK_GOOGLE_UID, "uid")
#define TK_GCONN(X) X(TK_GCONN_LABEL, "label") X(TK_GCONN_CSRF, "csrf") X(TK_GCONN_USER, "user")
#define TK_RULE(X) X(TK_RULE_KIND, "kind") X(TK_RULE_MATCH, "match") X(TK_RULE_FILL, "fill") \
	X(TK_RULE_COLOR, "color") X(TK_RULE_ACTION, "action")
#define TK_SWATCH(X) X(TK_SWATCH_ID, "id") X(TK_SWATCH_FILL, "fill") X(TK_SWATCH_NAME, "name")

/* Every admin template: X(id, file, keys, nkeys). */
#define TMPL_ADMIN_LIST(X) \
	X(TMPL_WHOAMI, "whoami.html", tk_whoami_keys, TK_WHOAMI__MAX) \
	X(TMPL_NAVI, "nav_item.html", tk_navi_keys, TK_NAVI__MAX) \
	X(TMPL_FLASH, "flash.html", tk_flash_keys, TK_FLASH__MAX) \
	X(TMPL_DEMO, "demo.html", tk_demo_keys, TK_DEMO__MAX) \
	X(TMPL_OPT, "option.html", tk_opt_keys, TK_OPT__MAX) \
	X(TMPL_OPT_SEL, "option_selected.html", tk_opt_keys, TK_OPT__MAX) \
	X(TMPL_OPTGROUP, "optgroup.html", tk_optgroup_keys, TK_OPTGROUP__MAX) \
	X(TMPL_FERR, "form_error.html", tk_ferr_keys, TK_FERR__MAX) \
	X(TMPL_BADGE, "badge.html", tk_badge_keys, TK_BADGE__MAX) \
	X(TMPL_LINK, "link.html", tk_link_keys, TK_LINK__MAX) \
	X(TMPL_TEXT, "text.html", tk_text_keys, TK_TEXT__MAX) \
	X(TMPL_MUTED, "muted.html", tk_text_keys, TK_TEXT__MAX) \
	X(TMPL_EMPTYROW, "empty_row.html", tk_text_keys, TK_TEXT__MAX) \
	X(TMPL_PAGER, "pager.html", tk_pager_keys, TK_PAGER__MAX) \
	X(TMPL_ONCE, "secret_once.html", tk_once_keys, TK_ONCE__MAX) \
	X(TMPL_BUTTON, "button_form.html", tk_button_keys, TK_BUTTON__MAX) \
	X(TMPL_LOGIN, "login.html", tk_login_keys, TK_LOGIN__MAX) \
	X(TMPL_DASH, "dashboard.html", tk_dash_keys, TK_DASH__MAX) \
	X(TMPL_STATUS, "status_card.html", tk_status_keys, TK_STATUS__MAX) \
	X(TMPL_DWH, "dash_webhook.html", tk_dwh_keys, TK_DWH__MAX) \
	X(TMPL_DJOB, "dash_job.html", tk_djob_keys, TK_DJOB__MAX) \
	X(TMPL_SCOPE, "scope_form.html", tk_scope_keys, TK_SCOPE__MAX) \
	X(TMPL_CHART, "chart.html", tk_chart_keys, TK_CHART__MAX) \
	X(TMPL_CRECT, "chart_rect.html", tk_crect_keys, TK_CRECT__MAX) \
	X(TMPL_CTEXT, "chart_text.html", tk_ctext_keys, TK_CTEXT__MAX) \
	X(TMPL_CLINE, "chart_line.html", tk_cline_keys, TK_CLINE__MAX) \
	X(TMPL_CLEGEND, "chart_legend.html", tk_clegend_keys, TK_CLEGEND__MAX) \
	X(TMPL_ENTRIES, "entries.html", tk_entries_keys, TK_ENTRIES__MAX) \
	X(TMPL_EROW, "entry_row.html", tk_erow_keys, TK_EROW__MAX) \
	X(TMPL_USERSEL, "user_select.html", tk_usersel_keys, TK_USERSEL__MAX) \
	X(TMPL_JOBS, "jobs.html", tk_jobs_keys, TK_JOBS__MAX) \
	X(TMPL_JROW, "job_row.html", tk_jrow_keys, TK_JROW__MAX) \
	X(TMPL_USERS, "users.html", tk_users_keys, TK_USERS__MAX) \
	X(TMPL_UROW, "user_row.html", tk_urow_keys, TK_UROW__MAX) \
	X(TMPL_TOKENS, "tokens.html", tk_tokens_keys, TK_TOKENS__MAX) \
	X(TMPL_TROW, "token_row.html", tk_trow_keys, TK_TROW__MAX) \
	X(TMPL_SETTINGS, "settings.html", tk_settings_keys, TK_SETTINGS__MAX) \
	X(TMPL_SROW, "schedule_row.html", tk_srow_keys, TK_SROW__MAX) \
	X(TMPL_TOGGL, "toggl.html", tk_toggl_keys, TK_TOGGL__MAX) \
	X(TMPL_TWS, "toggl_workspace.html", tk_tws_keys, TK_TWS__MAX) \
	X(TMPL_IMPORT, "import_row.html", tk_import_keys, TK_IMPORT__MAX) \
	X(TMPL_JMINI, "job_mini.html", tk_jmini_keys, TK_JMINI__MAX) \
	X(TMPL_GOOGLE, "google.html", tk_google_keys, TK_GOOGLE__MAX) \
	X(TMPL_GCONN, "google_connect.html", tk_gconn_keys, TK_GCONN__MAX) \
	X(TMPL_GRECONN, "google_reconnect.html", tk_gconn_keys, TK_GCONN__MAX) \
	X(TMPL_GDISC, "google_connected.html", tk_gconn_keys, TK_GCONN__MAX) \
	X(TMPL_RULE, "color_rule.html", tk_rule_keys, TK_RULE__MAX) \
	X(TMPL_SWATCH, "swatch_radio.html", tk_swatch_keys, TK_SWATCH__MAX) \
	X(TMPL_SWATCH_SEL, "swatch_radio_checked.html", tk_swatch_keys, TK_SWATCH__MAX)

/* Every key list: the enum (TK_<NAME>_<KEY>, then TK_<NAME>__MAX) and its name array, defined in
 * templates_admin.c. */
#define TK_ALL(Y) \
	Y(TK_WHOAMI, tk_whoami) Y(TK_NAVI, tk_navi) Y(TK_FLASH, tk_flash) Y(TK_DEMO, tk_demo) Y(TK_OPT, tk_opt) \
	Y(TK_OPTGROUP, tk_optgroup) \
	Y(TK_FERR, tk_ferr) Y(TK_BADGE, tk_badge) Y(TK_LINK, tk_link) Y(TK_TEXT, tk_text) Y(TK_PAGER, tk_pager) \
	Y(TK_ONCE, tk_once) Y(TK_BUTTON, tk_button) Y(TK_LOGIN, tk_login) Y(TK_DASH, tk_dash) \
	Y(TK_STATUS, tk_status) Y(TK_DWH, tk_dwh) Y(TK_DJOB, tk_djob) Y(TK_SCOPE, tk_scope) \
	Y(TK_CHART, tk_chart) Y(TK_CRECT, tk_crect) Y(TK_CTEXT, tk_ctext) Y(TK_CLINE, tk_cline) \
	Y(TK_CLEGEND, tk_clegend) Y(TK_ENTRIES, tk_entries) Y(TK_EROW, tk_erow) Y(TK_USERSEL, tk_usersel) \
	Y(TK_JOBS, tk_jobs) Y(TK_JROW, tk_jrow) Y(TK_USERS, tk_users) Y(TK_UROW, tk_urow) \
	Y(TK_TOKENS, tk_tokens) Y(TK_TROW, tk_trow) Y(TK_SETTINGS, tk_settings) Y(TK_SROW, tk_srow) \
	Y(TK_TOGGL, tk_toggl) Y(TK_TWS, tk_tws) Y(TK_IMPORT, tk_import) Y(TK_JMINI, tk_jmini) \
	Y(TK_GOOGLE, tk_google) Y(TK_GCONN, tk_gconn) Y(TK_RULE, tk_rule) Y(TK_SWATCH, tk_swatch)

#define TK_DECLARE(list, tag) enum tag { list(TK_ENUM) list##__MAX }; extern const char *const tag##_keys[];
TK_ALL(TK_DECLARE)
#undef TK_DECLARE

/* For enum tmpl_id and the defs table of templates.c. */
#define TMPL_ADMIN_ID(id, file, keys, n) id,
#define TMPL_ADMIN_DEF(id, file, keys, n) [id] = { file, keys, n },
#define TMPL_ADMIN_IDS TMPL_ADMIN_LIST(TMPL_ADMIN_ID)
#define TMPL_ADMIN_DEFS TMPL_ADMIN_LIST(TMPL_ADMIN_DEF)

#endif
