/*
 * ZeroMQ endpoints: documents streamed between per-record stages in
 * zstd-compressed batches, with counted end-of-stream and worker failure
 * handling.
 *
 * Three roles, chosen by where the address appears:
 *
 *   producer  OUTPUT address (binds, ROUTER)   clean docs.jsonl -o tcp://127.0.0.1:5555
 *   worker    INPUT address (connects, DEALER) clean tcp://127.0.0.1:5555 \
 *             and OUTPUT ">ADDRESS" (connects, PUSH)       -o '>tcp://127.0.0.1:5556'
 *   sink      INPUT "@ADDRESS" (binds, PULL)   dedup @tcp://127.0.0.1:5556 -o out/
 *
 * A "@" prefix binds and ">" connects, as in CZMQ; without one an output binds
 * and an input connects. A worker requests a batch when it has read the one
 * before; the producer keeps every batch until the worker that took it
 * acknowledges it, which a worker does after sending the batch's results to
 * the sink. When every batch is out, idle workers receive the end-of-stream
 * counts and forward them to the sink. When a worker's
 * connection drops (the process died) or a batch stays unacknowledged past
 * the lease, the batch goes to another worker. The sink drops repeated
 * results, writes batches in batch order, and finishes only when the
 * end-of-stream message has arrived and every batch up to its count is in,
 * with records in = kept + dropped for each batch and in total.
 */
#ifndef LMPIPE_ENDPOINT_H
#define LMPIPE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns true for "tcp://...", "ipc://..." and "inproc://...", with or
 * without a "@" or ">" prefix. */
bool endpoint_is_address(const char *text);

/* Seconds a batch may stay unacknowledged before it is sent to another worker;
 * LMPIPE_STREAM_LEASE_SECONDS overrides the default of 60. */
double endpoint_lease_seconds(void);

/* Seconds without any message after which a worker or sink gives up;
 * LMPIPE_STREAM_TIMEOUT_SECONDS overrides the default of 300. */
double endpoint_timeout_seconds(void);

typedef struct stream_producer stream_producer_t;

/* Binds (or connects, with ">") a producer. Returns NULL after logging. */
stream_producer_t *stream_producer_open(const char *address);

/*
 * Sends one batch of `records` JSON lines (`length` bytes) to the next worker
 * that requests one, waiting for a request. Returns 0 or -1 after logging.
 */
int stream_producer_send(stream_producer_t *producer, const char *lines, size_t length,
                         uint64_t records);

/*
 * Waits until every batch is acknowledged (resending those of dead workers),
 * then tells every worker that the stream ended with the batch and record
 * counts. Frees the producer. Returns 0, or -1 after logging when no worker
 * took a batch in time.
 */
int stream_producer_finish(stream_producer_t *producer);
void stream_producer_abort(stream_producer_t *producer);

typedef struct stream_input stream_input_t;

/* Opens a worker input (connect) or a sink input ("@", bind). Returns NULL after logging. */
stream_input_t *stream_input_open(const char *address);

/*
 * Receives the next batch: returns 1 with the decompressed JSON lines in
 * *lines (owned by the input until the next call), 0 at the end of the stream
 * (all counts checked), -1 after logging a failure (timeout, count mismatch).
 * A worker input calls `before_ack` and requests the next batch first.
 */
int stream_input_next(stream_input_t *input, char **lines, size_t *length);

/* Acknowledges batch `batch` to the producer (worker input), after its
 * results went to the sink. Returns 0 or -1 after logging. */
int stream_input_ack(stream_input_t *input, uint64_t batch);

/* Batch number of the batch returned last. */
uint64_t stream_input_batch(const stream_input_t *input);

/* Totals of the producer, valid after stream_input_next returned 0. */
void stream_input_totals(const stream_input_t *input, uint64_t *batches, uint64_t *records);

/* Registers the callback a worker input calls before requesting the next batch. */
void stream_input_set_before_ack(stream_input_t *input, int (*before_ack)(void *context),
                                 void *context);
void stream_input_close(stream_input_t *input);

typedef struct stream_output stream_output_t;

/* Opens a worker output (">", connects to a sink). Returns NULL after logging. */
stream_output_t *stream_output_open(const char *address);

/* Sends the results of batch `batch`: the JSON lines kept and the counts. */
int stream_output_end_batch(stream_output_t *output, uint64_t batch, const char *lines,
                            size_t length, uint64_t in, uint64_t kept, uint64_t dropped);

/* Forwards the producer's end-of-stream counts to the sink and frees the output. */
int stream_output_finish(stream_output_t *output, uint64_t batches, uint64_t records);
void stream_output_abort(stream_output_t *output);

#endif
