/* h_oauth.c: connecting Google. GET /oauth/google/start sends a logged-in user to Google's consent screen;
 * GET /oauth/google/callback checks the state, exchanges the code (the only Google call made on a web
 * request) and stores the grant; POST /google/disconnect queues the revoke. The work is in src/gcal/. */
#include "config.h"

#include <string.h>

#include "api/http_client.h"
#include "gcal/gcal.h"
#include "handlers/handlers.h"
#include "http/html.h"
#include "http/http.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

/* A small page for the outcomes that are not a redirect. Everything from outside is escaped; links are
 * our own literals. */
struct link {
	const char *href;
	const char *text;
};

static void
page(struct req *r, int status, const char *title, const char *message, const char *detail,
    const struct link *links, size_t nlinks)
{
	struct buf *b = &r->out;

	r->status = status;
	r->no_store = 1;
	r->out_type = "text/html; charset=utf-8";
	buf_reset(b);
	html_raw(b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<link rel=\"stylesheet\" href=\"/static/app.css\"><title>");
	html_txt(b, title);
	html_raw(b, " · timebridge</title></head><body class=\"error-page oauth-page\"><main class=\"card\"><h1>");
	html_txt(b, title);
	html_raw(b, "</h1><p id=\"message\">");
	html_txt(b, message);
	html_raw(b, "</p>");
	if (detail != NULL && *detail) {
		html_raw(b, "<p class=\"detail\" id=\"detail\">");
		html_txt(b, detail);
		html_raw(b, "</p>");
	}
	html_raw(b, "<p class=\"actions\">");
	for (size_t i = 0; i < nlinks; i++) {
		if (i == 0)
			html_raw(b, "<a class=\"btn btn-primary\" href=\"");
		else
			html_raw(b, "<a class=\"btn btn-secondary\" href=\"");
		html_url(b, links[i].href);
		html_raw(b, "\">");
		html_txt(b, links[i].text);
		html_raw(b, "</a> ");
	}
	html_raw(b, "</p></main></body></html>\n");
}

static const struct link again_links[] = {
	{ "/oauth/google/start", "Connect Google again" },
	{ "/google", "Back to the Google page" },
};
#define NLINKS(a) (sizeof(a) / sizeof((a)[0]))

void
h_oauth_google_start(struct req *r)
{
	struct buf url = BUF_INIT;
	char err[256];

	if (gcal_oauth_start(r->db, r->session_id, r->user.id, &url, err, sizeof(err)) != 0) {
		log_error(r->id, "google consent for user %lld: %s", (long long)r->user.id, err);
		page(r, 503, "Google is unavailable", "timebridge could not start connecting Google.", err,
		    again_links + 1, 1);
		buf_free(&url);
		return;
	}
	r->status = 302;
	r->no_store = 1;
	r->out_type = "text/plain; charset=utf-8";
	/* An absolute URL of Google's (resp_redirect() allows only local paths); built by us, escaped. */
	resp_header(r, "Location", "%s", url.data);
	buf_free(&url);
}

void
h_oauth_google_callback(struct req *r)
{
	const char *state = req_query(r, "state"), *code = req_query(r, "code"), *error = req_query(r, "error");
	static const struct link reconnect[] = {
		{ "/oauth/google/start", "Reconnect Google" },
		{ "/google", "Continue" },
	};
	struct http_client *http = NULL;
	enum gcal_state_check sc;
	char *verifier = NULL, scopes[1024], err[512];

	sc = gcal_oauth_take_state(r->db, r->session_id, r->user.id, state, &verifier);
	switch (sc) {
	case GCAL_STATE_OK:
		break;
	case GCAL_STATE_DB_ERROR:
		page(r, 503, "Try again in a moment", "The database is unavailable. Nothing was changed.", NULL,
		    again_links, NLINKS(again_links));
		goto out;
	case GCAL_STATE_EXPIRED:
		page(r, 400, "This link has expired", "Connecting Google took longer than 10 minutes, so this answer "
		    "from Google is no longer accepted. Nothing was changed.", NULL, again_links, NLINKS(again_links));
		goto out;
	case GCAL_STATE_MISMATCH:
		page(r, 400, "This link is not yours", "This answer from Google belongs to a sign-in started in "
		    "another session. Nothing was changed.", NULL, again_links, NLINKS(again_links));
		goto out;
	case GCAL_STATE_UNKNOWN:
	default:
		page(r, 400, "This link is not valid", "This answer from Google is unknown or was already used. "
		    "Nothing was changed.", NULL, again_links, NLINKS(again_links));
		goto out;
	}
	if (error != NULL) {
		if (strcmp(error, "access_denied") == 0)
			page(r, 200, "Google was not connected", "You chose not to let timebridge use Google Calendar, "
			    "so nothing was changed: your time entries stay in Toggl only. You can connect whenever you "
			    "like.", NULL, again_links, NLINKS(again_links));
		else
			page(r, 400, "Google reported a problem", "Google did not connect timebridge. Nothing was "
			    "changed.", error, again_links, NLINKS(again_links));
		goto out;
	}
	if (code == NULL || *code == '\0' || strlen(code) > LIMIT_GOOGLE_CODE_MAX) {
		page(r, 400, "This link is not valid", "Google's answer carries no usable authorization code. "
		    "Nothing was changed.", NULL, again_links, NLINKS(again_links));
		goto out;
	}
	if ((http = http_client_new()) == NULL) {
		page(r, 503, "Try again in a moment", "timebridge could not reach Google. Nothing was changed.", NULL,
		    again_links, NLINKS(again_links));
		goto out;
	}
	switch (gcal_oauth_connect(r->db, http, r->id, r->user.id, code, verifier, scopes, sizeof(scopes), err,
	    sizeof(err))) {
	case GCAL_CONNECT_OK:
		resp_redirect(r, 303, "/google");
		break;
	case GCAL_CONNECT_FEWER_SCOPES:
		page(r, 200, "Google granted less than needed", "Google connected, but without permission to create "
		    "timebridge's calendar and manage its events, so nothing can be mirrored yet. Reconnect and leave "
		    "that permission ticked.", scopes, reconnect, NLINKS(reconnect));
		break;
	case GCAL_CONNECT_REFUSED:
		page(r, 400, "Google refused the sign-in", "Google did not accept this sign-in (it may have been used "
		    "already). Nothing was stored.", err, again_links, NLINKS(again_links));
		break;
	case GCAL_CONNECT_UNAVAILABLE:
		page(r, 502, "Google did not answer", "Google could not complete the sign-in right now. Nothing was "
		    "stored; try again in a moment.", err, again_links, NLINKS(again_links));
		break;
	case GCAL_CONNECT_NO_REFRESH:
		page(r, 400, "Google gave no offline access", "Google did not allow timebridge to work while you are "
		    "away (no refresh token). Nothing was stored; connect again and allow offline access.", err,
		    again_links, NLINKS(again_links));
		break;
	case GCAL_CONNECT_ERROR:
	default:
		log_error(r->id, "google connect for user %lld: %s", (long long)r->user.id, err);
		page(r, 503, "Try again in a moment", "timebridge could not store the connection. Nothing was "
		    "changed.", NULL, again_links, NLINKS(again_links));
		break;
	}
out:
	http_client_free(http);
	crypto_free_secret(verifier);
}

void
h_google_disconnect(struct req *r)
{
	if (gcal_disconnect(r->db, r->user.id) < 0) {
		log_error(r->id, "google disconnect for user %lld: %s", (long long)r->user.id, r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	resp_redirect(r, 303, "/google");
}
