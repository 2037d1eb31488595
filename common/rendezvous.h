/*
 * The rendezvous of a group of worker processes over ZeroMQ.
 *
 * Rank 0 binds an address (tcp://HOST:PORT or ipc://PATH); every other
 * process connects to it and requests a rank (or -1 to be assigned one
 * in order of arrival). When all world_size ranks are in, rank 0 sends each
 * its rank, the world size and an opaque blob (on GPUs the NCCL unique id).
 * After that the group exchanges messages in a star: rank 0 talks to every
 * rank, the others talk only to rank 0.
 *
 * A lost peer stops the group. A killed process closes its connection, which
 * the others see at once. A frozen process (stopped with SIGSTOP, hung, or
 * cut off) stops sending heartbeats: a thread in every process pings rank 0
 * each interval and rank 0's thread replies, so a peer silent for
 * heartbeat_seconds is lost even while its owner computes. The check runs
 * whenever a process waits for a message, so it stops a collective within
 * the timeout plus 0.2 s. Rank 0 names the lost rank with its pid, host and
 * last completed step, and tells the remaining ranks why the run stops.
 */
#ifndef LMPIPE_RENDEZVOUS_H
#define LMPIPE_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#define RENDEZVOUS_MAX_BLOB 4096

typedef struct rendezvous rendezvous_t;

typedef struct {
    const char *address;         /* tcp://HOST:PORT or ipc://PATH */
    int rank;                    /* 0 binds; -1 lets rank 0 assign one */
    int world_size;              /* needed by rank 0; 0 elsewhere takes rank 0's */
    double join_seconds;         /* how long to wait for the group; 0: 120 s */
    double heartbeat_seconds;    /* silence after which a peer is lost; 0: 60 s */
    const void *blob;            /* rank 0 only: sent to every rank */
    size_t blob_size;            /* at most RENDEZVOUS_MAX_BLOB */
} rendezvous_options_t;

/* One message received from a peer; free with rendezvous_message_free. */
typedef struct {
    int peer;
    uint32_t kind;
    uint32_t sequence;
    const void *data;
    size_t size;
    void *frame;                 /* the ZeroMQ message that holds data */
} rendezvous_message_t;

/*
 * Joins the group described by `options`: rank 0 binds and waits for the
 * others, the others connect and wait for their rank. Gives up after
 * join_seconds. Returns NULL after logging.
 */
rendezvous_t *rendezvous_join(const rendezvous_options_t *options);

int rendezvous_rank(const rendezvous_t *group);
int rendezvous_world_size(const rendezvous_t *group);

/* The blob rank 0 sent (NULL with *size 0 when there is none). */
const void *rendezvous_blob(const rendezvous_t *group, size_t *size);

/*
 * Sends `size` bytes to `peer` (rank 0 to any rank, the others only to 0),
 * tagged with `kind` and `sequence`. Returns 0, or -1 after logging.
 */
int rendezvous_send(rendezvous_t *group, int peer, uint32_t kind, uint32_t sequence,
                    const void *data, size_t size);

/*
 * Waits for the next message from any peer. Returns 0, or -1 after logging
 * when a peer is lost or rank 0 stopped the group; the message then names
 * the rank.
 */
int rendezvous_recv(rendezvous_t *group, rendezvous_message_t *message);

void rendezvous_message_free(rendezvous_message_t *message);

/*
 * Records this process's last completed step, which the message about a
 * lost peer names (the ranks step in lockstep). Thread-safe and cheap.
 */
void rendezvous_set_step(rendezvous_t *group, int64_t step);

/*
 * Rank 0: sends every remaining rank a stop message with `reason`.
 * Elsewhere does nothing (rank 0 sees the connection close).
 */
void rendezvous_abort(rendezvous_t *group, const char *reason);

void rendezvous_close(rendezvous_t *group);

#endif
