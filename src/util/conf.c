/* conf.c: environment + KEY=VALUE file configuration, validated once at start. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"

static struct config cfg;
/* Values read from the --config file, and copies made while normalising URLs. They live until the next
 * config_load() or config_free(). */
static char **file_kv;
static size_t file_nkv;
static char *owned[16];
static size_t nowned;

const char config_help[] =
"Configuration (environment variables, or KEY=VALUE lines in --config FILE; the environment wins):\n"
"  TIMEBRIDGE_DATABASE           libpq conninfo (default: \"dbname=timebridge\")\n"
"  TIMEBRIDGE_PUBLIC_URL         public base URL; webhook callbacks and the OAuth redirect URI hang off it\n"
"                                (default: http://127.0.0.1:8080)\n"
"  TIMEBRIDGE_SECRET_KEY         required, at least 32 characters; session, CSRF and encryption keys derive from it\n"
"  GOOGLE_CLIENT_ID              Google OAuth client id\n"
"  GOOGLE_CLIENT_SECRET          Google OAuth client secret\n"
"  TIMEBRIDGE_TOGGL_URL          default https://api.track.toggl.com (API v9, webhooks v1, reports v3 hang off it)\n"
"  TIMEBRIDGE_GOOGLE_AUTH_URL    default https://accounts.google.com/o/oauth2/v2/auth\n"
"  TIMEBRIDGE_GOOGLE_TOKEN_URL   default https://oauth2.googleapis.com/token\n"
"  TIMEBRIDGE_GOOGLE_REVOKE_URL  default https://oauth2.googleapis.com/revoke\n"
"  TIMEBRIDGE_GOOGLE_API_URL     default https://www.googleapis.com/calendar/v3\n"
"  TIMEBRIDGE_LOG_LEVEL          error, warn, info (default) or debug\n"
"  TIMEBRIDGE_FCGI_THREADS       FastCGI worker threads, 1..256 (default 32)\n"
"  TIMEBRIDGE_SQL_DIR            directory of the numbered migrations (default: the installed sql/)\n"
"  TIMEBRIDGE_TEMPLATE_DIR       directory of the HTML templates (default: the installed templates/)\n"
"  TIMEBRIDGE_GRAFANA_CORS       1 to answer CORS preflights on /api/grafana (default 0)\n"
"  TIMEBRIDGE_GRAFANA_CORS_ORIGIN  Access-Control-Allow-Origin value (default *)\n"
"Upstream URLs must be https unless their host is loopback.\n";

static const char *
lookup(const char *name)
{
	const char *v = getenv(name);
	size_t n = strlen(name);

	if (v != NULL)
		return v;
	for (size_t i = 0; i < file_nkv; i++)
		if (strncmp(file_kv[i], name, n) == 0 && file_kv[i][n] == '=')
			return file_kv[i] + n + 1;
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
read_file(const char *path, char *err, size_t errsz)
{
	char line[4096], *p, *eq, *v, **kv;
	int lineno = 0, rc = -1;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "--config %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errsz, "--config %s:%d: expected KEY=VALUE", path, lineno);
			goto out;
		}
		*eq = '\0';
		v = trim(eq + 1);
		/* Accept systemd EnvironmentFile quoting: "value" or 'value'. */
		if ((v[0] == '"' || v[0] == '\'') && strlen(v) >= 2 && v[strlen(v) - 1] == v[0]) {
			v[strlen(v) - 1] = '\0';
			v++;
		}
		if ((kv = realloc(file_kv, (file_nkv + 1) * sizeof(*kv))) == NULL)
			goto oom;
		file_kv = kv;
		if ((file_kv[file_nkv] = malloc(strlen(trim(p)) + strlen(v) + 2)) == NULL)
			goto oom;
		sprintf(file_kv[file_nkv++], "%s=%s", trim(p), v);
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errsz, "--config %s: out of memory", path);
out:
	fclose(f);
	return rc;
}

/* Host of an http(s) URL is loopback: 127.0.0.0/8, ::1 or localhost. */
static int
host_is_loopback(const char *host, size_t n)
{
	if (n == 9 && strncmp(host, "localhost", 9) == 0)
		return 1;
	if (n == 5 && strncmp(host, "[::1]", 5) == 0)
		return 1;
	if (n >= 4 && strncmp(host, "127.", 4) == 0) {
		for (size_t i = 4; i < n; i++)
			if (!isdigit((unsigned char)host[i]) && host[i] != '.')
				return 0;
		return 1;
	}
	return 0;
}

int
config_url_ok(const char *url)
{
	const char *host, *end;
	int https;

	if (strncmp(url, "https://", 8) == 0)
		https = 1, host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		https = 0, host = url + 7;
	else
		return -1;
	if (strchr(host, '@') != NULL)
		return -1;  /* no credentials in URLs: they would end up in logs */
	if (*host == '[')
		end = strchr(host, ']') ? strchr(host, ']') + 1 : NULL;
	else
		end = host + strcspn(host, ":/?#");
	if (end == NULL || end == host)
		return -1;
	if (!https && !host_is_loopback(host, (size_t)(end - host)))
		return -1;
	return 0;
}

static const char *
strip_slash(const char *v)
{
	size_t n = strlen(v);
	char *s;

	if (n == 0 || v[n - 1] != '/')
		return v;
	if (nowned == sizeof(owned) / sizeof(owned[0]) || (s = strdup(v)) == NULL)
		return v;
	owned[nowned++] = s;
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static int
url_setting(const char *name, const char *def, const char **out, char *err, size_t errsz)
{
	const char *v = lookup(name);

	if (v == NULL || *v == '\0')
		v = def;
	if (config_url_ok(v) != 0) {
		snprintf(err, errsz, "%s: must be an https URL (plain http only to a loopback host): \"%s\"",
		    name, v);
		return -1;
	}
	*out = strip_slash(v);
	return 0;
}

int
config_load(const char *file, int need, char *err, size_t errsz)
{
	const char *v, *secret;
	char *end;
	long n;

	config_free();
	if (file != NULL && read_file(file, err, errsz) != 0)
		return -1;

	v = lookup("TIMEBRIDGE_DATABASE");
	cfg.database = v && *v ? v : "dbname=timebridge";

	v = lookup("TIMEBRIDGE_PUBLIC_URL");
	if (v == NULL || *v == '\0')
		v = "http://127.0.0.1:8080";
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
		snprintf(err, errsz, "TIMEBRIDGE_PUBLIC_URL: must start with https:// or http://: \"%s\"", v);
		return -1;
	}
	cfg.public_url = strip_slash(v);
	cfg.public_https = strncmp(v, "https://", 8) == 0;

	cfg.google_client_id = lookup("GOOGLE_CLIENT_ID");
	cfg.google_client_secret = lookup("GOOGLE_CLIENT_SECRET");

	if (url_setting("TIMEBRIDGE_TOGGL_URL", "https://api.track.toggl.com", &cfg.toggl_url, err, errsz) ||
	    url_setting("TIMEBRIDGE_GOOGLE_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth",
	        &cfg.google_auth_url, err, errsz) ||
	    url_setting("TIMEBRIDGE_GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token",
	        &cfg.google_token_url, err, errsz) ||
	    url_setting("TIMEBRIDGE_GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke",
	        &cfg.google_revoke_url, err, errsz) ||
	    url_setting("TIMEBRIDGE_GOOGLE_API_URL", "https://www.googleapis.com/calendar/v3",
	        &cfg.google_api_url, err, errsz))
		return -1;

	cfg.log_level = LOG_INFO;
	if ((v = lookup("TIMEBRIDGE_LOG_LEVEL")) != NULL && *v && log_level_parse(v, &cfg.log_level) != 0) {
		snprintf(err, errsz, "TIMEBRIDGE_LOG_LEVEL: must be error, warn, info or debug: \"%s\"", v);
		return -1;
	}

	cfg.fcgi_threads = LIMIT_FCGI_THREADS_DEFAULT;
	if ((v = lookup("TIMEBRIDGE_FCGI_THREADS")) != NULL && *v) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || *end || n < 1 || n > LIMIT_FCGI_THREADS_MAX) {
			snprintf(err, errsz, "TIMEBRIDGE_FCGI_THREADS: must be a number from 1 to %d: \"%s\"",
			    LIMIT_FCGI_THREADS_MAX, v);
			return -1;
		}
		cfg.fcgi_threads = (int)n;
	}

	v = lookup("TIMEBRIDGE_SQL_DIR");
	cfg.sql_dir = v && *v ? v : TB_SQL_DIR;
	v = lookup("TIMEBRIDGE_TEMPLATE_DIR");
	cfg.template_dir = v && *v ? v : TB_TEMPLATE_DIR;

	v = lookup("TIMEBRIDGE_GRAFANA_CORS");
	cfg.grafana_cors = v && strcmp(v, "1") == 0;
	v = lookup("TIMEBRIDGE_GRAFANA_CORS_ORIGIN");
	cfg.grafana_cors_origin = v && *v ? v : "*";

	secret = lookup("TIMEBRIDGE_SECRET_KEY");
	if (need & CONFIG_NEED_SECRET) {
		if (secret == NULL || *secret == '\0') {
			snprintf(err, errsz, "TIMEBRIDGE_SECRET_KEY: required (at least %d characters); "
			    "generate one with: openssl rand -base64 48", LIMIT_SECRET_KEY_MIN);
			return -1;
		}
		if (strlen(secret) < LIMIT_SECRET_KEY_MIN) {
			snprintf(err, errsz, "TIMEBRIDGE_SECRET_KEY: too short (%zu characters, at least %d)",
			    strlen(secret), LIMIT_SECRET_KEY_MIN);
			return -1;
		}
		if (crypto_init(secret, strlen(secret)) != 0) {
			snprintf(err, errsz, "TIMEBRIDGE_SECRET_KEY: key derivation failed");
			return -1;
		}
	}
	/* The derived keys are all we keep: wipe the secret wherever it was read from. */
	if (secret != NULL) {
		crypto_wipe((void *)(uintptr_t)secret, strlen(secret));
		unsetenv("TIMEBRIDGE_SECRET_KEY");
	}
	return 0;
}

void
config_free(void)
{
	for (size_t i = 0; i < file_nkv; i++) {
		crypto_wipe(file_kv[i], strlen(file_kv[i]));
		free(file_kv[i]);
	}
	free(file_kv);
	file_kv = NULL;
	file_nkv = 0;
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	nowned = 0;
	memset(&cfg, 0, sizeof(cfg));
}

const struct config *
config_get(void)
{
	return &cfg;
}
