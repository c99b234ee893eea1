/* apiver.h - one ApiVersions answer -> the version table, or a retry.
 *
 * A broker that does not support the ApiVersions version we sent answers
 * error 35 (UNSUPPORTED_VERSION). Kafka sends a v0 body listing its range;
 * some peers (librdkafka 2.0.2's mock cluster) send a body that decodes as
 * neither v0 nor the version asked for. So: the error code is read from the
 * body's first two bytes, and the retry goes to the highest ApiVersions
 * version the body lists, or to v0, which every broker accepts.
 * Shared by the control plane's client and the data plane's connections.
 */
#ifndef FNL_CORE_APIVER_H
#define FNL_CORE_APIVER_H

#include <errno.h>

#include "dataplane/kafka/proto.h"

enum { FNL_APIVER_READY = 0, FNL_APIVER_RETRY = 1 };

/* The ApiVersions version a new connection asks with first: our highest. */
static inline int16_t fnl_apiver_first(void)
{
	int16_t lo, hi;
	return fnl_api_ours(FNL_API_API_VERSIONS, &lo, &hi) == 0 ? hi : 0;
}

/* Returns FNL_APIVER_READY (ranges filled), FNL_APIVER_RETRY (*retry_ver set,
 * lower than ver), -EPROTO (the broker answered another error),
 * -EPROTONOSUPPORT (no lower version left) or -EBADMSG. */
static inline int fnl_apiver_answer(const uint8_t *body, size_t n, int16_t ver,
				    struct fnl_api_range *r, int max, int *nr, int16_t *retry_ver)
{
	int16_t err = 0;
	*nr = 0;
	int rc = fnl_dec_api_versions(body, n, ver, r, max, nr, &err);
	if (rc < 0) {
		if (n < 2)
			return -EBADMSG;
		err = (int16_t)((uint16_t)body[0] << 8 | body[1]);
		*nr = 0;
	}
	if (err == FNL_PROTO_ERR_UNSUPPORTED_VERSION) {
		int16_t v = *nr ? fnl_api_pick(r, *nr, FNL_API_API_VERSIONS) : 0;
		if (v < 0 || v >= ver)
			v = ver > 0 ? 0 : -1;
		if (v < 0)
			return -EPROTONOSUPPORT;
		*retry_ver = v;
		return FNL_APIVER_RETRY;
	}
	if (rc < 0)
		return -EBADMSG;
	return err ? -EPROTO : FNL_APIVER_READY;
}

#endif
