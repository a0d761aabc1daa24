/* tbtime.h: RFC 3339 and calendar-date parsing/formatting, and the two clocks. Pure: no TZ, no locale. */
#ifndef TB_TBTIME_H
#define TB_TBTIME_H

#include <stdint.h>

/* Room for any tb_format_rfc3339() output ("2024-01-02T03:04:05Z" is 20 bytes + NUL). */
#define TB_RFC3339_SIZE 32

/*
 * Parse a complete RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm)".
 * 'T' and 'Z' may be lowercase (RFC 3339 section 5.6 note); nothing else is tolerated (no space
 * separator, no missing offset, no leap second 60, no trailing bytes). Fractions below a millisecond
 * are truncated. On success stores milliseconds since 1970-01-01T00:00:00Z and returns 0; else -1 and
 * *epoch_ms_out is untouched.
 */
int     tb_parse_rfc3339(const char *s, int64_t *epoch_ms_out) __attribute__((warn_unused_result));

/*
 * Write epoch_s as UTC "YYYY-MM-DDTHH:MM:SSZ" into out. Returns 0, or -1 (out set to "") when the
 * year falls outside 0000..9999, which RFC 3339 cannot express.
 */
int     tb_format_rfc3339(int64_t epoch_s, char out[TB_RFC3339_SIZE]);

/* Parse exactly "YYYY-MM-DD" with a real day of that month. 0 on success (outputs set), else -1. */
int     tb_parse_date(const char *s, int *y, int *m, int *d) __attribute__((warn_unused_result));

/* Proleptic Gregorian calendar <-> days since 1970-01-01 (negative before). No range checks. */
int64_t tb_days_from_civil(int64_t y, int m, int d);
void    tb_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Milliseconds: wall clock (CLOCK_REALTIME, for timestamps) and monotonic (CLOCK_MONOTONIC, for
 * durations and timeouts: never goes backwards when the wall clock is stepped). */
int64_t tb_now_ms(void);
int64_t tb_mono_ms(void);

/* Retry delay in seconds: base doubling per attempt after the first (attempt <= 1: base), capped at max,
 * then full jitter over the upper half by u in [0, 1) (out of range or NaN: clamped), so that clients that
 * failed together spread out and none comes back sooner than half the nominal delay. */
double  tb_backoff_s(double base, double max, int attempt, double u);

#endif
