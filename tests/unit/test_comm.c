/*
 * Tests of the rendezvous and the CPU collectives: forked processes join over
 * ipc:// and tcp://127.0.0.1, and every rank checks the all-reduce against
 * the sum of all ranks' buffers computed directly.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "comm.h"
#include "log.h"

enum { COUNT = 100003 };

/* The value rank r contributes at index i: varied signs and magnitudes. */
static float value_of(int r, size_t i)
{
    uint32_t x = (uint32_t)(i * 2654435761u) ^ (uint32_t)(r * 40503u + 7u);
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return ((float)(x % 20001u) - 10000.0f) * (r % 2 ? 1e-3f : 3.7f);
}

/* One rank's checks; returns the failures of this process. */
static int run_rank(const char *address, int rank, int world)
{
    const char blob[] = "unique id bytes";
    rendezvous_options_t options = {.address = address, .rank = rank, .world_size = world,
                                    .join_seconds = 20, .blob = blob, .blob_size = sizeof blob};
    comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
    CHECK(comm != NULL);
    if (!comm)
        return check_failures;
    if (world > 0)
        CHECK_INT_EQ(comm_world_size(comm), world);
    world = comm_world_size(comm);
    if (rank == 0)
        CHECK_INT_EQ(comm_rank(comm), 0);
    int me = comm_rank(comm);

    /* Sum and average of floats against the sum taken here in rank order. */
    float *buf = malloc(COUNT * sizeof *buf), *avg = malloc(COUNT * sizeof *avg);
    for (size_t i = 0; i < COUNT; i++)
        buf[i] = avg[i] = value_of(me, i);
    CHECK(comm_all_reduce(comm, buf, COUNT, COMM_FLOAT32, COMM_SUM) == 0);
    CHECK(comm_all_reduce(comm, avg, COUNT, COMM_FLOAT32, COMM_AVERAGE) == 0);
    int wrong = 0;
    for (size_t i = 0; i < COUNT; i++) {
        float sum = value_of(0, i);
        for (int r = 1; r < world; r++)
            sum += value_of(r, i);
        wrong += buf[i] != sum || avg[i] != sum * (float)(1.0 / world);
    }
    CHECK_INT_EQ(wrong, 0);

    /* Doubles, a broadcast from the last rank and a barrier. */
    double d[3] = {me + 0.25, 1e300 / world, -1.0};
    CHECK(comm_all_reduce(comm, d, 3, COMM_FLOAT64, COMM_SUM) == 0);
    CHECK(d[0] == world * (world - 1) / 2.0 + 0.25 * world);
    CHECK(fabs(d[1] - 1e300) < 1e286);
    CHECK(d[2] == -world);
    char text[32] = {0};
    if (me == world - 1)
        snprintf(text, sizeof text, "from %d", me);
    CHECK(comm_broadcast(comm, text, sizeof text, world - 1) == 0);
    char expected[32] = {0};
    snprintf(expected, sizeof expected, "from %d", world - 1);
    CHECK(memcmp(text, expected, sizeof text) == 0);

    /* Reduce-scatter: rank R keeps part R of the sum; all-gather: rank order. */
    double *whole = malloc(sizeof(double) * 5 * (size_t)world), part[5];
    for (int i = 0; i < 5 * world; i++)
        whole[i] = (me + 1) * 1000.0 + i;
    CHECK(comm_reduce_scatter(comm, whole, part, 5, COMM_FLOAT64, COMM_SUM) == 0);
    for (int i = 0; i < 5; i++)
        CHECK(part[i] == world * (world + 1) / 2 * 1000.0 + (me * 5 + i) * (double)world);
    int32_t mine[2] = {me, -me}, *gathered = malloc(sizeof(int32_t) * 2 * (size_t)world);
    CHECK(comm_all_gather(comm, mine, gathered, sizeof mine) == 0);
    for (int r = 0; r < world; r++)
        CHECK(gathered[2 * r] == r && gathered[2 * r + 1] == -r);
    free(whole);
    free(gathered);
    CHECK(comm_barrier(comm) == 0);
    free(buf);
    free(avg);
    comm_close(comm);
    return check_failures;
}

/* Runs `world` ranks: rank 0 here, the others forked with rank -1 (assigned
 * by rank 0) or their own rank. Returns the children's failures. */
static int run_group(const char *address, int world, int assign)
{
    pid_t *pids = calloc((size_t)world, sizeof *pids);
    for (int r = 1; r < world; r++) {
        pids[r] = fork();
        if (pids[r] == 0)
            _exit(run_rank(address, assign ? -1 : r, assign ? 0 : world) ? 1 : 0);
    }
    run_rank(address, 0, world);
    int failed = 0;
    for (int r = 1; r < world; r++) {
        int status;
        waitpid(pids[r], &status, 0);
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    free(pids);
    return failed;
}

/* A rank that ends after joining makes rank 0's next all-reduce fail within
 * seconds; a rank waiting on a rank 0 that ends fails too. */
static void test_lost_rank(const char *address, int kill_root)
{
    pid_t child = fork();
    if (child == 0) {
        rendezvous_options_t options = {.address = address, .rank = 1, .world_size = 2,
                                        .join_seconds = 20};
        comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
        if (!comm)
            _exit(3);
        if (!kill_root)
            _exit(0); /* ends without closing: the connection just drops */
        float x = 1.0f;
        _exit(comm_all_reduce(comm, &x, 1, COMM_FLOAT32, COMM_SUM) == 0 ? 0 : 1);
    }
    rendezvous_options_t options = {.address = address, .rank = 0, .world_size = 2,
                                    .join_seconds = 20, .heartbeat_seconds = 5};
    comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
    CHECK(comm != NULL);
    int status;
    if (kill_root) {
        /* Rank 0 goes away without reducing: the child must fail. */
        comm_close(comm);
        waitpid(child, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        return;
    }
    waitpid(child, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
        fprintf(stderr, "lost rank case: rank 1 failed to join\n");
    CHECK(WIFEXITED(status));
    CHECK_INT_EQ(WEXITSTATUS(status), 0);
    double start = time_now_seconds();
    float x = 1.0f;
    CHECK(comm && comm_all_reduce(comm, &x, 1, COMM_FLOAT32, COMM_SUM) != 0);
    CHECK(time_now_seconds() - start < 10.0);
    comm_close(comm);
}

/* A rank frozen with SIGSTOP after joining sends no heartbeats, so the other
 * side's all-reduce fails within the 2 s timeout plus a margin for a busy
 * machine (the timeout counts from the join, so it may fail sooner).
 * freeze_root: rank 0 freezes and rank 1 must notice. The child freezes only
 * after the parent has joined (it writes a byte on a pipe then): ZeroMQ sends in the
 * background, so a rank 0 frozen at once could hold back its welcome, and the
 * join, not the all-reduce, would fail. */
static void test_frozen_rank(const char *address, int freeze_root)
{
    int joined[2];
    CHECK(pipe(joined) == 0);
    pid_t child = fork();
    if (child == 0) {
        close(joined[1]);
        rendezvous_options_t options = {.address = address, .rank = freeze_root ? 0 : 1,
                                        .world_size = 2, .join_seconds = 20,
                                        .heartbeat_seconds = 2};
        comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
        if (!comm)
            _exit(3);
        char byte;
        if (read(joined[0], &byte, 1) != 1)
            _exit(4); /* the parent failed to join */
        comm_set_step(comm, 7);
        raise(SIGSTOP);
        _exit(0);
    }
    close(joined[0]);
    rendezvous_options_t options = {.address = address, .rank = freeze_root ? 1 : 0,
                                    .world_size = 2, .join_seconds = 20,
                                    .heartbeat_seconds = 2};
    comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
    CHECK(comm != NULL);
    CHECK(write(joined[1], "j", 1) == 1);
    close(joined[1]);
    double start = time_now_seconds();
    float x = 1.0f;
    CHECK(!comm || comm_all_reduce(comm, &x, 1, COMM_FLOAT32, COMM_SUM) != 0);
    double seconds = time_now_seconds() - start;
    if (seconds > 8.0)
        fprintf(stderr, "frozen rank %d noticed after %.2f s, expected at most 8 s\n",
                freeze_root ? 0 : 1, seconds);
    CHECK(seconds <= 8.0);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    if (WIFEXITED(status))
        fprintf(stderr, "frozen rank case: the child (rank %d) ended with status %d before "
                "freezing (3: it failed to join, 4: the parent failed to join)\n",
                freeze_root ? 0 : 1, WEXITSTATUS(status));
    CHECK(WIFSIGNALED(status));
    CHECK(!WIFSIGNALED(status) || WTERMSIG(status) == SIGKILL);
    comm_close(comm);
}

/* A busy rank that makes no calls for longer than the timeout still sends
 * heartbeats from its thread, so the group stays intact. */
static void test_busy_rank(const char *address)
{
    pid_t child = fork();
    if (child == 0) {
        rendezvous_options_t options = {.address = address, .rank = 1, .world_size = 2,
                                        .join_seconds = 20, .heartbeat_seconds = 1};
        comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
        if (!comm)
            _exit(3);
        double until = time_now_seconds() + 3.0;
        volatile double sink = 0.0;
        while (time_now_seconds() < until)
            sink += 1.0;
        float x = 2.0f;
        int failed = comm_all_reduce(comm, &x, 1, COMM_FLOAT32, COMM_SUM) != 0 || x != 3.0f;
        comm_close(comm);
        _exit(failed);
    }
    rendezvous_options_t options = {.address = address, .rank = 0, .world_size = 2,
                                    .join_seconds = 20, .heartbeat_seconds = 1};
    comm_t *comm = comm_from_rendezvous(rendezvous_join(&options));
    CHECK(comm != NULL);
    float x = 1.0f;
    CHECK(!comm || comm_all_reduce(comm, &x, 1, COMM_FLOAT32, COMM_SUM) == 0);
    CHECK(x == 3.0f);
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_INT_EQ(WEXITSTATUS(status), 0);
    comm_close(comm);
}

static void test_single(void)
{
    comm_t *comm = comm_single();
    float x[2] = {1.5f, -2.0f};
    CHECK(comm_all_reduce(comm, x, 2, COMM_FLOAT32, COMM_AVERAGE) == 0);
    CHECK(x[0] == 1.5f && x[1] == -2.0f);
    CHECK_INT_EQ(comm_rank(comm), 0);
    CHECK_INT_EQ(comm_world_size(comm), 1);
    CHECK(comm_barrier(comm) == 0);
    comm_close(comm);
}

static void test_bad_address(void)
{
    rendezvous_options_t options = {.address = "tcp://0.0.0.0:5555", .rank = 0,
                                    .world_size = 2};
    CHECK(rendezvous_join(&options) == NULL);
    /* A wildcard host, a missing or non-numeric port and other schemes are
     * rejected before any socket opens. */
    const char *bad[] = {"tcp://*:5555", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://:5555",
                         "tcp://127.0.0.1:port", "udp://127.0.0.1:5555", "ipc://", NULL};
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        options.address = bad[i];
        CHECK(rendezvous_join(&options) == NULL);
    }
    options.address = "tcp://0.0.0.0:5555";
    /* A failed join gives no comm, never a world of one whose collectives
     * succeed alone. */
    CHECK(comm_from_rendezvous(rendezvous_join(&options)) == NULL);
}

/* Writes a tcp://127.0.0.1 address with a port that is free now and lies
 * below the kernel's range of ephemeral ports (32768 and up by default), so
 * no socket bound to port 0 and no outgoing connection (of this test or of
 * anything else on the machine) takes it before rank 0 binds it. `salt`
 * keeps the addresses of one run apart. */
static void tcp_address(char *out, size_t size, int salt)
{
    int port = 0;
    for (int attempt = 0; attempt < 200 && port == 0; attempt++) {
        int candidate = 20000 + (int)(((unsigned)getpid() * 7919u + (unsigned)salt * 104729u +
                                       (unsigned)attempt * 4099u) % 12000u);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(candidate)};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            port = candidate;
        if (fd >= 0)
            close(fd);
    }
    CHECK(port != 0);
    snprintf(out, size, "tcp://127.0.0.1:%d", port);
}

int main(void)
{
    log_init("test_comm");
    signal(SIGPIPE, SIG_IGN);
    char address[128];
    test_single();
    test_bad_address();
    snprintf(address, sizeof address, "ipc:///tmp/lmpipe-test-comm-%d-a", (int)getpid());
    CHECK_INT_EQ(run_group(address, 3, 0), 0);
    snprintf(address, sizeof address, "ipc:///tmp/lmpipe-test-comm-%d-b", (int)getpid());
    CHECK_INT_EQ(run_group(address, 4, 1), 0);
    tcp_address(address, sizeof address, 1);
    CHECK_INT_EQ(run_group(address, 2, 0), 0);
    /* Any host the ranks can reach works, as a cluster node's address does;
     * 127.0.0.2 is another loopback address, so the test stays on this machine. */
    tcp_address(address, sizeof address, 3);
    address[14] = '2';
    CHECK(strncmp(address, "tcp://127.0.0.2:", 16) == 0);
    CHECK_INT_EQ(run_group(address, 2, 0), 0);
    snprintf(address, sizeof address, "ipc:///tmp/lmpipe-test-comm-%d-c", (int)getpid());
    test_lost_rank(address, 0);
    snprintf(address, sizeof address, "ipc:///tmp/lmpipe-test-comm-%d-d", (int)getpid());
    test_lost_rank(address, 1);
    snprintf(address, sizeof address, "ipc:///tmp/lmpipe-test-comm-%d-e", (int)getpid());
    test_frozen_rank(address, 0);
    tcp_address(address, sizeof address, 2);
    test_frozen_rank(address, 1);
    snprintf(address, sizeof address, "ipc:///tmp/lmpipe-test-comm-%d-f", (int)getpid());
    test_busy_rank(address);
    return CHECK_DONE();
}
