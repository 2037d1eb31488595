/*
 * ZeroMQ document streams (see endpoint.h). Batch and count fields travel as
 * 8-byte little-endian frames after a frame naming the message type.
 */
#include "endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include <zstd.h>

#include "log.h"

#define MAX_IDENTITY 256
#define ZSTD_LEVEL 3

static void *context;
static int open_sockets;

/* Returns the process's ZeroMQ context, created on first use. */
static void *shared_context(void)
{
    if (!context)
        context = zmq_ctx_new();
    return context;
}

/* Closes a socket; closing the last one terminates the context, which is what
 * delivers queued messages within each socket's linger time before exit. */
static void close_socket(void *socket)
{
    zmq_close(socket);
    if (--open_sockets == 0 && context) {
        zmq_ctx_term(context);
        context = NULL;
    }
}

bool endpoint_is_address(const char *text)
{
    if (text[0] == '@' || text[0] == '>')
        text++;
    return strncmp(text, "tcp://", 6) == 0 || strncmp(text, "ipc://", 6) == 0 ||
           strncmp(text, "inproc://", 9) == 0;
}

static double seconds_from_environment(const char *name, double fallback)
{
    const char *text = getenv(name);
    char *end;
    double value = text ? strtod(text, &end) : 0;
    return text && *end == '\0' && value > 0 ? value : fallback;
}

double endpoint_lease_seconds(void)
{
    return seconds_from_environment("LMPIPE_STREAM_LEASE_SECONDS", 60);
}

double endpoint_timeout_seconds(void)
{
    return seconds_from_environment("LMPIPE_STREAM_TIMEOUT_SECONDS", 300);
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Opens a socket of `type` and binds or connects it: "@" binds, ">" connects,
 * otherwise `bind_by_default` decides. Returns NULL after logging. */
static void *open_socket(int type, const char *address, bool bind_by_default)
{
    bool bind = bind_by_default;
    if (address[0] == '@' || address[0] == '>') {
        bind = address[0] == '@';
        address++;
    }
    void *socket = zmq_socket(shared_context(), type);
    if (!socket) {
        log_error("%s: zmq_socket failed: %s", address, zmq_strerror(zmq_errno()));
        return NULL;
    }
    open_sockets++;
    int status = bind ? zmq_bind(socket, address) : zmq_connect(socket, address);
    if (status != 0) {
        log_error("%s: zmq_%s failed: %s; check the address and that the port is free",
                  address, bind ? "bind" : "connect", zmq_strerror(zmq_errno()));
        close_socket(socket);
        return NULL;
    }
    log_debug("%s: %s", address, bind ? "bound" : "connected");
    return socket;
}

static void put_u64(unsigned char out[8], uint64_t value)
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t get_u64(const zmq_msg_t *frame)
{
    const unsigned char *data = zmq_msg_data((zmq_msg_t *)frame);
    uint64_t value = 0;
    if (zmq_msg_size((zmq_msg_t *)frame) != 8)
        return UINT64_MAX;
    for (int i = 7; i >= 0; i--)
        value = (value << 8) | data[i];
    return value;
}

/* Sends frames; every frame but the last gets ZMQ_SNDMORE. Returns 0 or -1. */
static int send_frames(void *socket, const void *const *data, const size_t *sizes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (zmq_send(socket, data[i], sizes[i], i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

/* Receives every frame of one message into `frames` (up to `max`). Returns the count or -1. */
static int receive_frames(void *socket, zmq_msg_t *frames, int max, int *source_fd)
{
    int count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, 0) < 0) {
            zmq_msg_close(&frame);
            for (int i = 0; i < count; i++)
                zmq_msg_close(&frames[i]);
            return -1;
        }
        more = zmq_msg_more(&frame);
        /* The routing frame is made locally and has no descriptor; later frames do. */
        int fd = source_fd ? zmq_msg_get(&frame, ZMQ_SRCFD) : -1;
        if (fd >= 0)
            *source_fd = fd;
        if (count < max)
            frames[count++] = frame;
        else
            zmq_msg_close(&frame);
    }
    return count;
}

static void close_frames(zmq_msg_t *frames, int count)
{
    for (int i = 0; i < count; i++)
        zmq_msg_close(&frames[i]);
}

static bool frame_is(const zmq_msg_t *frame, const char *type)
{
    size_t length = strlen(type);
    return zmq_msg_size((zmq_msg_t *)frame) == length &&
           memcmp(zmq_msg_data((zmq_msg_t *)frame), type, length) == 0;
}

/* Returns a malloc'ed zstd frame of `data`, or NULL after logging. */
static void *compress_lines(const char *data, size_t length, size_t *compressed_length)
{
    size_t bound = ZSTD_compressBound(length);
    void *compressed = malloc(bound ? bound : 1);
    if (!compressed)
        return NULL;
    size_t size = ZSTD_compress(compressed, bound, data, length, ZSTD_LEVEL);
    if (ZSTD_isError(size)) {
        log_error("zstd compression of a batch failed: %s", ZSTD_getErrorName(size));
        free(compressed);
        return NULL;
    }
    *compressed_length = size;
    return compressed;
}

/* Decompresses a batch into *out (grown as needed). Returns 0 or -1 after logging. */
static int decompress_lines(const zmq_msg_t *frame, char **out, size_t *capacity,
                            size_t *length, const char *address)
{
    const void *data = zmq_msg_data((zmq_msg_t *)frame);
    size_t size = zmq_msg_size((zmq_msg_t *)frame);
    unsigned long long content = ZSTD_getFrameContentSize(data, size);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN) {
        log_error("%s: a batch is not a complete zstd frame", address);
        return -1;
    }
    if (content + 1 > *capacity) {
        char *grown = realloc(*out, content + 1);
        if (!grown)
            return -1;
        *out = grown;
        *capacity = content + 1;
    }
    size_t got = ZSTD_decompress(*out, content, data, size);
    if (ZSTD_isError(got)) {
        log_error("%s: a batch failed to decompress: %s", address, ZSTD_getErrorName(got));
        return -1;
    }
    (*out)[got] = '\0';
    *length = got;
    return 0;
}

/* --- producer ---------------------------------------------------------------------------- */

typedef enum { BATCH_QUEUED, BATCH_SENT, BATCH_ACKED } batch_state_t;

typedef struct {
    void *data;                 /* zstd frame; freed once acknowledged */
    size_t size;
    uint64_t records;
    batch_state_t state;
    unsigned char worker[MAX_IDENTITY];
    size_t worker_size;
    int worker_fd;
    double sent_at;
    int attempts;
} batch_t;

typedef struct {
    unsigned char identity[MAX_IDENTITY];
    size_t size;
    int fd;
    bool ready;                 /* requested a batch and has none */
    bool gone;                  /* its connection dropped */
    bool ended;                 /* was told that the stream ended */
} worker_t;

struct stream_producer {
    char *address;
    bool finishing;             /* every batch is created; idle workers get END */
    void *socket;
    void *monitor;
    batch_t *batches;
    size_t batch_count;
    uint64_t record_count;
    uint64_t acked;
    worker_t *workers;
    size_t worker_count;
};

static worker_t *find_worker(stream_producer_t *producer, const void *identity, size_t size)
{
    for (size_t i = 0; i < producer->worker_count; i++)
        if (producer->workers[i].size == size &&
            memcmp(producer->workers[i].identity, identity, size) == 0)
            return &producer->workers[i];
    worker_t *grown = realloc(producer->workers, (producer->worker_count + 1) * sizeof *grown);
    if (!grown || size > MAX_IDENTITY)
        return NULL;
    producer->workers = grown;
    worker_t *worker = &producer->workers[producer->worker_count++];
    memset(worker, 0, sizeof *worker);
    memcpy(worker->identity, identity, size);
    worker->size = size;
    log_info("%s: worker %zu connected", producer->address, producer->worker_count);
    return worker;
}

stream_producer_t *stream_producer_open(const char *address)
{
    stream_producer_t *producer = calloc(1, sizeof *producer);
    if (!producer)
        return NULL;
    producer->address = strdup(address);
    producer->socket = open_socket(ZMQ_ROUTER, address, true);
    if (!producer->socket) {
        free(producer->address);
        free(producer);
        return NULL;
    }
    /* The monitor reports dropped connections, so a killed worker's batch is
     * sent again at once instead of after the lease. */
    char monitor_address[64];
    snprintf(monitor_address, sizeof monitor_address, "inproc://producer-monitor-%p",
             (void *)producer);
    zmq_socket_monitor(producer->socket, monitor_address, ZMQ_EVENT_DISCONNECTED);
    producer->monitor = zmq_socket(shared_context(), ZMQ_PAIR);
    if (producer->monitor) {
        open_sockets++;
        zmq_connect(producer->monitor, monitor_address);
    }
    int linger = 5000;
    zmq_setsockopt(producer->socket, ZMQ_LINGER, &linger, sizeof linger);
    return producer;
}

/* Puts the batches of a worker back in the queue. */
static void requeue_worker_batches(stream_producer_t *producer, int fd, const worker_t *worker,
                                   const char *why)
{
    for (size_t i = 0; i < producer->batch_count; i++) {
        batch_t *batch = &producer->batches[i];
        bool mine = worker ? batch->worker_size == worker->size &&
                                 memcmp(batch->worker, worker->identity, worker->size) == 0
                           : batch->worker_fd == fd;
        if (batch->state != BATCH_SENT || !mine)
            continue;
        batch->state = BATCH_QUEUED;
        log_warn("%s: batch %zu goes to another worker: %s", producer->address, i, why);
    }
}

static bool has_message(void *socket)
{
    int events = 0;
    size_t size = sizeof events;
    return zmq_getsockopt(socket, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN);
}

static void handle_disconnect(stream_producer_t *producer)
{
    zmq_msg_t frames[2];
    int count = receive_frames(producer->monitor, frames, 2, NULL);
    if (count < 1)
        return;
    const unsigned char *event = zmq_msg_data(&frames[0]);
    int fd = 0;
    memcpy(&fd, event + 2, sizeof fd);
    close_frames(frames, count);
    log_debug("%s: a connection dropped (descriptor %d)", producer->address, fd);
    for (size_t i = 0; i < producer->worker_count; i++)
        if (producer->workers[i].fd == fd && !producer->workers[i].gone) {
            producer->workers[i].gone = true;
            producer->workers[i].ready = false;
            log_warn("%s: worker %zu disconnected", producer->address, i + 1);
        }
    requeue_worker_batches(producer, fd, NULL, "its worker disconnected before acknowledging it");
}

static void handle_request(stream_producer_t *producer)
{
    zmq_msg_t frames[4];
    int fd = -1;
    int count = receive_frames(producer->socket, frames, 4, &fd);
    if (count < 2) {
        close_frames(frames, count > 0 ? count : 0);
        return;
    }
    worker_t *worker = find_worker(producer, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]));
    /* A request that was queued before its worker's connection dropped is ignored:
     * a reconnecting worker process has a new identity. */
    if (worker && !worker->gone) {
        if (worker->fd != fd)
            log_debug("%s: a worker sends from descriptor %d", producer->address, fd);
        worker->fd = fd;
        if (frame_is(&frames[1], "READY"))
            worker->ready = true;
    }
    if (frame_is(&frames[1], "ACK") && count >= 3) {
        uint64_t index = get_u64(&frames[2]);
        if (index < producer->batch_count && producer->batches[index].state != BATCH_ACKED) {
            producer->batches[index].state = BATCH_ACKED;
            free(producer->batches[index].data);
            producer->batches[index].data = NULL;
            producer->acked++;
        }
    }
    close_frames(frames, count);
}

/* Tells each idle worker that no batch is left, so it can finish the batches
 * it holds. A batch requeued later goes to a worker that has not ended yet. */
static void send_end_to_idle_workers(stream_producer_t *producer)
{
    for (size_t i = 0; i < producer->batch_count; i++)
        if (producer->batches[i].state == BATCH_QUEUED)
            return;
    unsigned char batches[8], records[8];
    put_u64(batches, producer->batch_count);
    put_u64(records, producer->record_count);
    for (size_t w = 0; w < producer->worker_count; w++) {
        worker_t *worker = &producer->workers[w];
        if (!worker->ready || worker->gone || worker->ended)
            continue;
        const void *data[] = {worker->identity, "END", batches, records};
        size_t sizes[] = {worker->size, 3, 8, 8};
        if (send_frames(producer->socket, data, sizes, 4) == 0) {
            worker->ended = true;
            worker->ready = false;
        }
    }
}

/* Sends queued batches to ready workers. Returns -1 when a send failed. */
static int dispatch(stream_producer_t *producer)
{
    for (size_t i = 0; i < producer->batch_count; i++) {
        batch_t *batch = &producer->batches[i];
        if (batch->state != BATCH_QUEUED)
            continue;
        worker_t *worker = NULL;
        for (size_t w = 0; w < producer->worker_count && !worker; w++)
            if (producer->workers[w].ready && !producer->workers[w].gone)
                worker = &producer->workers[w];
        if (!worker)
            return 0;
        unsigned char index[8], records[8];
        put_u64(index, i);
        put_u64(records, batch->records);
        const void *data[] = {worker->identity, "BATCH", index, records, batch->data};
        size_t sizes[] = {worker->size, 5, 8, 8, batch->size};
        if (send_frames(producer->socket, data, sizes, 5) != 0) {
            log_error("%s: sending batch %zu failed: %s", producer->address, i,
                      zmq_strerror(zmq_errno()));
            return -1;
        }
        worker->ready = false;
        batch->state = BATCH_SENT;
        memcpy(batch->worker, worker->identity, worker->size);
        batch->worker_size = worker->size;
        batch->worker_fd = worker->fd;
        batch->sent_at = now_seconds();
        batch->attempts++;
    }
    if (producer->finishing)
        send_end_to_idle_workers(producer);
    return 0;
}

/* Handles messages for up to `milliseconds`, then dispatches and checks leases. */
static int service(stream_producer_t *producer, long milliseconds)
{
    zmq_pollitem_t items[] = {
        {producer->socket, 0, ZMQ_POLLIN, 0},
        {producer->monitor, 0, ZMQ_POLLIN, 0},
    };
    int ready = zmq_poll(items, producer->monitor ? 2 : 1, milliseconds);
    if (ready < 0 && zmq_errno() != EINTR) {
        log_error("%s: zmq_poll failed: %s", producer->address, zmq_strerror(zmq_errno()));
        return -1;
    }
    /* Requests first: a worker's last messages arrive before its connection drops,
     * so its batches are known when the disconnect event is handled. */
    while (has_message(producer->socket))
        handle_request(producer);
    while (producer->monitor && has_message(producer->monitor))
        handle_disconnect(producer);

    double lease = endpoint_lease_seconds();
    double now = now_seconds();
    for (size_t i = 0; i < producer->batch_count; i++) {
        batch_t *batch = &producer->batches[i];
        if (batch->state == BATCH_SENT && now - batch->sent_at > lease) {
            batch->state = BATCH_QUEUED;
            log_warn("%s: batch %zu was not acknowledged within %.0f s; it goes to another "
                     "worker", producer->address, i, lease);
        }
    }
    return dispatch(producer);
}

/* Services the socket until `done` holds, failing when nothing moves for the timeout. */
static int service_until(stream_producer_t *producer, bool (*done)(const stream_producer_t *))
{
    double timeout = endpoint_timeout_seconds();
    double last_progress = now_seconds();
    uint64_t last_acked = producer->acked;
    size_t last_sent = 0;
    while (!done(producer)) {
        if (service(producer, 100) != 0)
            return -1;
        size_t sent = 0;
        for (size_t i = 0; i < producer->batch_count; i++)
            sent += producer->batches[i].attempts;
        if (producer->acked != last_acked || sent != last_sent) {
            last_progress = now_seconds();
            last_acked = producer->acked;
            last_sent = sent;
        } else if (now_seconds() - last_progress > timeout) {
            log_error("%s: no worker took or acknowledged a batch for %.0f s (%llu of %zu "
                      "batches acknowledged); start workers with this address as their "
                      "input, or rerun: batches of workers that died cannot be recovered "
                      "when no other worker is left", producer->address, timeout,
                      (unsigned long long)producer->acked, producer->batch_count);
            return -1;
        }
    }
    return 0;
}

static bool nothing_queued(const stream_producer_t *producer)
{
    for (size_t i = 0; i < producer->batch_count; i++)
        if (producer->batches[i].state == BATCH_QUEUED)
            return false;
    return true;
}

static bool all_acked(const stream_producer_t *producer)
{
    return producer->acked == producer->batch_count;
}

int stream_producer_send(stream_producer_t *producer, const char *lines, size_t length,
                         uint64_t records)
{
    batch_t *grown = realloc(producer->batches, (producer->batch_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    producer->batches = grown;
    batch_t *batch = &producer->batches[producer->batch_count];
    memset(batch, 0, sizeof *batch);
    batch->data = compress_lines(lines, length, &batch->size);
    if (!batch->data)
        return -1;
    batch->records = records;
    producer->batch_count++;
    producer->record_count += records;
    return service_until(producer, nothing_queued);
}

static void producer_free(stream_producer_t *producer)
{
    for (size_t i = 0; i < producer->batch_count; i++)
        free(producer->batches[i].data);
    free(producer->batches);
    free(producer->workers);
    zmq_socket_monitor(producer->socket, NULL, 0);
    if (producer->monitor)
        close_socket(producer->monitor);
    close_socket(producer->socket);
    free(producer->address);
    free(producer);
}

int stream_producer_finish(stream_producer_t *producer)
{
    producer->finishing = true;
    int status = service_until(producer, all_acked);
    if (status == 0) {
        /* Workers that are still waiting learn that the stream ended. */
        for (int round = 0; round < 5; round++)
            if (service(producer, 20) != 0)
                break;
        log_info("%s: stream complete: %zu batches, %llu records, %zu workers",
                 producer->address, producer->batch_count,
                 (unsigned long long)producer->record_count, producer->worker_count);
    }
    producer_free(producer);
    return status;
}

void stream_producer_abort(stream_producer_t *producer)
{
    if (!producer)
        return;
    int linger = 0;
    zmq_setsockopt(producer->socket, ZMQ_LINGER, &linger, sizeof linger);
    producer_free(producer);
}

/* --- inputs ------------------------------------------------------------------------------ */

typedef struct {
    zmq_msg_t payload;
    uint64_t in, kept, dropped;
    bool present;
} result_t;

struct stream_input {
    char *address;
    void *socket;
    bool sink;
    char *lines;
    size_t capacity;
    uint64_t batch;             /* the batch returned last */
    bool holding_batch;         /* a worker has a batch to acknowledge */
    bool ended;
    uint64_t total_batches, total_records;
    result_t *results;          /* sink: results by batch number */
    size_t result_capacity;
    uint64_t next_batch;        /* sink: the next batch to return */
    uint64_t records_in;        /* sink: records in over the batches returned */
    int (*before_ack)(void *context);
    void *context;
};

stream_input_t *stream_input_open(const char *address)
{
    stream_input_t *input = calloc(1, sizeof *input);
    if (!input)
        return NULL;
    input->address = strdup(address);
    input->sink = address[0] == '@';
    input->socket = open_socket(input->sink ? ZMQ_PULL : ZMQ_DEALER, address, false);
    if (!input->socket) {
        free(input->address);
        free(input);
        return NULL;
    }
    int linger = 5000;
    zmq_setsockopt(input->socket, ZMQ_LINGER, &linger, sizeof linger);
    if (!input->sink && zmq_send(input->socket, "READY", 5, 0) < 0) {
        log_error("%s: sending the first request failed: %s", address,
                  zmq_strerror(zmq_errno()));
        stream_input_close(input);
        return NULL;
    }
    return input;
}

void stream_input_set_before_ack(stream_input_t *input, int (*before_ack)(void *context),
                                 void *context)
{
    input->before_ack = before_ack;
    input->context = context;
}

/* Waits up to the timeout for a message. Returns the frame count or -1 after logging. */
static int receive_with_timeout(stream_input_t *input, zmq_msg_t *frames, int max)
{
    zmq_pollitem_t item = {input->socket, 0, ZMQ_POLLIN, 0};
    double timeout = endpoint_timeout_seconds();
    double start = now_seconds();
    while (now_seconds() - start < timeout) {
        int ready = zmq_poll(&item, 1, 200);
        if (ready < 0 && zmq_errno() != EINTR)
            break;
        if (ready > 0)
            return receive_frames(input->socket, frames, max, NULL);
    }
    log_error("%s: no message for %.0f s; the %s did not finish (received %llu batches)",
              input->address, timeout, input->sink ? "workers" : "producer",
              (unsigned long long)(input->sink ? input->next_batch : input->batch));
    return -1;
}

static int worker_next(stream_input_t *input, char **lines, size_t *length)
{
    if (input->holding_batch) {
        if (input->before_ack && input->before_ack(input->context) != 0)
            return -1;
        if (zmq_send(input->socket, "READY", 5, 0) < 0) {
            log_error("%s: requesting the batch after %llu failed: %s", input->address,
                      (unsigned long long)input->batch, zmq_strerror(zmq_errno()));
            return -1;
        }
        input->holding_batch = false;
    }
    zmq_msg_t frames[4];
    int count = receive_with_timeout(input, frames, 4);
    if (count < 0)
        return -1;
    int status = -1;
    if (count == 4 && frame_is(&frames[0], "BATCH")) {
        input->batch = get_u64(&frames[1]);
        if (decompress_lines(&frames[3], &input->lines, &input->capacity, length,
                             input->address) == 0) {
            *lines = input->lines;
            input->holding_batch = true;
            status = 1;
        }
    } else if (count == 3 && frame_is(&frames[0], "END")) {
        input->total_batches = get_u64(&frames[1]);
        input->total_records = get_u64(&frames[2]);
        input->ended = true;
        status = 0;
    } else {
        log_error("%s: unexpected message of %d frames from the producer", input->address, count);
    }
    close_frames(frames, count);
    return status;
}

/* Stores one RESULT message; repeated results of a batch are dropped. Returns 0 or -1. */
static int store_result(stream_input_t *input, zmq_msg_t *frames)
{
    uint64_t batch = get_u64(&frames[1]);
    uint64_t in = get_u64(&frames[2]), kept = get_u64(&frames[3]), dropped = get_u64(&frames[4]);
    if (in != kept + dropped) {
        log_error("%s: batch %llu reports %llu records in but %llu kept + %llu dropped; a worker "
                  "lost records", input->address, (unsigned long long)batch,
                  (unsigned long long)in, (unsigned long long)kept, (unsigned long long)dropped);
        return -1;
    }
    if (batch < input->next_batch || (batch < input->result_capacity &&
                                      input->results[batch].present)) {
        log_info("%s: repeated results of batch %llu dropped", input->address,
                 (unsigned long long)batch);
        return 0;
    }
    if (batch >= input->result_capacity) {
        size_t capacity = input->result_capacity ? input->result_capacity : 64;
        while (capacity <= batch)
            capacity *= 2;
        result_t *grown = realloc(input->results, capacity * sizeof *grown);
        if (!grown)
            return -1;
        memset(grown + input->result_capacity, 0,
               (capacity - input->result_capacity) * sizeof *grown);
        input->results = grown;
        input->result_capacity = capacity;
    }
    result_t *result = &input->results[batch];
    zmq_msg_init(&result->payload);
    zmq_msg_move(&result->payload, &frames[5]);
    result->in = in;
    result->kept = kept;
    result->dropped = dropped;
    result->present = true;
    return 0;
}

static int sink_next(stream_input_t *input, char **lines, size_t *length)
{
    for (;;) {
        uint64_t next = input->next_batch;
        if (next < input->result_capacity && input->results[next].present) {
            result_t *result = &input->results[next];
            int status = decompress_lines(&result->payload, &input->lines, &input->capacity,
                                          length, input->address);
            zmq_msg_close(&result->payload);
            result->present = false;
            if (status != 0)
                return -1;
            input->records_in += result->in;
            input->batch = next;
            input->next_batch++;
            *lines = input->lines;
            return 1;
        }
        if (input->ended && next >= input->total_batches) {
            if (input->records_in != input->total_records) {
                log_error("%s: the producer sent %llu records but the workers report %llu in; "
                          "records were lost", input->address,
                          (unsigned long long)input->total_records,
                          (unsigned long long)input->records_in);
                return -1;
            }
            log_info("%s: stream complete: %llu batches, %llu records in", input->address,
                     (unsigned long long)input->total_batches,
                     (unsigned long long)input->total_records);
            return 0;
        }
        zmq_msg_t frames[6];
        int count = receive_with_timeout(input, frames, 6);
        if (count < 0)
            return -1;
        int status = 0;
        if (count == 6 && frame_is(&frames[0], "RESULT")) {
            status = store_result(input, frames);
        } else if (count == 3 && frame_is(&frames[0], "END")) {
            input->total_batches = get_u64(&frames[1]);
            input->total_records = get_u64(&frames[2]);
            input->ended = true;
        } else {
            log_error("%s: unexpected message of %d frames from a worker", input->address, count);
            status = -1;
        }
        close_frames(frames, count);
        if (status != 0)
            return -1;
    }
}

int stream_input_next(stream_input_t *input, char **lines, size_t *length)
{
    return input->sink ? sink_next(input, lines, length) : worker_next(input, lines, length);
}

int stream_input_ack(stream_input_t *input, uint64_t batch)
{
    unsigned char index[8];
    put_u64(index, batch);
    const void *data[] = {"ACK", index};
    size_t sizes[] = {3, 8};
    if (send_frames(input->socket, data, sizes, 2) != 0) {
        log_error("%s: acknowledging batch %llu failed: %s", input->address,
                  (unsigned long long)batch, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

uint64_t stream_input_batch(const stream_input_t *input)
{
    return input->batch;
}

void stream_input_totals(const stream_input_t *input, uint64_t *batches, uint64_t *records)
{
    *batches = input->total_batches;
    *records = input->total_records;
}

void stream_input_close(stream_input_t *input)
{
    if (!input)
        return;
    for (size_t i = 0; i < input->result_capacity; i++)
        if (input->results[i].present)
            zmq_msg_close(&input->results[i].payload);
    free(input->results);
    free(input->lines);
    close_socket(input->socket);
    free(input->address);
    free(input);
}

/* --- worker output ----------------------------------------------------------------------- */

struct stream_output {
    char *address;
    void *socket;
};

stream_output_t *stream_output_open(const char *address)
{
    stream_output_t *output = calloc(1, sizeof *output);
    if (!output)
        return NULL;
    output->address = strdup(address);
    output->socket = open_socket(ZMQ_PUSH, address, true);
    if (!output->socket) {
        free(output->address);
        free(output);
        return NULL;
    }
    /* Results still queued when the worker ends are delivered before it exits. */
    int linger = (int)(endpoint_timeout_seconds() * 1000);
    zmq_setsockopt(output->socket, ZMQ_LINGER, &linger, sizeof linger);
    return output;
}

int stream_output_end_batch(stream_output_t *output, uint64_t batch, const char *lines,
                            size_t length, uint64_t in, uint64_t kept, uint64_t dropped)
{
    size_t size;
    void *compressed = compress_lines(lines, length, &size);
    if (!compressed)
        return -1;
    unsigned char fields[4][8];
    put_u64(fields[0], batch);
    put_u64(fields[1], in);
    put_u64(fields[2], kept);
    put_u64(fields[3], dropped);
    const void *data[] = {"RESULT", fields[0], fields[1], fields[2], fields[3], compressed};
    size_t sizes[] = {6, 8, 8, 8, 8, size};
    int status = send_frames(output->socket, data, sizes, 6);
    if (status != 0)
        log_error("%s: sending the results of batch %llu failed: %s", output->address,
                  (unsigned long long)batch, zmq_strerror(zmq_errno()));
    free(compressed);
    return status;
}

static void output_free(stream_output_t *output)
{
    close_socket(output->socket);
    free(output->address);
    free(output);
}

int stream_output_finish(stream_output_t *output, uint64_t batches, uint64_t records)
{
    unsigned char fields[2][8];
    put_u64(fields[0], batches);
    put_u64(fields[1], records);
    const void *data[] = {"END", fields[0], fields[1]};
    size_t sizes[] = {3, 8, 8};
    int status = send_frames(output->socket, data, sizes, 3);
    if (status != 0)
        log_error("%s: sending the end of the stream failed: %s", output->address,
                  zmq_strerror(zmq_errno()));
    output_free(output);
    return status;
}

void stream_output_abort(stream_output_t *output)
{
    if (!output)
        return;
    int linger = 0;
    zmq_setsockopt(output->socket, ZMQ_LINGER, &linger, sizeof linger);
    output_free(output);
}
