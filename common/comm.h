/*
 * Collectives of a group of worker processes: rank, world size, all-reduce,
 * reduce-scatter, all-gather, broadcast and barrier, the interface
 * data-parallel training uses.
 *
 * This is the CPU implementation: the ranks meet through a rendezvous
 * (rendezvous.h) and exchange buffers over ZeroMQ in a star around rank 0.
 * Rank 0 adds the contributions in rank order and sends the same bytes to
 * every rank, so all ranks hold bit-identical results and a rerun gives the
 * same sums. A world of one (comm_single) needs no sockets and returns the
 * buffers unchanged. Every call is collective: all ranks make the same calls
 * in the same order.
 */
#ifndef LMPIPE_COMM_H
#define LMPIPE_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "rendezvous.h"

typedef enum { COMM_FLOAT32, COMM_FLOAT64 } comm_dtype_t;
typedef enum { COMM_SUM, COMM_AVERAGE } comm_op_t;

typedef struct comm comm_t;

/* A world of one rank. Returns NULL only when out of memory. */
comm_t *comm_single(void);

/* Takes over a joined rendezvous (closed by comm_close). Returns NULL when
 * `group` is NULL (a failed rendezvous_join, already logged) or after logging
 * when out of memory; it never turns a failed join into a world of one. */
comm_t *comm_from_rendezvous(rendezvous_t *group);

int comm_rank(const comm_t *comm);
int comm_world_size(const comm_t *comm);

/*
 * Replaces buf[0..count) on every rank by the sum (or the average) over the
 * ranks of their buffers. Returns 0, or -1 after logging when a peer is lost
 * or the ranks disagree on the count.
 */
int comm_all_reduce(comm_t *comm, void *buf, size_t count, comm_dtype_t dtype, comm_op_t op);

/*
 * Reduces `send` (world_size * count elements on every rank) like
 * comm_all_reduce and stores in `recv` (count elements) rank R's part, the
 * elements [R * count, (R + 1) * count). Returns 0, or -1 after logging.
 */
int comm_reduce_scatter(comm_t *comm, const void *send, void *recv, size_t count,
                        comm_dtype_t dtype, comm_op_t op);

/*
 * Concatenates every rank's `size` bytes of `send` in rank order into `recv`
 * (world_size * size bytes) on every rank. Returns 0, or -1 after logging.
 */
int comm_all_gather(comm_t *comm, const void *send, void *recv, size_t size);

/* Copies `size` bytes of rank `root`'s buffer into every rank's. Returns 0
 * or -1 after logging. */
int comm_broadcast(comm_t *comm, void *buf, size_t size, int root);

/* Returns when every rank has called it: 0, or -1 after logging. */
int comm_barrier(comm_t *comm);

/* Records the last completed step, which an error about a lost rank names
 * (see rendezvous_set_step). Does nothing in a world of one. */
void comm_set_step(comm_t *comm, int64_t step);

/* Rank 0: sends every other rank a stop message with `reason`. */
void comm_abort(comm_t *comm, const char *reason);

void comm_close(comm_t *comm);

#endif
