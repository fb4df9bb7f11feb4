/*
 * The practical limit for bench/: each workload done by a plain C epoll program, client and
 * server in one process and one thread, like the Node side (pingclient and echo: in two).
 * Built by bench/c.ts with the system C compiler. Every mode prints its result as numbers on
 * one line:
 *
 *   pingpong CONNS SECONDS   round trips/s, CPU µs per round trip
 *   bulk SECONDS             MB/s (10^6 bytes)
 *   churn INFLIGHT SECONDS   connections/s
 *   udp SECONDS              round trips/s
 *   idle PAIRS               KiB of RSS per connection (a pair of ends)
 *   pingclient PORT CONNS SECONDS  as pingpong, against `echo` running in another process
 *   echo                     prints the port it listens on; serves until stdin ends
 *
 * Reads use a 64 KiB buffer and TCP_NODELAY is set on both ends, as on the Node side.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define RECV_BUF 65536
#define MAX_EVENTS 256

static char buf[RECV_BUF];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void nonblock(int fd) {
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

static void nodelay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("setsockopt");
}

static void watch(int ep, int fd, unsigned events) {
    struct epoll_event e = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl");
}

/* A TCP listener on 127.0.0.1 and an ephemeral port; `addr` gets its address. */
static int listener(struct sockaddr_in *addr) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 4096) < 0) die("listen");
    if (getsockname(fd, (struct sockaddr *)addr, &len) < 0) die("getsockname");
    return fd;
}

/* A connected pair over the blocking listener: both ends non-blocking with TCP_NODELAY. */
static void pair(int lfd, const struct sockaddr_in *addr, int *client, int *server) {
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0) die("socket");
    if (connect(*client, (const struct sockaddr *)addr, sizeof *addr) < 0) die("connect");
    *server = accept(lfd, NULL, NULL);
    if (*server < 0) die("accept");
    nonblock(*client);
    nonblock(*server);
    nodelay(*client);
    nodelay(*server);
}

/* Fds are small integers, so per-fd state lives in a table indexed by fd. */
enum role { NONE, CLIENT, SERVER, LISTENER, CONNECTING };
static unsigned char roles[1 << 16];
static int received[1 << 16];

/*
 * The ping-pong loop over the fds registered on `ep`: a CLIENT counts each 64 B echo as a round
 * trip and sends the next message; a SERVER echoes what it reads. Every client has sent its
 * first message.
 */
static void ping(int ep, double seconds) {
    char msg[MSG] = {0};
    long trips = 0;
    double t0 = now(), cpu0 = cpu_seconds(), end = t0 + seconds, t;
    struct epoll_event ev[MAX_EVENTS];
    while ((t = now()) < end) {
        int n = epoll_wait(ep, ev, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            ssize_t r = read(fd, buf, RECV_BUF);
            if (r <= 0) die("read");
            if (roles[fd] == SERVER) {
                if (write(fd, buf, r) != r) die("write");
                continue;
            }
            for (received[fd] += r; received[fd] >= MSG; received[fd] -= MSG) {
                trips++;
                if (write(fd, msg, MSG) != MSG) die("write");
            }
        }
    }
    printf("%f %f\n", trips / (t - t0), (cpu_seconds() - cpu0) * 1e6 / trips);
}

/* `conns` connections, both ends in this process. */
static void pingpong(int conns, double seconds) {
    struct sockaddr_in addr;
    int lfd = listener(&addr), ep = epoll_create1(0);
    char msg[MSG] = {0};
    for (int i = 0; i < conns; i++) {
        int c, s;
        pair(lfd, &addr, &c, &s);
        roles[c] = CLIENT;
        roles[s] = SERVER;
        watch(ep, c, EPOLLIN);
        watch(ep, s, EPOLLIN);
        if (write(c, msg, MSG) != MSG) die("write");
    }
    ping(ep, seconds);
}

/* `conns` clients of the echo server listening on 127.0.0.1:`port` in another process. */
static void pingclient(int port, int conns, double seconds) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ep = epoll_create1(0);
    char msg[MSG] = {0};
    for (int i = 0; i < conns; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0) die("socket");
        if (connect(c, (const struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        nonblock(c);
        nodelay(c);
        roles[c] = CLIENT;
        watch(ep, c, EPOLLIN);
        if (write(c, msg, MSG) != MSG) die("write");
    }
    ping(ep, seconds);
}

/*
 * An echo server for pingclient: prints its port, echoes every connection until its peer
 * closes, and exits at end of file on stdin (its parent is done).
 */
static void echo(void) {
    struct sockaddr_in addr;
    int lfd = listener(&addr), ep = epoll_create1(0);
    nonblock(lfd);
    watch(ep, lfd, EPOLLIN);
    watch(ep, 0, EPOLLIN);
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    struct epoll_event ev[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, ev, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd, s;
            ssize_t r;
            if (fd == 0) {
                if (read(0, buf, RECV_BUF) <= 0) return;
            } else if (fd == lfd) {
                while ((s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    nodelay(s);
                    watch(ep, s, EPOLLIN);
                }
                if (errno != EAGAIN) die("accept");
            } else if ((r = read(fd, buf, RECV_BUF)) > 0) {
                if (write(fd, buf, r) != r) die("write");
            } else if (r == 0 || errno == ECONNRESET) {
                close(fd);
            } else if (errno != EAGAIN) die("read");
        }
    }
}

/* The accepted end writes 64 KiB chunks, the connecting end reads them into a 64 KiB buffer. */
static void bulk(double seconds) {
    struct sockaddr_in addr;
    int lfd = listener(&addr), ep = epoll_create1(0), c, s;
    static char chunk[RECV_BUF];
    pair(lfd, &addr, &c, &s);
    watch(ep, c, EPOLLIN);
    watch(ep, s, EPOLLOUT);
    long bytes = 0, off = 0;
    double t0 = now(), end = t0 + seconds, t;
    struct epoll_event ev[2];
    while ((t = now()) < end) {
        int n = epoll_wait(ep, ev, 2, -1);
        for (int i = 0; i < n; i++) {
            ssize_t r;
            if (ev[i].data.fd == c) {
                while ((r = read(c, buf, RECV_BUF)) > 0) bytes += r;
            } else {
                while ((r = write(s, chunk + off, RECV_BUF - off)) > 0) off = (off + r) % RECV_BUF;
            }
            if (r < 0 && errno != EAGAIN) die("read/write");
        }
    }
    printf("%f\n", bytes / (t - t0) / 1e6);
}

/*
 * `inflight` clients in a loop: connect, send 64 B, read the echo, close. The server accepts,
 * echoes, and closes on end of stream.
 */
static void churn(int inflight, double seconds) {
    struct sockaddr_in addr;
    int lfd = listener(&addr), ep = epoll_create1(0);
    char msg[MSG] = {0};
    nonblock(lfd);
    roles[lfd] = LISTENER;
    watch(ep, lfd, EPOLLIN);
    long done = 0;
    double t0 = now(), end = t0 + seconds, t;
    int starts = inflight;
    struct epoll_event ev[MAX_EVENTS];
    while ((t = now()) < end) {
        for (; starts > 0; starts--) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c < 0) die("socket");
            nodelay(c);
            if (connect(c, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) die("connect");
            roles[c] = CONNECTING;
            received[c] = 0;
            watch(ep, c, EPOLLOUT);
        }
        int n = epoll_wait(ep, ev, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd, s;
            ssize_t r;
            switch (roles[fd]) {
            case LISTENER:
                while ((s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    nodelay(s);
                    roles[s] = SERVER;
                    watch(ep, s, EPOLLIN);
                }
                if (errno != EAGAIN) die("accept");
                break;
            case CONNECTING: {
                struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
                if (write(fd, msg, MSG) != MSG) die("write");
                roles[fd] = CLIENT;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
                break;
            }
            case CLIENT:
                r = read(fd, buf, RECV_BUF);
                if (r <= 0) die("read");
                if ((received[fd] += r) < MSG) break;
                roles[fd] = NONE;
                close(fd);
                done++;
                starts++;
                break;
            case SERVER:
                r = read(fd, buf, RECV_BUF);
                if (r > 0) {
                    if (write(fd, buf, r) != r) die("write");
                } else if (r == 0 || errno == ECONNRESET) {
                    roles[fd] = NONE;
                    close(fd);
                } else if (errno != EAGAIN) die("read");
                break;
            }
        }
    }
    printf("%f\n", done / (t - t0));
}

/* Two UDP sockets on 127.0.0.1: the client is connected, the server echoes to the sender. */
static void udp(double seconds) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, from;
    socklen_t len = sizeof sa;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), c = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0);
    if (s < 0 || c < 0) die("socket");
    if (bind(s, (struct sockaddr *)&sa, len) < 0 || getsockname(s, (struct sockaddr *)&sa, &len) < 0) die("bind");
    if (connect(c, (struct sockaddr *)&sa, len) < 0) die("connect");
    watch(ep, s, EPOLLIN);
    watch(ep, c, EPOLLIN);
    char msg[MSG] = {0};
    if (send(c, msg, MSG, 0) != MSG) die("send");
    long trips = 0;
    double t0 = now(), end = t0 + seconds, t;
    struct epoll_event ev[2];
    while ((t = now()) < end) {
        int n = epoll_wait(ep, ev, 2, -1);
        for (int i = 0; i < n; i++) {
            ssize_t r;
            if (ev[i].data.fd == s) {
                len = sizeof from;
                if ((r = recvfrom(s, buf, RECV_BUF, 0, (struct sockaddr *)&from, &len)) < 0) die("recvfrom");
                if (sendto(s, buf, r, 0, (struct sockaddr *)&from, len) != r) die("sendto");
            } else {
                if (recv(c, buf, RECV_BUF, 0) < 0) die("recv");
                trips++;
                if (send(c, msg, MSG, 0) != MSG) die("send");
            }
        }
    }
    printf("%f\n", trips / (t - t0));
}

static long rss_kib(void) {
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%*s %ld", &pages) != 1) die("statm");
    fclose(f);
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* `pairs` connections, both ends registered for reading: the RSS they add, per connection. */
static void idle(int pairs) {
    struct sockaddr_in addr;
    int lfd = listener(&addr), ep = epoll_create1(0);
    long before = rss_kib();
    for (int i = 0; i < pairs; i++) {
        int c, s;
        pair(lfd, &addr, &c, &s);
        watch(ep, c, EPOLLIN);
        watch(ep, s, EPOLLIN);
    }
    printf("%f\n", (double)(rss_kib() - before) / pairs);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "pingpong") && argc == 4) pingpong(atoi(argv[2]), atof(argv[3]));
    else if (!strcmp(mode, "bulk") && argc == 3) bulk(atof(argv[2]));
    else if (!strcmp(mode, "churn") && argc == 4) churn(atoi(argv[2]), atof(argv[3]));
    else if (!strcmp(mode, "udp") && argc == 3) udp(atof(argv[2]));
    else if (!strcmp(mode, "idle") && argc == 3) idle(atoi(argv[2]));
    else if (!strcmp(mode, "echo") && argc == 2) echo();
    else if (!strcmp(mode, "pingclient") && argc == 5) pingclient(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
    else {
        fprintf(stderr, "usage: epoll pingpong CONNS SECONDS | bulk SECONDS | churn INFLIGHT SECONDS | udp SECONDS | idle PAIRS"
                        " | echo | pingclient PORT CONNS SECONDS\n");
        return 2;
    }
    return 0;
}
