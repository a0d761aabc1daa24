-- 007_admin.sql: what the admin pages keep: login attempts, for throttling per account and per address.

-- One row per password check at POST /login. Failures count against the account (the e-mail typed,
-- lowercased, whether or not such a user exists: the answer must not tell) and against the address;
-- a success clears the account's failures, never the address's (one good account must not reset an
-- attacker's counter). Rows older than the throttle window are useless and purged by the login path.
CREATE TABLE login_attempts (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    email       text NOT NULL,                  -- lower(email) as typed, at most LIMIT_EMAIL_MAX
    remote_addr text NOT NULL DEFAULT '',
    ok          boolean NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email, at) WHERE NOT ok;
CREATE INDEX login_attempts_addr ON login_attempts (remote_addr, at) WHERE NOT ok;
CREATE INDEX login_attempts_at ON login_attempts (at);
