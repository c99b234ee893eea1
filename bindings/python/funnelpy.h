/* funnelpy.h - what the files of the Python module `funnel` share: the
 * KafkaError and Message types (errors.c, message.c) and the exception
 * helpers. Everything here is hidden in the extension (gnu_symbol_visibility). */
#ifndef FUNNELPY_H
#define FUNNELPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

/* librdkafka's local error codes, so that code written for confluent_kafka
 * that compares codes keeps working. */
enum {
	ERR__FAIL = -196,
	ERR__TRANSPORT = -195,
	ERR__MSG_TIMED_OUT = -192,
	ERR__UNKNOWN_TOPIC = -188,
	ERR__INVALID_ARG = -186,
	ERR__TIMED_OUT = -185,
	ERR__QUEUE_FULL = -184,
	ERR__STATE = -172,
	ERR__FATAL = -150,
	ERR_MSG_SIZE_TOO_LARGE = 10,
};

extern PyObject *KafkaException;
extern PyTypeObject KafkaErrorType, MessageType;

typedef struct {
	PyObject_HEAD PyObject *topic, *key, *value, *headers, *error;
	int32_t partition;
	int64_t offset, timestamp;
} Message;

/* A new KafkaError (reason: a str or NULL for the default text). */
PyObject *kafka_error_new(int code, PyObject *reason);
/* Raise KafkaException(KafkaError(code, printf text)); return NULL. */
PyObject *raise_kafka(int code, const char *fmt, ...);
/* A libfunnel -errno as the exception confluent_kafka would raise; NULL. */
PyObject *raise_errno(int rc, const char *what, int max_block_ms);
/* A failed fnl_txn_* call (its class from libfunnel) as KafkaException; NULL. */
struct fnl_client;
PyObject *raise_txn(struct fnl_client *c, int rc, const char *what);
/* KafkaError's class constants (KafkaError._TRANSPORT, ...). */
int add_error_consts(void);

#endif
