/* test_errtab.c - every row of the error table against an independently
 * written expectation (code, name, Produce/Metadata/InitProducerId classes,
 * retriable, refresh).
 */
#include <limits.h>

#include "check.h"
#include "dataplane/producer/errtab.h"

enum {
	OK = FNL_ERR_OK,
	RT = FNL_ERR_RETRY,
	RR = FNL_ERR_RETRY_REFRESH,
	FB = FNL_ERR_FAIL_BATCH,
	FA = FNL_ERR_FATAL,
	DU = FNL_ERR_DUPLICATE,
	OO = FNL_ERR_OUT_OF_ORDER,
	UP = FNL_ERR_UNKNOWN_PID,
	BE = FNL_ERR_BUMP_EPOCH
};

struct expect {
	int code;
	const char *name;
	int produce, metadata, init_pid;
	int retriable, refresh;
};

/* Written from the Kafka protocol error list and the Java client's handling. Codes not listed
 * here must be non-retriable: Produce FB, Metadata FB, InitProducerId FA. */
static const struct expect special[] = {
    {-1, "UNKNOWN_SERVER_ERROR", FB, FB, FA, 0, 0},
    {0, "NONE", OK, OK, OK, 0, 0},
    {2, "CORRUPT_MESSAGE", RT, RT, RT, 1, 0},
    {3, "UNKNOWN_TOPIC_OR_PARTITION", RR, RT, RR, 1, 1},
    {5, "LEADER_NOT_AVAILABLE", RR, RT, RR, 1, 1},
    {6, "NOT_LEADER_OR_FOLLOWER", RR, RT, RR, 1, 1},
    {7, "REQUEST_TIMED_OUT", RT, RT, RT, 1, 0},
    {9, "REPLICA_NOT_AVAILABLE", RR, OK, RR, 1, 1},
    {10, "MESSAGE_TOO_LARGE", FB, FB, FA, 0, 0},
    {13, "NETWORK_EXCEPTION", RR, RT, RR, 1, 1},
    {14, "COORDINATOR_LOAD_IN_PROGRESS", RT, RT, RT, 1, 0},
    {15, "COORDINATOR_NOT_AVAILABLE", RT, RT, RR, 1, 0},
    {16, "NOT_COORDINATOR", RT, RT, RR, 1, 0},
    {18, "RECORD_LIST_TOO_LARGE", FB, FB, FA, 0, 0},
    {19, "NOT_ENOUGH_REPLICAS", RT, RT, RT, 1, 0},
    {20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", RT, RT, RT, 1, 0},
    {21, "INVALID_REQUIRED_ACKS", FB, FB, FA, 0, 0},
    {29, "TOPIC_AUTHORIZATION_FAILED", FB, FB, FA, 0, 0},
    {31, "CLUSTER_AUTHORIZATION_FAILED", FA, FA, FA, 0, 0},
    {32, "INVALID_TIMESTAMP", FB, FB, FA, 0, 0},
    {35, "UNSUPPORTED_VERSION", FA, FA, FA, 0, 0},
    {41, "NOT_CONTROLLER", RT, RT, RT, 1, 0},
    {43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", FB, FB, FA, 0, 0},
    {45, "OUT_OF_ORDER_SEQUENCE_NUMBER", OO, FB, FA, 0, 0},
    {46, "DUPLICATE_SEQUENCE_NUMBER", DU, FB, FA, 0, 0},
    {47, "INVALID_PRODUCER_EPOCH", BE, FB, UP, 0, 0},
    {48, "INVALID_TXN_STATE", FB, FB, FA, 0, 0},
    {51, "CONCURRENT_TRANSACTIONS", RT, RT, RT, 1, 0},
    {52, "TRANSACTION_COORDINATOR_FENCED", FA, FB, FA, 0, 0},
    {53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", FA, FB, FA, 0, 0},
    {56, "KAFKA_STORAGE_ERROR", RR, RT, RR, 1, 1},
    {59, "UNKNOWN_PRODUCER_ID", UP, FB, UP, 0, 0},
    {70, "FETCH_SESSION_ID_NOT_FOUND", RT, RT, RT, 1, 0},
    {71, "INVALID_FETCH_SESSION_EPOCH", RT, RT, RT, 1, 0},
    {72, "LISTENER_NOT_FOUND", RR, RT, RR, 1, 1},
    {74, "FENCED_LEADER_EPOCH", RR, RT, RR, 1, 1},
    {75, "UNKNOWN_LEADER_EPOCH", RT, RT, RT, 1, 0},
    {76, "UNSUPPORTED_COMPRESSION_TYPE", FB, FB, FA, 0, 0},
    {78, "OFFSET_NOT_AVAILABLE", RT, RT, RT, 1, 0},
    {80, "PREFERRED_LEADER_NOT_AVAILABLE", RR, RT, RR, 1, 1},
    {87, "INVALID_RECORD", FB, FB, FA, 0, 0},
    {88, "UNSTABLE_OFFSET_COMMIT", RT, RT, RT, 1, 0},
    {89, "THROTTLING_QUOTA_EXCEEDED", RT, RT, RT, 1, 0},
    {90, "PRODUCER_FENCED", FA, FB, FA, 0, 0},
    {100, "UNKNOWN_TOPIC_ID", RR, RT, RR, 1, 1},
    {103, "INCONSISTENT_TOPIC_ID", RR, RT, RR, 1, 1},
    {106, "FETCH_SESSION_TOPIC_ID_ERROR", RT, RT, RT, 1, 0},
    {120, "TRANSACTION_ABORTABLE", FB, FB, FA, 0, 0},
    {122, "SHARE_SESSION_NOT_FOUND", RT, RT, RT, 1, 0},
    {123, "INVALID_SHARE_SESSION_EPOCH", RT, RT, RT, 1, 0},
    {129, "REBOOTSTRAP_REQUIRED", FB, FB, FA, 0, 1},
};

static const struct expect *find_special(int code)
{
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (special[i].code == code)
			return &special[i];
	return NULL;
}

static void check_row(const struct fnl_err_info *r)
{
	static const struct expect plain = {0, NULL, FB, FB, FA, 0, 0};
	const struct expect *e = find_special(r->code);

	if (e == NULL)
		e = &plain;
	else
		CHECK(strcmp(r->name, e->name) == 0);
	if ((int)r->produce_class != e->produce || (int)r->metadata_class != e->metadata ||
	    (int)r->init_pid_class != e->init_pid || r->retriable != e->retriable ||
	    r->refresh_metadata != e->refresh)
		fprintf(stderr, "row %d %s: %s/%s/%s r%d f%d\n", r->code, r->name,
		        fnl_err_class_name(r->produce_class), fnl_err_class_name(r->metadata_class),
		        fnl_err_class_name(r->init_pid_class), r->retriable, r->refresh_metadata);
	CHECK_EQ(r->produce_class, e->produce);
	CHECK_EQ(r->metadata_class, e->metadata);
	CHECK_EQ(r->init_pid_class, e->init_pid);
	CHECK_EQ(r->retriable, e->retriable);
	CHECK_EQ(r->refresh_metadata, e->refresh);
	/* The accessors agree with the row. */
	CHECK(fnl_err_lookup(r->code) == r);
	CHECK(strcmp(fnl_err_name(r->code), r->name) == 0);
	CHECK_EQ(fnl_err_class_produce(r->code), r->produce_class);
	CHECK_EQ(fnl_err_class_metadata(r->code), r->metadata_class);
	CHECK_EQ(fnl_err_class_init_pid(r->code), r->init_pid_class);
	/* Retriable rows never fail a batch; refresh implies retriable except REBOOTSTRAP. */
	if (r->retriable)
		CHECK(r->produce_class == FNL_ERR_RETRY ||
		      r->produce_class == FNL_ERR_RETRY_REFRESH);
	if (r->produce_class == FNL_ERR_RETRY_REFRESH)
		CHECK(r->refresh_metadata);
}

int main(void)
{
	size_t n;
	const struct fnl_err_info *rows = fnl_err_rows(&n);

	CHECK_EQ(n, FNL_ERR_CODE_MAX + 2);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(rows[i].code, (int)i - 1);
		CHECK(rows[i].name != NULL && rows[i].name[0] != '\0');
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(rows[i].name, rows[j].name) != 0);
		check_row(&rows[i]);
	}
	/* Every special expectation names a real row. */
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		CHECK(fnl_err_lookup((int16_t)special[i].code)->code == special[i].code);
	/* Out of range: the generic row. */
	const int16_t outside[] = {-2, FNL_ERR_CODE_MAX + 1, 1000, INT16_MAX, INT16_MIN};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		const struct fnl_err_info *g = fnl_err_lookup(outside[i]);
		CHECK(g != NULL);
		CHECK(strcmp(g->name, "UNKNOWN") == 0);
		CHECK_EQ(fnl_err_class_produce(outside[i]), FNL_ERR_FAIL_BATCH);
		CHECK_EQ(fnl_err_class_metadata(outside[i]), FNL_ERR_FAIL_BATCH);
		CHECK_EQ(fnl_err_class_init_pid(outside[i]), FNL_ERR_FATAL);
		CHECK(!g->retriable);
	}
	/* Named constants match the table. */
	CHECK(strcmp(fnl_err_name(FNL_KERR_NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER") == 0);
	CHECK(strcmp(fnl_err_name(FNL_KERR_UNKNOWN_PRODUCER_ID), "UNKNOWN_PRODUCER_ID") == 0);
	CHECK(strcmp(fnl_err_name(FNL_KERR_PRODUCER_FENCED), "PRODUCER_FENCED") == 0);
	CHECK(strcmp(fnl_err_name(FNL_KERR_INVALID_RECORD), "INVALID_RECORD") == 0);
	CHECK(strcmp(fnl_err_class_name(FNL_ERR_BUMP_EPOCH), "BUMP_EPOCH") == 0);
	printf("errtab: %zu rows ok\n", n);
	return 0;
}
