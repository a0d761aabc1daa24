/* handlers.h: every request handler, one section per file. Only src/http/router.c includes this. */
#ifndef TB_HANDLERS_H
#define TB_HANDLERS_H

struct req;

/* h_health.c */
void h_healthz(struct req *r);
void h_readyz(struct req *r);
void h_metrics(struct req *r);

/* -- features add their sections below, one per file -- */

/* h_webhook.c: POST /webhook/toggl/{token} (Toggl webhook deliveries) */
void h_webhook_toggl(struct req *r);

/* h_grafana.c: the Grafana JSON API under /api/grafana (issue 5) */
void h_grafana(struct req *r);
void h_grafana_preflight(struct req *r);

/* h_oauth.c: connecting Google (issue 4) */
void h_oauth_google_start(struct req *r);
void h_oauth_google_callback(struct req *r);
void h_google_disconnect(struct req *r);

/* admin pages (issue 6), one file per page; page.c and svg_chart.c are their shared parts */
/* h_login.c */
void h_login_form(struct req *r);
void h_login(struct req *r);
void h_logout(struct req *r);
/* h_dashboard.c */
void h_dashboard(struct req *r);
/* h_toggl_page.c */
void h_toggl_page(struct req *r);
void h_toggl_token(struct req *r);
void h_toggl_webhook_setup(struct req *r);
void h_toggl_webhook_remove(struct req *r);
void h_toggl_refresh(struct req *r);
void h_toggl_reconcile(struct req *r);
void h_toggl_import(struct req *r);
/* h_google_page.c */
void h_google_page(struct req *r);
void h_google_settings(struct req *r);
void h_google_color_add(struct req *r);
void h_google_color_delete(struct req *r);
/* h_entries.c */
void h_entries(struct req *r);
void h_entries_resync(struct req *r);
/* h_jobs.c */
void h_jobs(struct req *r);
void h_jobs_retry(struct req *r);
void h_jobs_retry_dead(struct req *r);
/* h_tokens.c */
void h_tokens(struct req *r);
void h_tokens_create(struct req *r);
void h_tokens_revoke(struct req *r);
/* h_users.c */
void h_users(struct req *r);
void h_users_add(struct req *r);
void h_users_update(struct req *r);
/* h_settings.c */
void h_settings(struct req *r);
void h_settings_save(struct req *r);

#endif
