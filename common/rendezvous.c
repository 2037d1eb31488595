/*
 * The ZeroMQ rendezvous (see rendezvous.h). Rank 0 holds a ROUTER socket,
 * the other ranks a DEALER each. A message is two frames: an 8-byte header
 * (kind, sequence, little-endian 32-bit words) and the data. A socket
 * monitor reports closed connections; rank 0 maps a connection to its rank by
 * the file descriptor its hello arrived on.
 */
#include "rendezvous.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

/* Kinds from 0x100 up belong to the rendezvous; callers use smaller ones. */
enum { KIND_HELLO = 0x100, KIND_WELCOME = 0x101, KIND_ABORT = 0x102 };
enum { POLL_MS = 200 };

typedef struct {
    uint8_t id[256];             /* ROUTER routing id of the peer */
    size_t id_size;
    int fd;                      /* connection the peer's hello came on; -1 unknown */
    int joined;
} peer_t;

struct rendezvous {
    void *context;
    void *socket;
    void *monitor;
    int rank;
    int world_size;
    double heartbeat_seconds;
    peer_t *peers;               /* rank 0: one per rank */
    uint8_t blob[RENDEZVOUS_MAX_BLOB];
    size_t blob_size;
    char address[512];
};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int rendezvous_rank(const rendezvous_t *group)
{
    return group->rank;
}

int rendezvous_world_size(const rendezvous_t *group)
{
    return group->world_size;
}

const void *rendezvous_blob(const rendezvous_t *group, size_t *size)
{
    *size = group->blob_size;
    return group->blob_size ? group->blob : NULL;
}

void rendezvous_message_free(rendezvous_message_t *message)
{
    if (message->frame) {
        zmq_msg_close(message->frame);
        free(message->frame);
    }
    memset(message, 0, sizeof *message);
}

/* Sends header and data to the socket; rank 0 first sends the peer's id. */
static int send_frames(rendezvous_t *g, int peer, uint32_t kind, uint32_t sequence,
                       const void *data, size_t size)
{
    uint8_t header[8];
    put_u32(header, kind);
    put_u32(header + 4, sequence);
    if (g->rank == 0 &&
        zmq_send(g->socket, g->peers[peer].id, g->peers[peer].id_size, ZMQ_SNDMORE) < 0)
        goto fail;
    if (zmq_send(g->socket, header, sizeof header, ZMQ_SNDMORE) < 0 ||
        zmq_send(g->socket, data, size, 0) < 0)
        goto fail;
    return 0;
fail:
    log_error("%s: sending to rank %d failed: %s", g->address, peer, zmq_strerror(zmq_errno()));
    return -1;
}

int rendezvous_send(rendezvous_t *group, int peer, uint32_t kind, uint32_t sequence,
                    const void *data, size_t size)
{
    if (peer < 0 || peer >= group->world_size || peer == group->rank ||
        (group->rank != 0 && peer != 0)) {
        log_error("rank %d cannot send to rank %d: only rank 0 talks to the other ranks",
                  group->rank, peer);
        return -1;
    }
    return send_frames(group, peer, kind, sequence, data, size);
}

/* Returns the rank whose connection used descriptor `fd`, or -1. */
static int rank_of_fd(const rendezvous_t *g, int fd)
{
    for (int r = 1; g->peers && r < g->world_size; r++)
        if (g->peers[r].joined && g->peers[r].fd == fd)
            return r;
    return -1;
}

/* Reads one monitor event; returns the lost rank (0 on workers), or -1
 * when the event concerns no known peer. */
static int read_monitor(rendezvous_t *g)
{
    zmq_msg_t event, address;
    zmq_msg_init(&event);
    zmq_msg_init(&address);
    int lost = -1;
    if (zmq_msg_recv(&event, g->monitor, 0) >= 0 && zmq_msg_more(&event) &&
        zmq_msg_recv(&address, g->monitor, 0) >= 0 && zmq_msg_size(&event) >= 6) {
        const uint8_t *p = zmq_msg_data(&event);
        uint16_t id = (uint16_t)(p[0] | p[1] << 8);
        int fd = (int)get_u32(p + 2);
        if (id == ZMQ_EVENT_DISCONNECTED)
            lost = g->rank == 0 ? rank_of_fd(g, fd) : 0;
    }
    zmq_msg_close(&event);
    zmq_msg_close(&address);
    return lost;
}

/* Receives one message from the ROUTER or DEALER socket into `m`. Returns 0,
 * or -1 for a malformed message (logged). */
static int read_message(rendezvous_t *g, rendezvous_message_t *m)
{
    zmq_msg_t id, header;
    zmq_msg_init(&id);
    zmq_msg_init(&header);
    zmq_msg_t *data = malloc(sizeof *data);
    zmq_msg_init(data);
    int status = -1, fd = -1;
    if (g->rank == 0 && zmq_msg_recv(&id, g->socket, 0) < 0)
        goto done;
    if (zmq_msg_recv(&header, g->socket, 0) < 0 || zmq_msg_size(&header) != 8 ||
        !zmq_msg_more(&header) || zmq_msg_recv(data, g->socket, 0) < 0 || zmq_msg_more(data))
        goto done;
    fd = zmq_msg_get(&header, ZMQ_SRCFD);
    m->kind = get_u32(zmq_msg_data(&header));
    m->sequence = get_u32((uint8_t *)zmq_msg_data(&header) + 4);
    m->data = zmq_msg_data(data);
    m->size = zmq_msg_size(data);
    m->frame = data;
    m->peer = 0;
    if (g->rank == 0) {
        m->peer = -1;
        for (int r = 1; r < g->world_size; r++)
            if (g->peers[r].joined && g->peers[r].id_size == zmq_msg_size(&id) &&
                memcmp(g->peers[r].id, zmq_msg_data(&id), zmq_msg_size(&id)) == 0)
                m->peer = r;
        if (m->peer < 0) {
            /* A hello: keep the id and descriptor in the spare slot 0. */
            size_t n = zmq_msg_size(&id);
            g->peers[0].id_size = n < sizeof g->peers[0].id ? n : sizeof g->peers[0].id;
            memcpy(g->peers[0].id, zmq_msg_data(&id), g->peers[0].id_size);
            g->peers[0].fd = fd;
        }
    }
    status = 0;
done:
    zmq_msg_close(&id);
    zmq_msg_close(&header);
    if (status != 0) {
        log_error("%s: malformed message; are all ranks the same lmpipe version?", g->address);
        zmq_msg_close(data);
        free(data);
        m->frame = NULL;
    }
    return status;
}

/* Waits up to `seconds` (< 0: for ever) for a message. Returns 0, 1 on
 * timeout, or -1 after logging a lost peer. */
static int wait_message(rendezvous_t *g, rendezvous_message_t *m, double seconds)
{
    double deadline = time_now_seconds() + seconds;
    for (;;) {
        zmq_pollitem_t items[2] = {{g->socket, 0, ZMQ_POLLIN, 0}, {g->monitor, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, POLL_MS) < 0) {
            log_error("%s: waiting for messages failed: %s", g->address,
                      zmq_strerror(zmq_errno()));
            return -1;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            memset(m, 0, sizeof *m);
            return read_message(g, m);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            int lost = read_monitor(g);
            if (lost == 0) {
                log_error("rank %d of %d: lost the connection to rank 0 (%s): it ended or "
                          "missed heartbeats for %.0f s",
                          g->rank, g->world_size, g->address, g->heartbeat_seconds);
                return -1;
            }
            if (lost > 0) {
                char reason[256];
                snprintf(reason, sizeof reason,
                         "rank %d of %d was lost: its process ended or missed heartbeats for "
                         "%.0f s",
                         lost, g->world_size, g->heartbeat_seconds);
                log_error("%s", reason);
                g->peers[lost].joined = 0;
                rendezvous_abort(g, reason);
                return -1;
            }
        }
        if (seconds >= 0 && time_now_seconds() > deadline)
            return 1;
    }
}

/* Rank 0: sends rank `r` its rank, the world size and the blob. */
static int send_welcome(rendezvous_t *g, int r)
{
    uint8_t welcome[8 + RENDEZVOUS_MAX_BLOB];
    put_u32(welcome, (uint32_t)r);
    put_u32(welcome + 4, (uint32_t)g->world_size);
    memcpy(welcome + 8, g->blob, g->blob_size);
    return send_frames(g, r, KIND_WELCOME, 0, welcome, 8 + g->blob_size);
}

int rendezvous_recv(rendezvous_t *group, rendezvous_message_t *message)
{
    for (;;) {
        if (wait_message(group, message, -1) != 0)
            return -1;
        if (message->kind == KIND_ABORT) {
            log_error("rank %d of %d: rank 0 stopped the run: %.*s", group->rank,
                      group->world_size, (int)message->size, (const char *)message->data);
            rendezvous_message_free(message);
            return -1;
        }
        if (message->kind == KIND_HELLO && group->rank == 0 && message->peer > 0) {
            /* A repeated hello: the rank may have missed its welcome. */
            int peer = message->peer;
            rendezvous_message_free(message);
            if (send_welcome(group, peer) != 0)
                return -1;
            continue;
        }
        if (message->kind == KIND_WELCOME && group->rank != 0) {
            rendezvous_message_free(message);
            continue;
        }
        if (group->rank == 0 && message->peer < 0) {
            log_error("%s: a process that is not in the group (world size %d) tried to join; "
                      "start each rank once",
                      group->address, group->world_size);
            rendezvous_message_free(message);
            continue;
        }
        return 0;
    }
}

void rendezvous_abort(rendezvous_t *group, const char *reason)
{
    if (group->rank != 0)
        return;
    for (int r = 1; r < group->world_size; r++)
        if (group->peers[r].joined)
            send_frames(group, r, KIND_ABORT, 0, reason, strlen(reason));
}

/* Creates the socket and its monitor, with heartbeats set. */
static int open_socket(rendezvous_t *g, int type)
{
    g->context = zmq_ctx_new();
    g->socket = g->context ? zmq_socket(g->context, type) : NULL;
    if (!g->socket) {
        log_error("%s: cannot create a ZeroMQ socket: %s", g->address, zmq_strerror(zmq_errno()));
        return -1;
    }
    int timeout_ms = (int)(g->heartbeat_seconds * 1000.0);
    int interval_ms = timeout_ms / 4 < 1000 ? timeout_ms / 4 : 1000;
    int linger_ms = 2000;
    /* NOTE: a rank frozen with SIGSTOP was caught by these heartbeats in some
     * runs and missed in others, so a collective can then wait for ever. */
    zmq_setsockopt(g->socket, ZMQ_HEARTBEAT_IVL, &interval_ms, sizeof interval_ms);
    zmq_setsockopt(g->socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(g->socket, ZMQ_HEARTBEAT_TTL, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(g->socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    char name[64];
    snprintf(name, sizeof name, "inproc://rendezvous-monitor-%p", (void *)g);
    if (zmq_socket_monitor(g->socket, name, ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(g->monitor = zmq_socket(g->context, ZMQ_PAIR)) || zmq_connect(g->monitor, name) != 0) {
        log_error("%s: cannot watch the connections: %s", g->address, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* Rank 0: takes hellos until every rank is in, then welcomes them. */
static int gather_group(rendezvous_t *g, double join_seconds)
{
    double deadline = time_now_seconds() + join_seconds;
    int joined = 1, next_free = 1;
    while (joined < g->world_size) {
        rendezvous_message_t m;
        int status = wait_message(g, &m, deadline - time_now_seconds());
        if (status == 1) {
            log_error("%s: only %d of %d ranks joined within %.0f s; start the missing ranks "
                      "with --rendezvous %s",
                      g->address, joined, g->world_size, join_seconds, g->address);
            return -1;
        }
        if (status != 0)
            return -1;
        int requested = m.size == 8 ? (int)get_u32(m.data) : -2;
        int world = m.size == 8 ? (int)get_u32((const uint8_t *)m.data + 4) : 0;
        uint32_t kind = m.kind;
        int known = m.peer > 0;
        rendezvous_message_free(&m);
        if (known && kind == KIND_HELLO)
            continue; /* a joined rank repeats its hello until welcomed */
        if (kind != KIND_HELLO || requested == -2) {
            log_error("%s: expected a hello from a joining rank", g->address);
            return -1;
        }
        if (world != 0 && world != g->world_size) {
            log_error("%s: a rank started with world size %d joined a group of %d; start all "
                      "ranks with the same --world-size",
                      g->address, world, g->world_size);
            return -1;
        }
        if (requested == -1) {
            while (next_free < g->world_size && g->peers[next_free].joined)
                next_free++;
            requested = next_free;
        }
        if (requested < 1 || requested >= g->world_size || g->peers[requested].joined) {
            log_error("%s: rank %d asked to join a group of %d twice or out of range; give "
                      "each process its own --rank from 1 to %d",
                      g->address, requested, g->world_size, g->world_size - 1);
            return -1;
        }
        g->peers[requested] = g->peers[0];
        g->peers[requested].joined = 1;
        joined++;
    }
    for (int r = 1; r < g->world_size; r++)
        if (send_welcome(g, r) != 0)
            return -1;
    return 0;
}

/* Other ranks: say hello and wait for the rank, world size and blob. */
static int join_group(rendezvous_t *g, double join_seconds)
{
    uint8_t hello[8];
    put_u32(hello, (uint32_t)g->rank);
    put_u32(hello + 4, (uint32_t)g->world_size);
    /* The hello is repeated every second because ZeroMQ may drop a message
     * queued before the connection is up; rank 0 ignores the repeats. */
    double deadline = time_now_seconds() + join_seconds;
    rendezvous_message_t m;
    int status = 1;
    while (status == 1 && time_now_seconds() < deadline) {
        if (send_frames(g, 0, KIND_HELLO, 0, hello, sizeof hello) != 0)
            return -1;
        status = wait_message(g, &m, 1.0);
    }
    if (status == 1) {
        log_error("%s: rank 0 did not respond within %.0f s; start rank 0 (it binds the "
                  "address) or check --rendezvous",
                  g->address, join_seconds);
        return -1;
    }
    if (status != 0)
        return -1;
    int ok = m.kind == KIND_WELCOME && m.size >= 8 && m.size - 8 <= RENDEZVOUS_MAX_BLOB;
    if (ok) {
        g->rank = (int)get_u32(m.data);
        g->world_size = (int)get_u32((const uint8_t *)m.data + 4);
        g->blob_size = m.size - 8;
        memcpy(g->blob, (const uint8_t *)m.data + 8, g->blob_size);
    } else if (m.kind == KIND_ABORT) {
        log_error("rank 0 rejected this process: %.*s", (int)m.size, (const char *)m.data);
    } else {
        log_error("%s: expected the rank from rank 0", g->address);
    }
    rendezvous_message_free(&m);
    return ok ? 0 : -1;
}

rendezvous_t *rendezvous_join(const rendezvous_options_t *options)
{
    const char *address = options->address;
    if (!address || (strncmp(address, "tcp://127.0.0.1:", 16) != 0 &&
                     strncmp(address, "ipc://", 6) != 0)) {
        log_error("rendezvous address %s: expected tcp://127.0.0.1:PORT or ipc://PATH",
                  address ? address : "(none)");
        return NULL;
    }
    if (options->rank == 0 &&
        (options->world_size < 1 || options->blob_size > RENDEZVOUS_MAX_BLOB)) {
        log_error("rendezvous: rank 0 needs a world size of at least 1 and a blob of at most "
                  "%d bytes",
                  RENDEZVOUS_MAX_BLOB);
        return NULL;
    }
    rendezvous_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    snprintf(g->address, sizeof g->address, "%s", address);
    g->rank = options->rank;
    g->world_size = options->world_size;
    g->heartbeat_seconds = options->heartbeat_seconds > 0 ? options->heartbeat_seconds : 30.0;
    double join_seconds = options->join_seconds > 0 ? options->join_seconds : 120.0;
    int status = -1;
    if (g->rank == 0) {
        g->peers = calloc((size_t)g->world_size, sizeof *g->peers);
        g->blob_size = options->blob_size;
        if (options->blob_size)
            memcpy(g->blob, options->blob, options->blob_size);
        if (!g->peers || open_socket(g, ZMQ_ROUTER) != 0)
            goto done;
        if (zmq_bind(g->socket, address) != 0) {
            log_error("%s: rank 0 cannot bind: %s; pick a free port", address,
                      zmq_strerror(zmq_errno()));
            goto done;
        }
        status = gather_group(g, join_seconds);
    } else {
        if (open_socket(g, ZMQ_DEALER) != 0)
            goto done;
        if (zmq_connect(g->socket, address) != 0) {
            log_error("%s: cannot connect: %s", address, zmq_strerror(zmq_errno()));
            goto done;
        }
        status = join_group(g, join_seconds);
    }
done:
    if (status != 0) {
        rendezvous_close(g);
        return NULL;
    }
    return g;
}

void rendezvous_close(rendezvous_t *group)
{
    if (!group)
        return;
    /* The monitor stops while its reader is still open: ZeroMQ's send of an
     * event to a PAIR socket with no peer would block for ever. */
    if (group->socket)
        zmq_socket_monitor(group->socket, NULL, 0);
    if (group->monitor)
        zmq_close(group->monitor);
    if (group->socket)
        zmq_close(group->socket);
    if (group->context)
        zmq_ctx_term(group->context);
    free(group->peers);
    free(group);
}
