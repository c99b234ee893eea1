/* config.h - funneld settings: Java producer property names, funnel.* extensions.
 *
 * Layout: one flat struct fnl_config, filled in three steps that each
 * validate at the boundary:
 *
 *   fnl_config_defaults()  every key at its default (Java's where it exists)
 *   fnl_config_load_file() "key=value" lines, '#'/'!' comments, blank lines
 *   fnl_config_set()       one -X key=value override (later wins)
 *   fnl_config_finish()    cross-key rules (idempotence vs acks/retries/in-flight)
 *
 * Invariants: every key is declared once in the table in config.c with its
 * type, bounds and allowed values; an unknown key or a bad value is refused
 * with a message that names the key, the value and what is allowed; a
 * struct that passed fnl_config_finish() is consistent and is never changed
 * by the data plane.
 */
#ifndef FNL_CTRL_CONFIG_H
#define FNL_CTRL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNL_CONFIG_STR_MAX  256
#define FNL_CONFIG_MSG_MAX  512
#define FNL_CONFIG_CORES_MAX 16
#define FNL_CONFIG_IDS_MAX  32
#define FNL_CONFIG_PEM_MAX  16384 /* ssl.ca.pem: one or more PEM certificates */

/* security.protocol */
enum fnl_sec_proto { FNL_SEC_PLAINTEXT = 0, FNL_SEC_SSL, FNL_SEC_SASL_PLAINTEXT, FNL_SEC_SASL_SSL };
/* sasl.mechanism; FNL_SASL_NONE when unset */
enum fnl_sasl_mech {
	FNL_SASL_NONE = 0,
	FNL_SASL_PLAIN,
	FNL_SASL_SCRAM_SHA_256,
	FNL_SASL_SCRAM_SHA_512,
	FNL_SASL_OAUTHBEARER
};

static inline bool fnl_sec_tls(int p)
{
	return p == FNL_SEC_SSL || p == FNL_SEC_SASL_SSL;
}
static inline bool fnl_sec_sasl(int p)
{
	return p == FNL_SEC_SASL_PLAINTEXT || p == FNL_SEC_SASL_SSL;
}

struct fnl_config {
	/* Java producer settings */
	char bootstrap_servers[FNL_CONFIG_STR_MAX];
	int acks; /* -1 (all), 0, 1 */
	bool enable_idempotence;
	int max_in_flight;
	int retries;
	int retry_backoff_ms;
	int delivery_timeout_ms;
	int request_timeout_ms;
	int linger_ms;
	int batch_size;
	int64_t buffer_memory;
	int max_block_ms;
	int max_request_size;
	int compression_type; /* enum fnl_codec */
	int compression_zstd_level;
	int compression_gzip_level;
	int compression_lz4_level;
	int metadata_max_age_ms;
	char client_id[FNL_CONFIG_STR_MAX];
	bool partitioner_ignore_keys;
	/* funnel.* extensions */
	char socket_path[FNL_CONFIG_STR_MAX];
	int cores[FNL_CONFIG_CORES_MAX]; /* CPUs for data-plane threads; -1 = not pinned */
	int cores_n;
	int ctrl_core;
	int64_t ring_bytes_max;
	int clients_max;
	int topics_max;
	int client_topics_max; /* new topic names one client may create; 0 = topics_max / 4 */
	int partitions_max;
	bool round_robin; /* funnel.partitioner=round_robin (legacy), else uniform sticky */
	char metrics_listen[FNL_CONFIG_STR_MAX];
	uint32_t allowed_uids[FNL_CONFIG_IDS_MAX];
	int allowed_uids_n;
	uint32_t allowed_gids[FNL_CONFIG_IDS_MAX];
	int allowed_gids_n;
	bool uring_sqpoll;
	int uring_rx_buffers;      /* provided receive buffers (a power of two) */
	int uring_rx_buffer_bytes; /* bytes each */
	bool uring_rx_direct;      /* plain recv per connection instead */
	/* the egress (issue 16): funnel.egress=uring (default) or dpdk, and DPDK's settings */
	int egress;                            /* enum fnl_egress (dataplane/net/engine.h) */
	char dpdk_eal_args[FNL_CONFIG_STR_MAX]; /* funnel.dpdk.eal.args */
	char dpdk_ip[FNL_CONFIG_STR_MAX], dpdk_netmask[FNL_CONFIG_STR_MAX];
	char dpdk_gateway[FNL_CONFIG_STR_MAX]; /* "" = brokers on the subnet only */
	int dpdk_mtu;
	char dpdk_addr_map[FNL_CONFIG_STR_MAX]; /* FROM=TO: advertised address -> reachable one */
	int log_level; /* 0 error .. 3 debug */
	int shutdown_timeout_ms;
	int idle_nap_us; /* light load: wait this long in io_uring instead of spinning; 0 = spin */
	char state_dir[FNL_CONFIG_STR_MAX];
	bool journal;
	int restart_wait_ms;
	/* security (librdkafka / Java names); secrets print as [redacted] in dumps */
	int security_protocol; /* enum fnl_sec_proto */
	char ssl_ca_location[FNL_CONFIG_STR_MAX];   /* file or directory; "" = system store */
	char ssl_ca_pem[FNL_CONFIG_PEM_MAX];        /* PEM text ("\\n" escapes allowed) */
	char ssl_certificate_location[FNL_CONFIG_STR_MAX]; /* client certificate (mTLS) */
	char ssl_key_location[FNL_CONFIG_STR_MAX];
	char ssl_key_password[FNL_CONFIG_STR_MAX]; /* secret */
	bool ssl_verify;                           /* enable.ssl.certificate.verification */
	bool ssl_verify_host;                      /* ssl.endpoint.identification.algorithm=https */
	int sasl_mechanism;                        /* enum fnl_sasl_mech */
	char sasl_username[FNL_CONFIG_STR_MAX];
	char sasl_password[FNL_CONFIG_STR_MAX];      /* secret */
	char sasl_password_file[FNL_CONFIG_STR_MAX]; /* funnel.sasl.password.file */
	char sasl_token_file[FNL_CONFIG_STR_MAX];    /* funnel.sasl.oauthbearer.token.file */
	bool sasl_unsecure_jwt;                      /* enable.sasl.oauthbearer.unsecure.jwt */
	char sasl_oauthbearer_config[FNL_CONFIG_STR_MAX]; /* principal=NAME [lifeSeconds=N] */
	int ssl_ktls; /* funnel.ssl.ktls: enum fnl_ktls_mode (auto, off, required) */
	/* Test only: send this transactional id with InitProducerId and Produce so that a
	 * broker which checks sequences only for transactional producers (librdkafka's mock
	 * cluster) checks them. A real broker refuses Produce with a transactional id
	 * outside a transaction: never set this in production. */
	char test_txn_id[FNL_CONFIG_STR_MAX];
	/* transactions (ctrl/txnd.c) */
	char txn_id[FNL_CONFIG_STR_MAX]; /* transactional.id; "" = none */
	int txn_timeout_ms;              /* transaction.timeout.ms */
	int64_t txn_window_bytes;        /* funnel.txn.window.bytes */
	char txn_trace[FNL_CONFIG_STR_MAX]; /* funnel.test.txn.trace: "" = none */
	int txn_min_commits; /* funnel.test.txn.window.min.commits: 0 = none */
	/* Test only: a compression worker (funnel.cores[1..]) holds each batch this many
	 * microseconds after compressing it, so that the restart tests' SIGKILLs find
	 * batches with the workers. */
	int test_compress_delay_us;
};

void fnl_config_defaults(struct fnl_config *c);
/* Returns 0, or -EINVAL/-ENOENT with a message in msg naming the key/line. */
int fnl_config_set(struct fnl_config *c, const char *key, const char *value, char *msg, size_t msg_len);
/* "key=value" as given to -X */
int fnl_config_set_kv(struct fnl_config *c, const char *kv, char *msg, size_t msg_len);
int fnl_config_load_file(struct fnl_config *c, const char *path, char *msg, size_t msg_len);
int fnl_config_finish(struct fnl_config *c, char *msg, size_t msg_len);
/* Writes "key=value\n" lines of the effective settings; returns bytes that would be written. */
size_t fnl_config_dump(const struct fnl_config *c, char *out, size_t cap);
/* Names of the enums, as accepted by fnl_config_set (upper case). */
const char *fnl_sec_proto_name(int p);
const char *fnl_sasl_mech_name(int m);

#define FNL_REDACTED "[redacted]"

#endif
