/* test_config.c: configuration loading and validation: every bad setting stops the program with one
 * line naming the variable. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "util/conf.h"
#include "util/limits.h"

static const char *good_secret = "0123456789abcdef0123456789abcdef-long-enough";

static void
clear_env(void)
{
	static const char *const vars[] = { "TIMEBRIDGE_DATABASE", "TIMEBRIDGE_PUBLIC_URL", "TIMEBRIDGE_SECRET_KEY",
		"TIMEBRIDGE_TOGGL_URL", "TIMEBRIDGE_GOOGLE_AUTH_URL", "TIMEBRIDGE_GOOGLE_TOKEN_URL",
		"TIMEBRIDGE_GOOGLE_REVOKE_URL", "TIMEBRIDGE_GOOGLE_API_URL", "TIMEBRIDGE_LOG_LEVEL",
		"TIMEBRIDGE_FCGI_THREADS", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* Load with one variable set to a value; returns the error line ("" on success). */
static const char *
load_with(const char *var, const char *val)
{
	static char err[512];

	clear_env();
	setenv("TIMEBRIDGE_SECRET_KEY", good_secret, 1);
	if (var)
		setenv(var, val, 1);
	err[0] = '\0';
	if (config_load(NULL, CONFIG_NEED_SECRET, err, sizeof(err)) == 0)
		return "";
	return err;
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
main(void)
{
	const struct config *c;
	char path[] = "/tmp/tbconfXXXXXX", err[512];
	FILE *f;
	int fd;

	/* URL policy */
	CHECK(config_url_ok("https://api.track.toggl.com") == 0);
	CHECK(config_url_ok("https://example.com:8443/x") == 0);
	CHECK(config_url_ok("http://127.0.0.1:9000") == 0);
	CHECK(config_url_ok("http://127.5.6.7/x") == 0);
	CHECK(config_url_ok("http://localhost:1") == 0);
	CHECK(config_url_ok("http://[::1]:80/") == 0);
	CHECK(config_url_ok("http://example.com") != 0);
	CHECK(config_url_ok("http://127.0.0.1.evil.com/") != 0);
	CHECK(config_url_ok("http://localhost.evil.com/") != 0);
	CHECK(config_url_ok("ftp://127.0.0.1/") != 0);
	CHECK(config_url_ok("https://user:pw@example.com/") != 0);
	CHECK(config_url_ok("https://") != 0);
	CHECK(config_url_ok("javascript:alert(1)") != 0);

	/* defaults */
	CHECK_STR(load_with(NULL, NULL), "");
	c = config_get();
	CHECK_STR(c->toggl_url, "https://api.track.toggl.com");
	CHECK_STR(c->google_api_url, "https://www.googleapis.com/calendar/v3");
	CHECK_INT(c->fcgi_threads, LIMIT_FCGI_THREADS_DEFAULT);
	CHECK_INT(c->public_https, 0);
	CHECK(getenv("TIMEBRIDGE_SECRET_KEY") == NULL);   /* wiped and removed after deriving keys */

	/* every bad setting names its variable */
	CHECK(starts_with(load_with("TIMEBRIDGE_SECRET_KEY", ""), "TIMEBRIDGE_SECRET_KEY: required"));
	CHECK(starts_with(load_with("TIMEBRIDGE_SECRET_KEY", "short"), "TIMEBRIDGE_SECRET_KEY: too short"));
	CHECK(starts_with(load_with("TIMEBRIDGE_TOGGL_URL", "http://example.com"), "TIMEBRIDGE_TOGGL_URL:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_GOOGLE_AUTH_URL", "ftp://x"), "TIMEBRIDGE_GOOGLE_AUTH_URL:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_GOOGLE_TOKEN_URL", "http://10.0.0.1/"), "TIMEBRIDGE_GOOGLE_TOKEN_URL:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_GOOGLE_REVOKE_URL", "nope"), "TIMEBRIDGE_GOOGLE_REVOKE_URL:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_GOOGLE_API_URL", "http://api.example/"), "TIMEBRIDGE_GOOGLE_API_URL:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_LOG_LEVEL", "loud"), "TIMEBRIDGE_LOG_LEVEL:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_FCGI_THREADS", "0"), "TIMEBRIDGE_FCGI_THREADS:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_FCGI_THREADS", "12x"), "TIMEBRIDGE_FCGI_THREADS:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_FCGI_THREADS", "100000"), "TIMEBRIDGE_FCGI_THREADS:"));
	CHECK(starts_with(load_with("TIMEBRIDGE_PUBLIC_URL", "example.com"), "TIMEBRIDGE_PUBLIC_URL:"));
	/* one line */
	CHECK(strchr(load_with("TIMEBRIDGE_TOGGL_URL", "http://example.com"), '\n') == NULL);

	/* good values */
	CHECK_STR(load_with("TIMEBRIDGE_TOGGL_URL", "http://127.0.0.1:9999/"), "");
	CHECK_STR(config_get()->toggl_url, "http://127.0.0.1:9999");   /* trailing slash dropped */
	CHECK_STR(load_with("TIMEBRIDGE_PUBLIC_URL", "https://tb.example.org/"), "");
	CHECK_INT(config_get()->public_https, 1);
	CHECK_STR(config_get()->public_url, "https://tb.example.org");
	CHECK_STR(load_with("TIMEBRIDGE_FCGI_THREADS", "16"), "");
	CHECK_INT(config_get()->fcgi_threads, 16);

	/* the --config file: KEY=VALUE, comments, quotes; the environment wins */
	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return 1;
	fprintf(f, "# a comment\n\nTIMEBRIDGE_SECRET_KEY=\"%s\"\nTIMEBRIDGE_FCGI_THREADS = 7\n"
	    "TIMEBRIDGE_LOG_LEVEL='debug'\nTIMEBRIDGE_DATABASE=dbname=fromfile\n", good_secret);
	fclose(f);
	clear_env();
	setenv("TIMEBRIDGE_DATABASE", "dbname=fromenv", 1);
	CHECK(config_load(path, CONFIG_NEED_SECRET, err, sizeof(err)) == 0);
	CHECK_INT(config_get()->fcgi_threads, 7);
	CHECK_INT(config_get()->log_level, LOG_DEBUG);
	CHECK_STR(config_get()->database, "dbname=fromenv");
	/* a malformed line is named with its number */
	f = fopen(path, "w");
	fprintf(f, "TIMEBRIDGE_SECRET_KEY=%s\njust words\n", good_secret);
	fclose(f);
	clear_env();
	CHECK(config_load(path, CONFIG_NEED_SECRET, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":2: expected KEY=VALUE") != NULL);
	unlink(path);
	CHECK(config_load("/nonexistent/tb.conf", CONFIG_NEED_SECRET, err, sizeof(err)) != 0);
	CHECK(strstr(err, "/nonexistent/tb.conf") != NULL);

	config_free();
	return CHECK_DONE("test_config");
}
