/* log.h - control-plane logging: one line per event, level + key=value
 * fields, to stderr. Never called on the per-record path. Repeated messages
 * (same format string) within a second are counted, not printed, and the
 * count is reported with the next line that gets through.
 */
#ifndef FNL_CTRL_LOG_H
#define FNL_CTRL_LOG_H

enum { FNL_LOG_ERROR = 0, FNL_LOG_WARN, FNL_LOG_INFO, FNL_LOG_DEBUG };

void fnl_log_set_level(int level);
int fnl_log_level(void);
/* fmt should be "msg key=value ..." */
void fnl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fnl_err(...)   fnl_log(FNL_LOG_ERROR, __VA_ARGS__)
#define fnl_warn(...)  fnl_log(FNL_LOG_WARN, __VA_ARGS__)
#define fnl_info(...)  fnl_log(FNL_LOG_INFO, __VA_ARGS__)
#define fnl_debug(...) fnl_log(FNL_LOG_DEBUG, __VA_ARGS__)

#endif
