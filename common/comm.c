/*
 * The CPU collectives over the rendezvous (see comm.h). Each collective
 * carries a sequence number, so ranks that lose step with each other fail
 * with a message instead of mixing buffers.
 */
#include "comm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum { KIND_REDUCE = 1, KIND_RESULT = 2, KIND_BROADCAST = 3, KIND_GATHER = 4 };

struct comm {
    rendezvous_t *group;         /* NULL for a world of one */
    uint32_t sequence;
};

comm_t *comm_single(void)
{
    return calloc(1, sizeof(comm_t));
}

comm_t *comm_from_rendezvous(rendezvous_t *group)
{
    /* A failed join must not turn into a world of one, whose collectives
     * succeed without the peers. */
    if (!group)
        return NULL;
    comm_t *comm = calloc(1, sizeof *comm);
    if (!comm) {
        rendezvous_close(group);
        return NULL;
    }
    comm->group = group;
    return comm;
}

int comm_rank(const comm_t *comm)
{
    return comm->group ? rendezvous_rank(comm->group) : 0;
}

int comm_world_size(const comm_t *comm)
{
    return comm->group ? rendezvous_world_size(comm->group) : 1;
}

static size_t dtype_size(comm_dtype_t dtype)
{
    return dtype == COMM_FLOAT64 ? sizeof(double) : sizeof(float);
}

/* Receives the next message and checks it is `kind` of this collective with
 * `size` bytes. */
static int expect(comm_t *comm, rendezvous_message_t *m, uint32_t kind, size_t size)
{
    if (rendezvous_recv(comm->group, m) != 0)
        return -1;
    if (m->kind != kind || m->sequence != comm->sequence || m->size != size) {
        log_error("rank %d: rank %d sent collective %u (kind %u, %zu bytes) where collective "
                  "%u (kind %u, %zu bytes) was due; all ranks must make the same calls",
                  comm_rank(comm), m->peer, m->sequence, m->kind, m->size, comm->sequence,
                  kind, size);
        rendezvous_message_free(m);
        return -1;
    }
    return 0;
}

/* Adds src into dst, count elements of dtype. src points into a received
 * message, whose payload need not be aligned, so it is read through memcpy
 * (a plain unaligned load on x86-64). */
static void add_into(void *dst, const void *src, size_t count, comm_dtype_t dtype)
{
    const unsigned char *bytes = src;
    if (dtype == COMM_FLOAT64) {
        double *d = dst;
        for (size_t i = 0; i < count; i++) {
            double value;
            memcpy(&value, bytes + i * sizeof value, sizeof value);
            d[i] += value;
        }
    } else {
        float *d = dst;
        for (size_t i = 0; i < count; i++) {
            float value;
            memcpy(&value, bytes + i * sizeof value, sizeof value);
            d[i] += value;
        }
    }
}

static void scale(void *buf, size_t count, comm_dtype_t dtype, double factor)
{
    if (dtype == COMM_FLOAT64) {
        double *d = buf;
        for (size_t i = 0; i < count; i++)
            d[i] *= factor;
    } else {
        float *d = buf;
        for (size_t i = 0; i < count; i++)
            d[i] *= (float)factor;
    }
}

/* Rank 0: collects every rank's buffer, then adds them in rank order. */
static int reduce_at_root(comm_t *comm, void *buf, size_t count, comm_dtype_t dtype)
{
    int world = comm_world_size(comm), status = 0;
    size_t size = count * dtype_size(dtype);
    rendezvous_message_t *parts = calloc((size_t)world, sizeof *parts);
    if (!parts)
        return -1;
    for (int received = 1; received < world && status == 0; received++) {
        rendezvous_message_t m;
        if (expect(comm, &m, KIND_REDUCE, size) != 0) {
            status = -1;
        } else if (parts[m.peer].frame) {
            log_error("rank 0: rank %d sent collective %u twice", m.peer, comm->sequence);
            rendezvous_message_free(&m);
            status = -1;
        } else {
            parts[m.peer] = m;
        }
    }
    for (int r = 1; r < world && status == 0; r++)
        add_into(buf, parts[r].data, count, dtype);
    for (int r = 1; r < world; r++)
        if (parts[r].frame)
            rendezvous_message_free(&parts[r]);
    free(parts);
    return status;
}

int comm_all_reduce(comm_t *comm, void *buf, size_t count, comm_dtype_t dtype, comm_op_t op)
{
    int world = comm_world_size(comm);
    if (world == 1)
        return 0;
    comm->sequence++;
    size_t size = count * dtype_size(dtype);
    if (comm_rank(comm) == 0) {
        if (reduce_at_root(comm, buf, count, dtype) != 0)
            return -1;
        if (op == COMM_AVERAGE)
            scale(buf, count, dtype, 1.0 / world);
        for (int r = 1; r < world; r++)
            if (rendezvous_send(comm->group, r, KIND_RESULT, comm->sequence, buf, size) != 0)
                return -1;
        return 0;
    }
    if (rendezvous_send(comm->group, 0, KIND_REDUCE, comm->sequence, buf, size) != 0)
        return -1;
    rendezvous_message_t m;
    if (expect(comm, &m, KIND_RESULT, size) != 0)
        return -1;
    memcpy(buf, m.data, size);
    rendezvous_message_free(&m);
    return 0;
}

int comm_reduce_scatter(comm_t *comm, const void *send, void *recv, size_t count,
                        comm_dtype_t dtype, comm_op_t op)
{
    int world = comm_world_size(comm);
    size_t part = count * dtype_size(dtype);
    /* NOTE: the star moves the whole buffer back to every rank; a ring would
     * move only each rank's part. */
    void *all = malloc(part * (size_t)world);
    if (!all) {
        log_error("rank %d: out of memory for a reduce-scatter of %zu bytes", comm_rank(comm),
                  part * (size_t)world);
        return -1;
    }
    memcpy(all, send, part * (size_t)world);
    int status = comm_all_reduce(comm, all, count * (size_t)world, dtype, op);
    if (status == 0)
        memcpy(recv, (const char *)all + part * (size_t)comm_rank(comm), part);
    free(all);
    return status;
}

int comm_all_gather(comm_t *comm, const void *send, void *recv, size_t size)
{
    int world = comm_world_size(comm), rank = comm_rank(comm);
    memmove((char *)recv + size * (size_t)rank, send, size);
    if (world == 1)
        return 0;
    comm->sequence++;
    size_t total = size * (size_t)world;
    rendezvous_message_t m;
    if (rank != 0) {
        if (rendezvous_send(comm->group, 0, KIND_GATHER, comm->sequence, send, size) != 0 ||
            expect(comm, &m, KIND_RESULT, total) != 0)
            return -1;
        memcpy(recv, m.data, total);
        rendezvous_message_free(&m);
        return 0;
    }
    for (int received = 1; received < world; received++) {
        if (expect(comm, &m, KIND_GATHER, size) != 0)
            return -1;
        memcpy((char *)recv + size * (size_t)m.peer, m.data, size);
        rendezvous_message_free(&m);
    }
    for (int r = 1; r < world; r++)
        if (rendezvous_send(comm->group, r, KIND_RESULT, comm->sequence, recv, total) != 0)
            return -1;
    return 0;
}

int comm_broadcast(comm_t *comm, void *buf, size_t size, int root)
{
    int world = comm_world_size(comm), rank = comm_rank(comm);
    if (world == 1)
        return 0;
    if (root < 0 || root >= world) {
        log_error("invalid broadcast root %d: the group has ranks 0 to %d", root, world - 1);
        return -1;
    }
    comm->sequence++;
    rendezvous_message_t m;
    if (rank == 0) {
        /* Another root sends to rank 0 first, which relays. */
        if (root != 0) {
            if (expect(comm, &m, KIND_BROADCAST, size) != 0)
                return -1;
            memcpy(buf, m.data, size);
            rendezvous_message_free(&m);
        }
        for (int r = 1; r < world; r++)
            if (r != root &&
                rendezvous_send(comm->group, r, KIND_RESULT, comm->sequence, buf, size) != 0)
                return -1;
        return 0;
    }
    if (rank == root)
        return rendezvous_send(comm->group, 0, KIND_BROADCAST, comm->sequence, buf, size);
    if (expect(comm, &m, KIND_RESULT, size) != 0)
        return -1;
    memcpy(buf, m.data, size);
    rendezvous_message_free(&m);
    return 0;
}

int comm_barrier(comm_t *comm)
{
    float nothing = 0.0f;
    return comm_all_reduce(comm, &nothing, 1, COMM_FLOAT32, COMM_SUM);
}

void comm_set_step(comm_t *comm, int64_t step)
{
    if (comm->group)
        rendezvous_set_step(comm->group, step);
}

void comm_abort(comm_t *comm, const char *reason)
{
    if (comm->group)
        rendezvous_abort(comm->group, reason);
}

void comm_close(comm_t *comm)
{
    if (!comm)
        return;
    rendezvous_close(comm->group);
    free(comm);
}
