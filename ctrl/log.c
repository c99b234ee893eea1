/* log.c - rate-limited key=value logging for the control plane. */
#include "ctrl/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define SLOTS 64

static int level = FNL_LOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* per call site (format string): last second printed and how many were held back */
static struct {
	const char *fmt;
	time_t sec;
	unsigned printed, dropped;
} seen[SLOTS];

void fnl_log_set_level(int l)
{
	level = l;
}

int fnl_log_level(void)
{
	return level;
}

void fnl_log(int l, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	if (l > level)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&lock);
	unsigned slot = (unsigned)(((unsigned long)fmt >> 3) % SLOTS);
	unsigned dropped = 0;
	if (seen[slot].fmt == fmt && seen[slot].sec == ts.tv_sec) {
		if (++seen[slot].printed > 5) {
			seen[slot].dropped++;
			pthread_mutex_unlock(&lock);
			return;
		}
	} else {
		dropped = seen[slot].fmt == fmt ? seen[slot].dropped : 0;
		seen[slot].fmt = fmt;
		seen[slot].sec = ts.tv_sec;
		seen[slot].printed = 1;
		seen[slot].dropped = 0;
	}
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		names[l & 3]);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (dropped)
		fprintf(stderr, " suppressed=%u", dropped);
	fputc('\n', stderr);
	pthread_mutex_unlock(&lock);
}
