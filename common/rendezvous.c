/*
 * The ZeroMQ rendezvous (see rendezvous.h). Rank 0 holds a ROUTER socket,
 * the other ranks a DEALER each. A message is two frames: an 8-byte header
 * (kind, sequence, little-endian 32-bit words) and the data. A socket
 * monitor reports closed connections; rank 0 maps a connection to its rank by
 * the file descriptor its hello arrived on.
 *
 * Heartbeats run on a second socket pair owned by one thread per process:
 * every other rank sends rank 0 a ping each interval and rank 0 replies to
 * each ping with a pong. The thread runs
 * while the caller computes, so only a process that is stopped, hung in the
 * kernel or cut off falls silent. The caller's thread checks the times of the
 * last pings and pongs while it waits for a message.
 */
#include "rendezvous.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

/* Kinds from 0x100 up belong to the rendezvous; callers use smaller ones. */
enum { KIND_HELLO = 0x100, KIND_WELCOME = 0x101, KIND_ABORT = 0x102 };
enum { POLL_MS = 200, HOST_SIZE = 64, ENDPOINT_SIZE = 256 };
/* hello: rank, world size, pid (32-bit words), host name */
enum { HELLO_SIZE = 12 + HOST_SIZE };
/* welcome: rank, world size, rank 0's pid, its host name, heartbeat endpoint, blob */
enum { WELCOME_HEADER = 12 + HOST_SIZE + ENDPOINT_SIZE };
/* ping and pong: the sender's rank */
enum { BEAT_SIZE = 4 };

typedef struct {
    uint8_t id[256];             /* ROUTER routing id of the peer */
    size_t id_size;
    int fd;                      /* connection the peer's hello came on; -1 unknown */
    int joined;
    int pid;
    char host[HOST_SIZE];
    double last_beat;            /* time of its last ping (pong on rank 0's entry) */
} peer_t;

/* The heartbeat thread and the state it shares with the caller's thread. */
typedef struct {
    pthread_t thread;
    pthread_mutex_t lock;        /* guards stop, step and the peers' beat fields */
    int started;
    int stop;
    void *socket;                /* rank 0: ROUTER; others: DEALER; used by the thread only */
    double interval_seconds;
    char endpoint[ENDPOINT_SIZE];
} heartbeat_t;

struct rendezvous {
    void *context;
    void *socket;
    void *monitor;
    int rank;
    int world_size;
    double heartbeat_seconds;
    peer_t *peers;               /* one per rank; other ranks fill only rank 0's entry */
    int64_t step;                /* this process's last completed step; -1: none yet */
    heartbeat_t beat;
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

/* Rank 0's thread: records a ping from rank r and replies with a pong. */
static void answer_ping(rendezvous_t *g, const void *id, size_t id_size, const uint8_t *ping)
{
    int r = (int)get_u32(ping);
    uint8_t pong[BEAT_SIZE];
    pthread_mutex_lock(&g->beat.lock);
    if (r >= 1 && r < g->world_size)
        g->peers[r].last_beat = time_now_seconds();
    pthread_mutex_unlock(&g->beat.lock);
    put_u32(pong, 0);
    /* A frozen peer's queue fills up; ROUTER then drops, which is fine for a beat. */
    if (zmq_send(g->beat.socket, id, id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send(g->beat.socket, pong, sizeof pong, ZMQ_DONTWAIT);
}

/* Reads every waiting ping (rank 0) or pong (other ranks) without blocking. */
static void drain_beats(rendezvous_t *g)
{
    uint8_t id[256], beat[BEAT_SIZE];
    for (;;) {
        int id_size = 0;
        if (g->rank == 0) {
            id_size = zmq_recv(g->beat.socket, id, sizeof id, ZMQ_DONTWAIT);
            if (id_size < 0)
                return;
        }
        int size = zmq_recv(g->beat.socket, beat, sizeof beat, ZMQ_DONTWAIT);
        if (size < 0)
            return;
        if (size != BEAT_SIZE)
            continue;
        if (g->rank == 0) {
            answer_ping(g, id, (size_t)(id_size < (int)sizeof id ? id_size : (int)sizeof id),
                        beat);
            continue;
        }
        pthread_mutex_lock(&g->beat.lock);
        g->peers[0].last_beat = time_now_seconds();
        pthread_mutex_unlock(&g->beat.lock);
    }
}

/* The heartbeat thread: pings rank 0 each interval (other ranks) and takes
 * in pings or pongs until rendezvous_close sets stop. */
static void *run_heartbeat(void *arg)
{
    rendezvous_t *g = arg;
    double next_ping = 0.0;
    for (;;) {
        pthread_mutex_lock(&g->beat.lock);
        int stop = g->beat.stop;
        pthread_mutex_unlock(&g->beat.lock);
        if (stop)
            break;
        double now = time_now_seconds();
        if (g->rank != 0 && now >= next_ping) {
            uint8_t ping[BEAT_SIZE];
            put_u32(ping, (uint32_t)g->rank);
            zmq_send(g->beat.socket, ping, sizeof ping, ZMQ_DONTWAIT);
            next_ping = now + g->beat.interval_seconds;
        }
        zmq_pollitem_t item = {g->beat.socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 50) > 0)
            drain_beats(g);
    }
    zmq_close(g->beat.socket);
    g->beat.socket = NULL;
    return NULL;
}

/* Creates the heartbeat socket: rank 0 binds next to `address` and stores the
 * endpoint it got, the others connect to `endpoint`. Returns 0 or -1 after logging. */
static int open_heartbeat(rendezvous_t *g, const char *endpoint)
{
    g->beat.interval_seconds = g->heartbeat_seconds / 4 < 1.0 ? g->heartbeat_seconds / 4 : 1.0;
    g->beat.socket = zmq_socket(g->context, g->rank == 0 ? ZMQ_ROUTER : ZMQ_DEALER);
    int linger_ms = 0;
    if (g->beat.socket)
        zmq_setsockopt(g->beat.socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    if (g->beat.socket && g->rank == 0) {
        char wanted[ENDPOINT_SIZE];
        if (strncmp(g->address, "ipc://", 6) == 0) {
            snprintf(wanted, sizeof wanted, "%.240s-heartbeat", g->address);
        } else {
            /* Same host as the rendezvous, so every rank that reaches one
             * reaches the other; the port is any free one. */
            const char *port = strrchr(g->address, ':');
            snprintf(wanted, sizeof wanted, "%.*s:*", (int)(port - g->address), g->address);
        }
        size_t size = sizeof g->beat.endpoint;
        if (zmq_bind(g->beat.socket, wanted) == 0 &&
            zmq_getsockopt(g->beat.socket, ZMQ_LAST_ENDPOINT, g->beat.endpoint, &size) == 0)
            return 0;
    } else if (g->beat.socket) {
        snprintf(g->beat.endpoint, sizeof g->beat.endpoint, "%s", endpoint);
        if (zmq_connect(g->beat.socket, endpoint) == 0)
            return 0;
    }
    log_error("%s: cannot open the heartbeat socket %s: %s", g->address,
              g->rank == 0 ? "next to it" : endpoint, zmq_strerror(zmq_errno()));
    return -1;
}

/* Starts the heartbeat thread; every peer counts as heard from now. */
static int start_heartbeat(rendezvous_t *g)
{
    double now = time_now_seconds();
    for (int r = 0; r < (g->rank == 0 ? g->world_size : 1); r++)
        g->peers[r].last_beat = now;
    if (pthread_create(&g->beat.thread, NULL, run_heartbeat, g) != 0) {
        log_error("%s: cannot start the heartbeat thread", g->address);
        return -1;
    }
    g->beat.started = 1;
    return 0;
}

void rendezvous_set_step(rendezvous_t *group, int64_t step)
{
    pthread_mutex_lock(&group->beat.lock);
    group->step = step;
    pthread_mutex_unlock(&group->beat.lock);
}

/*
 * Writes "rank R of N (pid P on HOST, last completed step S)" into out. The
 * ranks run their collectives in lockstep, so this process's own last step is
 * the group's.
 */
static void describe_peer(rendezvous_t *g, int r, char *out, size_t size)
{
    pthread_mutex_lock(&g->beat.lock);
    const peer_t *p = &g->peers[r];
    if (p->pid == 0)
        /* Rank 0 before its welcome arrived: only its address is known. */
        snprintf(out, size, "rank %d of %d (at %.160s, before it sent this process its rank)", r,
                 g->world_size, g->address);
    else if (g->step >= 0)
        snprintf(out, size, "rank %d of %d (pid %d on %s, last completed step %lld)", r,
                 g->world_size, p->pid, p->host, (long long)g->step);
    else
        snprintf(out, size, "rank %d of %d (pid %d on %s, before the first step)", r,
                 g->world_size, p->pid, p->host);
    pthread_mutex_unlock(&g->beat.lock);
}

/* Returns a peer whose last beat is older than the heartbeat timeout (rank 0
 * checks every rank, the others rank 0), or -1 when all are heard from. */
static int find_silent_peer(rendezvous_t *g)
{
    if (!g->beat.started)
        return -1;
    double now = time_now_seconds();
    int silent = -1;
    pthread_mutex_lock(&g->beat.lock);
    if (g->rank != 0 && now - g->peers[0].last_beat > g->heartbeat_seconds)
        silent = 0;
    for (int r = 1; g->rank == 0 && r < g->world_size && silent < 0; r++)
        if (g->peers[r].joined && now - g->peers[r].last_beat > g->heartbeat_seconds)
            silent = r;
    pthread_mutex_unlock(&g->beat.lock);
    return silent;
}

/* Logs the loss of peer `lost` and its `cause`; rank 0 also sends the other ranks a stop
 * message. */
static void report_lost_peer(rendezvous_t *g, int lost, const char *cause)
{
    char peer[256], reason[512];
    describe_peer(g, lost, peer, sizeof peer);
    if (g->rank != 0) {
        log_error("rank %d of %d: lost %s: %s", g->rank, g->world_size, peer, cause);
        return;
    }
    snprintf(reason, sizeof reason, "%s was lost: %s", peer, cause);
    log_error("%s", reason);
    g->peers[lost].joined = 0;
    rendezvous_abort(g, reason);
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
            if (lost >= 0) {
                report_lost_peer(g, lost,
                                 "its connection closed (the process ended or stopped answering)");
                return -1;
            }
        }
        int silent = find_silent_peer(g);
        if (silent >= 0) {
            char cause[128];
            snprintf(cause, sizeof cause,
                     "it sent no heartbeat for %.0f s (frozen or unreachable)",
                     g->heartbeat_seconds);
            report_lost_peer(g, silent, cause);
            return -1;
        }
        if (seconds >= 0 && time_now_seconds() > deadline)
            return 1;
    }
}

/* Writes this process's pid and host name (HOST_SIZE bytes, NUL-padded) at p. */
static void put_identity(uint8_t *p)
{
    char host[HOST_SIZE] = {0};
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown host");
    put_u32(p, (uint32_t)getpid());
    memcpy(p + 4, host, HOST_SIZE);
}

/* Reads a pid and host name written by put_identity into `peer`. */
static void get_identity(peer_t *peer, const uint8_t *p)
{
    peer->pid = (int)get_u32(p);
    memcpy(peer->host, p + 4, HOST_SIZE);
    peer->host[HOST_SIZE - 1] = '\0';
}

/* Rank 0: sends rank `r` its rank, the world size, rank 0's identity, the
 * heartbeat endpoint and the blob. */
static int send_welcome(rendezvous_t *g, int r)
{
    uint8_t welcome[WELCOME_HEADER + RENDEZVOUS_MAX_BLOB] = {0};
    put_u32(welcome, (uint32_t)r);
    put_u32(welcome + 4, (uint32_t)g->world_size);
    put_identity(welcome + 8);
    memcpy(welcome + 12 + HOST_SIZE, g->beat.endpoint, ENDPOINT_SIZE);
    memcpy(welcome + WELCOME_HEADER, g->blob, g->blob_size);
    return send_frames(g, r, KIND_WELCOME, 0, welcome, WELCOME_HEADER + g->blob_size);
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
    /* These ZeroMQ heartbeats catch a frozen peer only in some runs, so the
     * heartbeat thread's own pings are what a collective relies on. */
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
        int requested = m.size == HELLO_SIZE ? (int)get_u32(m.data) : -2;
        int world = m.size == HELLO_SIZE ? (int)get_u32((const uint8_t *)m.data + 4) : 0;
        if (m.size == HELLO_SIZE)
            get_identity(&g->peers[0], (const uint8_t *)m.data + 8);
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
    if (start_heartbeat(g) != 0)
        return -1;
    for (int r = 1; r < g->world_size; r++)
        if (send_welcome(g, r) != 0)
            return -1;
    return 0;
}

/* Other ranks: say hello and wait for the rank, world size and blob. */
static int join_group(rendezvous_t *g, double join_seconds)
{
    uint8_t hello[HELLO_SIZE];
    put_u32(hello, (uint32_t)g->rank);
    put_u32(hello + 4, (uint32_t)g->world_size);
    put_identity(hello + 8);
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
    int ok = m.kind == KIND_WELCOME && m.size >= WELCOME_HEADER &&
             m.size - WELCOME_HEADER <= RENDEZVOUS_MAX_BLOB;
    char endpoint[ENDPOINT_SIZE];
    if (ok) {
        const uint8_t *p = m.data;
        g->rank = (int)get_u32(p);
        g->world_size = (int)get_u32(p + 4);
        get_identity(&g->peers[0], p + 8);
        memcpy(endpoint, p + 12 + HOST_SIZE, ENDPOINT_SIZE);
        endpoint[ENDPOINT_SIZE - 1] = '\0';
        g->blob_size = m.size - WELCOME_HEADER;
        memcpy(g->blob, p + WELCOME_HEADER, g->blob_size);
    } else if (m.kind == KIND_ABORT) {
        log_error("rank 0 rejected this process: %.*s", (int)m.size, (const char *)m.data);
    } else {
        log_error("%s: expected the rank from rank 0", g->address);
    }
    rendezvous_message_free(&m);
    if (!ok || open_heartbeat(g, endpoint) != 0)
        return -1;
    return start_heartbeat(g);
}

/* True for tcp://HOST:PORT with a host every rank can connect to (not a
 * wildcard) and a numeric port, or for ipc://PATH. */
static bool rendezvous_address_valid(const char *address)
{
    if (!address)
        return false;
    if (strncmp(address, "ipc://", 6) == 0)
        return address[6] != '\0';
    if (strncmp(address, "tcp://", 6) != 0)
        return false;
    const char *host = address + 6, *colon = strrchr(host, ':');
    if (!colon || colon == host || colon[1] == '\0')
        return false;
    for (const char *digit = colon + 1; *digit; digit++) {
        if (*digit < '0' || *digit > '9')
            return false;
    }
    size_t host_length = (size_t)(colon - host);
    return !(host_length == 1 && host[0] == '*') &&
           !(host_length == 7 && strncmp(host, "0.0.0.0", 7) == 0);
}

rendezvous_t *rendezvous_join(const rendezvous_options_t *options)
{
    const char *address = options->address;
    if (!rendezvous_address_valid(address)) {
        log_error("rendezvous address %s: expected tcp://HOST:PORT (the address of rank 0's "
                  "machine that every rank can reach, such as tcp://127.0.0.1:PORT on one "
                  "machine) or ipc://PATH",
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
    g->heartbeat_seconds = options->heartbeat_seconds > 0 ? options->heartbeat_seconds : 60.0;
    double join_seconds = options->join_seconds > 0 ? options->join_seconds : 120.0;
    g->step = -1;
    pthread_mutex_init(&g->beat.lock, NULL);
    int status = -1;
    if (g->rank == 0) {
        g->peers = calloc((size_t)g->world_size, sizeof *g->peers);
        g->blob_size = options->blob_size;
        if (options->blob_size)
            memcpy(g->blob, options->blob, options->blob_size);
        if (!g->peers || open_socket(g, ZMQ_ROUTER) != 0 || open_heartbeat(g, NULL) != 0)
            goto done;
        if (zmq_bind(g->socket, address) != 0) {
            log_error("%s: rank 0 cannot bind: %s; pick a free port", address,
                      zmq_strerror(zmq_errno()));
            goto done;
        }
        status = gather_group(g, join_seconds);
    } else {
        g->peers = calloc(1, sizeof *g->peers);
        if (!g->peers || open_socket(g, ZMQ_DEALER) != 0)
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
    if (group->beat.started) {
        pthread_mutex_lock(&group->beat.lock);
        group->beat.stop = 1;
        pthread_mutex_unlock(&group->beat.lock);
        pthread_join(group->beat.thread, NULL);
    } else if (group->beat.socket) {
        zmq_close(group->beat.socket);
    }
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
    pthread_mutex_destroy(&group->beat.lock);
    free(group->peers);
    free(group);
}
