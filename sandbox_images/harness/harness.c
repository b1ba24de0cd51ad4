/*
 * Sandbox harness: PID 1 of a learner container, a small static program.
 *
 * Reads JSON-line commands on stdin, runs each program as a child process with its own stdin,
 * time limit and output limit, and reports JSON-line events on stdout:
 *
 *   in : {"op":"run","index":0,"code":"...","file":"main.py","argv":["python3",...],
 *         "stdin":"..."|null,"timeout":10,"idle":300,"output_bytes":65536}
 *        {"op":"prepare","file":"main.py","argv":[...]}
 *        {"op":"stdin","data":"..."}   {"op":"eof"}   {"op":"kill"}   {"op":"ping"}
 *   out: {"ev":"ready"}  {"ev":"pong"}  {"ev":"start","index":0,"prepared":false}
 *        {"ev":"out","index":0,"stream":"stdout"|"stderr"|"prompt","data":"..."}
 *        {"ev":"exit","index":0,"outcome":"ok","code":0,"ms":12.5}
 *
 * The prompt channel. A program's file descriptor 3 is a SOCK_SEQPACKET socket whose messages are
 * the questions it asks (Python's input(question), JavaScript's prompt(question): the preludes of
 * the language images), reported as the stream "prompt". The harness reports what the program
 * printed before a question first, then the question, then acknowledges it with one byte; the
 * program waits for that byte, so what it prints afterwards comes afterwards. All three streams
 * share the run's output limit.
 *
 * Time that counts. A run given its whole stdin (a check) has a wall-clock limit, "timeout". An
 * interactive run (stdin null: the learner types it) spends most of its life waiting for a human,
 * so there "timeout" limits the CPU time of the run's processes: a loop burns CPU, a program
 * blocked on input does not. Measuring CPU needs no guess at what the program waits for (Python
 * blocks in read(2), Node.js in epoll_wait with timers too), and /proc gives it under runc and
 * gVisor alike; a program asleep does not count either, and the wall clock still ends a run that
 * nobody feeds: "idle" seconds after its last input (or its start), outcome "idle".
 *
 * Each run exec's argv afresh, as `python3 main.py` would be run by hand. A harness that is not an
 * interpreter costs next to nothing to start and to kill, which is what a single-use container
 * pays for at every submission.
 *
 * The gate, and a program prepared ahead. Every program starts behind a gate: the language's
 * prelude, loaded by the interpreter before the program's file is even opened, reads one byte on
 * the prompt channel before it returns, and the harness writes that byte ("go") once the run's
 * file is in place and its clock started. Only the process this harness exec's waits: its
 * environment has GATE_ENV, which the prelude removes before the program runs, so whatever the
 * program starts (a subprocess, a worker thread, itself again through exec) passes.
 *
 * "prepare", accepted only in a container where no run has started yet (a warm pool's, waiting
 * for its submission), starts the first program's interpreter ahead: it boots and waits at the
 * gate, so the interpreter's start-up (10 ms for CPython, 25 ms for Node.js here) is paid while
 * nobody waits. The first "run" with the same file and argv opens that gate instead of starting a
 * process ("prepared": true in its "start" event); any other run kills it and starts afresh.
 *
 * The next run's interpreter, alongside. A "run" with "next": true (a check's test, another
 * non-interactive run of the same program to follow) has the next run's interpreter started as
 * soon as its own gate is given "go": it boots while this run's program runs, and waits at its
 * gate. It then shares the container with learner code of the same uid, so:
 *  - it is not dumpable (its binary is execute-only: sandbox_images/<language>/Dockerfile), so
 *    that code cannot ptrace it or open its /proc/<pid>/mem, fd or environ;
 *  - it starts in START_DIR, which nothing can write to, Python without its user site directory,
 *    and the sandbox's seccomp profile refuses setting its resource limits or scheduling
 *    attributes: nothing the run leaves in /tmp, and no limit, reaches its start-up;
 *  - it is used only once its prelude has said GATE_READY (one that hung starting is not);
 *  - what the kernel still allows (a signal, a priority, CPUs, an I/O priority) is checked by
 *    untouched() once the run's processes are gone: a process that died, is stopped or traced,
 *    has a signal pending or anything changed is killed, and the next run starts afresh.
 * kill_everything spares that one process. The host sends "next" only under runc
 * (runner/sandbox/programs.py: gVisor exec's no execute-only file).
 *
 * The host checks every event it receives (runner/sandbox/engine.py): a harness that breaks this
 * protocol ends its submission.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKDIR "/tmp"
#define READ_SIZE 65536
#define STDIN_BUFFER_MAX (1 << 20)
#define HEAP_EXHAUSTED "heap out of memory" /* Node.js's last words at its heap limit */
#define SETTLE_S 1.0
#define CPU_CHECK_MIN_S 0.02 /* the CPU limit's resolution */
#define STREAM_COUNT 3
#define PROMPT 2 /* the index of the prompt channel among a child's streams */

/* Marks the process this harness starts, for its prelude's gate (removed before the program):
 * the directory to enter once the gate opens. Until then it waits in START_DIR, which no program
 * can write to, so nothing a running program leaves in WORKDIR reaches an interpreter's start-up
 * (Node.js looks for a package.json in its working directory before its preloaded prelude). */
#define GATE_ENV "DECODE_RUNNER_GATE=" WORKDIR
#define START_DIR "/"
/* The prelude's first message on the prompt channel, sent just before it waits for "go": a
 * prepared process is used only once it has said so (an interpreter that could not start, e.g.
 * Node.js when a thread could not be created, may hang before its gate). */
#define GATE_READY "ready"
#define GATE_READY_WAIT_MS 1000 /* with SETTLE_S, within the host's HARNESS_GRACE_S */

static char *const CHILD_ENV[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" WORKDIR, "LANG=C.UTF-8", "PYTHONUNBUFFERED=1",
    "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8", GATE_ENV, NULL,
};
static const int SHIELDED_SIGNALS[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
static const char *const OOM_FILES[] = {
    "/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control",
};

/* ---- small utilities ---------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void buf_reserve(Buf *b, size_t more) {
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    b->data = realloc(b->data, cap);
    if (b->data == NULL) die("out of memory");
    b->cap = cap;
}

static void buf_add(Buf *b, const void *data, size_t len) {
    if (len == 0) return;
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_add(b, tmp, n < 0 ? 0 : ((size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1));
}

static void buf_drop(Buf *b, size_t n) {
    if (n == 0) return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Closes every descriptor from `first` on (close_range, or one by one where it is missing). */
static void close_from(int first) {
    if (close_range((unsigned)first, ~0U, 0) == 0) return;
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = first; fd < (max > 0 ? max : 65536); fd++) close(fd);
}

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd p = {fd, POLLOUT, 0};
                poll(&p, 1, -1);
                continue;
            }
            exit(1); /* the host is gone: nobody is left to report to */
        }
        data += n;
        len -= (size_t)n;
    }
}

/* ---- JSON out: events --------------------------------------------------------------------- */

/* Appends `len` bytes of valid UTF-8 as a JSON string. */
static void json_string(Buf *b, const char *s, size_t len) {
    buf_reserve(b, len + 2);
    b->data[b->len++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
            case '"': buf_str(b, "\\\""); break;
            case '\\': buf_str(b, "\\\\"); break;
            case '\n': buf_str(b, "\\n"); break;
            case '\r': buf_str(b, "\\r"); break;
            case '\t': buf_str(b, "\\t"); break;
            case '\b': buf_str(b, "\\b"); break;
            case '\f': buf_str(b, "\\f"); break;
            default:
                if (c < 0x20)
                    buf_printf(b, "\\u%04x", c);
                else
                    buf_add(b, &s[i], 1);
        }
    }
    buf_add(b, "\"", 1);
}

static void emit(Buf *event) {
    buf_add(event, "\n", 1);
    write_all(1, event->data, event->len);
    free(event->data);
}

static void emit_simple(const char *line) { write_all(1, line, strlen(line)); }

static void emit_start(long index, int was_prepared) {
    Buf b = {0};
    buf_printf(&b, "{\"ev\":\"start\",\"index\":%ld,\"prepared\":%s}", index,
               was_prepared ? "true" : "false");
    emit(&b);
}

static void emit_out(long index, const char *stream, const char *data, size_t len) {
    if (len == 0) return;
    Buf b = {0};
    buf_printf(&b, "{\"ev\":\"out\",\"index\":%ld,\"stream\":\"%s\",\"data\":", index, stream);
    json_string(&b, data, len);
    buf_add(&b, "}", 1);
    emit(&b);
}

static void emit_exit(long index, const char *outcome, int has_code, int code, double ms) {
    Buf b = {0};
    buf_printf(&b, "{\"ev\":\"exit\",\"index\":%ld,\"outcome\":\"%s\",\"code\":", index, outcome);
    if (has_code)
        buf_printf(&b, "%d", code);
    else
        buf_str(&b, "null");
    buf_printf(&b, ",\"ms\":%.1f}", ms);
    emit(&b);
}

/* ---- UTF-8: the program's bytes, decoded as Python's "replace" handler does ---------------- */

/* Valid range of the second byte after a lead byte, and the sequence's length (0: invalid). */
static int utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80, *hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c == 0xE0) return *lo = 0xA0, 3;
    if (c == 0xED) return *hi = 0x9F, 3;
    if (c >= 0xE1 && c <= 0xEF) return 3;
    if (c == 0xF0) return *lo = 0x90, 4;
    if (c == 0xF4) return *hi = 0x8F, 4;
    if (c >= 0xF1 && c <= 0xF3) return 4;
    return 0;
}

/* Decodes `in` into valid UTF-8 in `out`; each maximal invalid subpart becomes U+FFFD. Returns
 * how many trailing bytes form an incomplete sequence left for the next chunk (0 when final). */
static size_t utf8_decode(const unsigned char *in, size_t len, Buf *out, int final) {
    static const char REPLACEMENT[] = "\xEF\xBF\xBD";
    size_t i = 0;
    while (i < len) {
        unsigned char lo, hi;
        int need = utf8_lead(in[i], &lo, &hi);
        if (need == 0) {
            buf_add(out, REPLACEMENT, 3);
            i++;
            continue;
        }
        int got = 1;
        while (got < need && i + (size_t)got < len) {
            unsigned char c = in[i + (size_t)got];
            if (got == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
            got++;
        }
        if (got == need) {
            buf_add(out, in + i, (size_t)need);
        } else if (i + (size_t)got == len && !final) {
            return len - i; /* incomplete so far: wait for the rest */
        } else {
            buf_add(out, REPLACEMENT, 3);
        }
        i += (size_t)got;
    }
    return 0;
}

/* ---- JSON in: the host's commands ---------------------------------------------------------- */

typedef struct {
    char op[16];
    long index;
    Buf code, file, data, stdin_data;
    int has_stdin;
    int next; /* another run of the same program follows: start its interpreter now */
    char **argv;
    int argc;
    double timeout, idle;
    long output_bytes;
} Command;

typedef struct {
    const char *p, *end;
} Parser;

static void skip_ws(Parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
        ps->p++;
}

static int expect(Parser *ps, char c) {
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) return ps->p++, 1;
    return 0;
}

static void utf8_put(Buf *b, uint32_t cp) {
    unsigned char s[4];
    size_t n;
    if (cp < 0x80) s[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800) s[0] = 0xC0 | (cp >> 6), s[1] = 0x80 | (cp & 0x3F), n = 2;
    else if (cp < 0x10000)
        s[0] = 0xE0 | (cp >> 12), s[1] = 0x80 | ((cp >> 6) & 0x3F), s[2] = 0x80 | (cp & 0x3F),
        n = 3;
    else
        s[0] = 0xF0 | (cp >> 18), s[1] = 0x80 | ((cp >> 12) & 0x3F),
        s[2] = 0x80 | ((cp >> 6) & 0x3F), s[3] = 0x80 | (cp & 0x3F), n = 4;
    buf_add(b, s, n);
}

static int hex4(Parser *ps, uint32_t *out) {
    if (ps->end - ps->p < 4) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* A JSON string into `out` (NUL-terminated, length in out->len). */
static int parse_string(Parser *ps, Buf *out) {
    if (!expect(ps, '"')) return 0;
    out->len = 0;
    while (ps->p < ps->end) {
        char c = *ps->p++;
        if (c == '"') {
            buf_add(out, "", 1);
            out->len--;
            return 1;
        }
        if (c != '\\') {
            buf_add(out, &c, 1);
            continue;
        }
        if (ps->p >= ps->end) return 0;
        c = *ps->p++;
        uint32_t cp;
        switch (c) {
            case 'n': buf_add(out, "\n", 1); break;
            case 'r': buf_add(out, "\r", 1); break;
            case 't': buf_add(out, "\t", 1); break;
            case 'b': buf_add(out, "\b", 1); break;
            case 'f': buf_add(out, "\f", 1); break;
            case '"': case '\\': case '/': buf_add(out, &c, 1); break;
            case 'u':
                if (!hex4(ps, &cp)) return 0;
                if (cp >= 0xD800 && cp <= 0xDBFF && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                    ps->p[1] == 'u') {
                    Parser look = {ps->p + 2, ps->end};
                    uint32_t low;
                    if (hex4(&look, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        ps->p = look.p;
                    }
                }
                utf8_put(out, (cp >= 0xD800 && cp <= 0xDFFF) ? 0xFFFD : cp);
                break;
            default: return 0;
        }
    }
    return 0;
}

static int parse_number(Parser *ps, double *out) {
    skip_ws(ps);
    char tmp[64];
    size_t n = 0;
    while (ps->p < ps->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", *ps->p))
        tmp[n++] = *ps->p++;
    tmp[n] = 0;
    char *end;
    *out = strtod(tmp, &end);
    return n > 0 && *end == 0;
}

static int parse_literal(Parser *ps, const char *word) {
    skip_ws(ps);
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) return ps->p += n, 1;
    return 0;
}

/* Skips any JSON value (for keys this harness does not know). */
static int skip_value(Parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) return 0;
    Buf tmp = {0};
    double d;
    int ok;
    switch (*ps->p) {
        case '"': ok = parse_string(ps, &tmp); free(tmp.data); return ok;
        case 't': return parse_literal(ps, "true");
        case 'f': return parse_literal(ps, "false");
        case 'n': return parse_literal(ps, "null");
        case '[':
        case '{': {
            char close = *ps->p == '[' ? ']' : '}';
            ps->p++;
            if (expect(ps, close)) return 1;
            do {
                if (close == '}' && !(skip_value(ps) && expect(ps, ':'))) return 0;
                if (!skip_value(ps)) return 0;
            } while (expect(ps, ','));
            return expect(ps, close);
        }
        default: return parse_number(ps, &d);
    }
}

static int parse_argv(Parser *ps, Command *cmd) {
    if (!expect(ps, '[')) return 0;
    if (expect(ps, ']')) return 0; /* an empty argv runs nothing */
    do {
        Buf arg = {0};
        if (!parse_string(ps, &arg)) return free(arg.data), 0;
        cmd->argv = realloc(cmd->argv, sizeof(char *) * (size_t)(cmd->argc + 2));
        if (cmd->argv == NULL) die("out of memory");
        cmd->argv[cmd->argc++] = arg.data;
        cmd->argv[cmd->argc] = NULL;
    } while (expect(ps, ','));
    return expect(ps, ']');
}

static void command_free(Command *cmd) {
    free(cmd->code.data);
    free(cmd->file.data);
    free(cmd->data.data);
    free(cmd->stdin_data.data);
    for (int i = 0; i < cmd->argc; i++) free(cmd->argv[i]);
    free(cmd->argv);
}

static int parse_command(const char *line, size_t len, Command *cmd) {
    Parser ps = {line, line + len};
    memset(cmd, 0, sizeof *cmd);
    if (!expect(&ps, '{')) return 0;
    if (expect(&ps, '}')) return 1;
    Buf key = {0};
    int ok = 1;
    do {
        double number;
        if (!parse_string(&ps, &key) || !expect(&ps, ':')) {
            ok = 0;
            break;
        }
        const char *k = key.data;
        if (strcmp(k, "op") == 0) {
            Buf op = {0};
            ok = parse_string(&ps, &op) && op.len < sizeof cmd->op;
            if (ok) memcpy(cmd->op, op.data, op.len + 1);
            free(op.data);
        } else if (strcmp(k, "index") == 0) {
            ok = parse_number(&ps, &number);
            cmd->index = (long)number;
        } else if (strcmp(k, "code") == 0) {
            ok = parse_string(&ps, &cmd->code);
        } else if (strcmp(k, "file") == 0) {
            ok = parse_string(&ps, &cmd->file);
        } else if (strcmp(k, "data") == 0) {
            ok = parse_string(&ps, &cmd->data);
        } else if (strcmp(k, "argv") == 0) {
            ok = parse_argv(&ps, cmd);
        } else if (strcmp(k, "stdin") == 0) {
            if (!parse_literal(&ps, "null"))
                ok = cmd->has_stdin = parse_string(&ps, &cmd->stdin_data);
        } else if (strcmp(k, "timeout") == 0) {
            ok = parse_number(&ps, &cmd->timeout);
        } else if (strcmp(k, "idle") == 0) {
            ok = parse_number(&ps, &cmd->idle);
        } else if (strcmp(k, "next") == 0) {
            cmd->next = parse_literal(&ps, "true");
            ok = cmd->next || parse_literal(&ps, "false");
        } else if (strcmp(k, "output_bytes") == 0) {
            ok = parse_number(&ps, &number);
            cmd->output_bytes = (long)number;
        } else {
            ok = skip_value(&ps);
        }
    } while (ok && expect(&ps, ','));
    free(key.data);
    if (!ok || !expect(&ps, '}')) return 0;
    skip_ws(&ps);
    return ps.p == ps.end;
}

/* ---- processes ------------------------------------------------------------------------------ */

typedef struct {
    long index;
    pid_t pid;
    int status, exited;
    long limit, used;
    const char *reason;
    double started, deadline; /* deadline: the wall clock's (a check's limit, or idleness) */
    int interactive;          /* the time limit is CPU time; idle_s of no input ends the run */
    double idle_s, cpu_limit, cpu_base, next_cpu_check;
    double check_at; /* when the loop must look at the time again */
    int stdin_fd, out_fd[STREAM_COUNT]; /* -1 when closed; stdout, stderr, the prompt socket */
    Buf pending;
    Buf partial[STREAM_COUNT]; /* the incomplete UTF-8 sequence at the end of each stream */
    int close_stdin_when_flushed;
    int heap_exhausted; /* V8 said so on stderr: Node.js aborts before the cgroup's limit */
    int at_gate;        /* its prelude said GATE_READY: it waits for "go" */
    int go_sent, input_given; /* "go", a check's input: written (ahead, by ready_to_go) */
    int alongside;            /* prepared while a run's processes were alive */
    long oom_before;
} Child;

static Child *child;
static Child *prepared;  /* the next run's process, started ahead and waiting at its gate */
static Command *prepared_for; /* the file and argv it was started with */
static int runs_started; /* "prepare" is refused once a run has started in this container */

static long oom_kills(void) {
    for (size_t i = 0; i < sizeof OOM_FILES / sizeof *OOM_FILES; i++) {
        FILE *fh = fopen(OOM_FILES[i], "r");
        if (fh == NULL) continue;
        char line[256];
        long found = -1;
        while (fgets(line, sizeof line, fh))
            if (strncmp(line, "oom_kill ", 9) == 0) found = atol(line + 9);
        fclose(fh);
        if (found >= 0) return found;
    }
    return -1;
}

static void reap(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        Child *known[] = {child, prepared};
        for (int i = 0; i < 2; i++)
            if (known[i] != NULL && pid == known[i]->pid && !known[i]->exited) {
                known[i]->status = status;
                known[i]->exited = 1;
            }
    }
}

/* Kills every process in the container but this one (PID 1) and the next run's prepared
 * process, whatever its group, and waits (briefly) until they are gone: zombies would count
 * against the next run. */
static void kill_everything(void) {
    if (getpid() != 1) return; /* anywhere else this would reach the host's processes */
    double deadline = now() + SETTLE_S;
    for (;;) {
        int others = 0;
        DIR *proc = opendir("/proc");
        if (proc == NULL) return;
        struct dirent *entry;
        while ((entry = readdir(proc)) != NULL) {
            char *end;
            long pid = strtol(entry->d_name, &end, 10);
            if (*end != 0 || pid <= 1) continue;
            if (prepared != NULL && !prepared->exited && pid == prepared->pid) continue;
            others++;
            kill((pid_t)pid, SIGKILL);
        }
        closedir(proc);
        reap();
        if (others == 0 || now() > deadline) return;
        sleep_s(0.002);
    }
}

/* CPU seconds used by every process but this one, alive or reaped by it (a process's own reaped
 * children are in its cutime/cstime; orphans end up reaped here). */
static double cpu_used(void) {
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double total = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    DIR *proc = opendir("/proc");
    if (proc == NULL) return total;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end, path[64], line[1024];
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != 0 || pid <= 1) continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, line, sizeof line - 1);
        close(fd);
        if (n <= 0) continue;
        line[n] = 0;
        char *after = strrchr(line, ')'); /* the command's name may hold anything */
        unsigned long long ut, st, cut, cst;
        if (after != NULL &&
            sscanf(after + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                   &ut, &st, &cut, &cst) == 4)
            total += (double)(ut + st + cut + cst) / ticks;
    }
    closedir(proc);
    return total;
}

/* Empties the directory open at `fd` (and closes it), however deep its tree: one directory is open
 * at a time, so neither the descriptor limit (256 here) nor the stack bounds the depth. It goes
 * down into the first subdirectory that is not empty and back up through "..", which is where it
 * came from since no other process can move it (nothing is alive but, in a fresh container, a
 * prepared program waiting at its gate); a directory it could not empty is not entered again.
 * Never follows links. */
typedef struct { dev_t dev; ino_t ino; } Stuck;

static int is_stuck(const Stuck *stuck, size_t n, const struct stat *st) {
    for (size_t i = 0; i < n; i++)
        if (stuck[i].dev == st->st_dev && stuck[i].ino == st->st_ino) return 1;
    return 0;
}

static void empty_dir(int fd) {
    size_t depth = 0, nstuck = 0;
    Stuck *stuck = NULL;
    while (fd >= 0) {
        DIR *dir = fdopendir(fd);
        if (dir == NULL) {
            close(fd);
            break;
        }
        int down = -1, failed = 0;
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            const char *name = entry->d_name;
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
            struct stat st;
            if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue; /* gone */
            if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(fd, name, 0) != 0) failed = 1;
                continue;
            }
            if (unlinkat(fd, name, AT_REMOVEDIR) == 0) continue; /* empty already */
            if (is_stuck(stuck, nstuck, &st)) {
                failed = 1;
                continue;
            }
            fchmodat(fd, name, 0700, 0); /* a program may lock its own directory (mode 000) */
            down = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (down >= 0) break;
            failed = 1;
        }
        if (down >= 0) { /* empty that one first, then come back and scan this one again */
            closedir(dir);
            fd = down;
            depth++;
            continue;
        }
        if (depth == 0) {
            closedir(dir);
            break;
        }
        if (failed) { /* never enter it again: its parent leaves it where it is */
            struct stat self;
            if (fstat(fd, &self) == 0) {
                stuck = realloc(stuck, (nstuck + 1) * sizeof *stuck);
                if (stuck == NULL) die("out of memory");
                stuck[nstuck++] = (Stuck){self.st_dev, self.st_ino};
            }
        }
        fd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        closedir(dir);
        depth--;
    }
    free(stuck);
}

/* Whether the directory at `path` has nothing in it (or does not exist). */
static int dir_is_empty(const char *path) {
    DIR *dir = opendir(path);
    if (dir == NULL) return errno == ENOENT || errno == EACCES; /* absent, or nobody's to fill */
    struct dirent *entry;
    int empty = 1;
    while (empty && (entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) empty = 0;
    closedir(dir);
    return empty;
}

/* System V IPC objects outlive their processes: remove every one this uid can. */
static void remove_sysv_ipc(void) {
    static const char *const TABLES[] = {
        "/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem",
    };
    for (int t = 0; t < 3; t++) {
        FILE *fh = fopen(TABLES[t], "r");
        if (fh == NULL) continue;
        char line[512];
        long key;
        int id;
        if (fgets(line, sizeof line, fh) != NULL) /* the header */
            while (fgets(line, sizeof line, fh) != NULL)
                if (sscanf(line, "%ld %d", &key, &id) == 2) {
                    if (t == 0) shmctl(id, IPC_RMID, NULL);
                    else if (t == 1) msgctl(id, IPC_RMID, NULL);
                    else semctl(id, 0, IPC_RMID);
                }
        fclose(fh);
    }
}

static void clean_workdir(void) {
    if (getpid() != 1) return; /* anywhere else this would empty the host's /tmp */
    const char *tops[] = {WORKDIR, "/dev/shm", "/dev/mqueue"};
    for (size_t i = 0; i < sizeof tops / sizeof *tops; i++) {
        int fd = open(tops[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) empty_dir(fd);
        if (!dir_is_empty(tops[i])) die("cannot empty %s: the next run would inherit it", tops[i]);
    }
    remove_sysv_ipc();
}

/* A process of the same uid may lower PID 1's resource limits (prlimit), its priority
 * (setpriority, SCHED_IDLE) or its CPUs (sched_setaffinity): nothing in the kernel stops it, even
 * from a non-dumpable PID 1, and every later run would inherit them. */
static struct rlimit base_limits[RLIM_NLIMITS];
static int base_nice, base_policy, base_ioprio;
static cpu_set_t base_cpus;

static void snapshot_process_state(void) {
    for (int r = 0; r < RLIM_NLIMITS; r++) getrlimit(r, &base_limits[r]);
    base_nice = getpriority(PRIO_PROCESS, 0);
    base_policy = sched_getscheduler(0);
    sched_getaffinity(0, sizeof base_cpus, &base_cpus);
    base_ioprio = (int)syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
}

/* Puts back what can be put back. What cannot (a lowered hard limit, a raised nice value) makes
 * this container unfit for another run: returns what a program changed, NULL when all is back. */
static const char *restore_process_state(void) {
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit now;
        if (getrlimit(r, &now) != 0) continue;
        if (now.rlim_cur == base_limits[r].rlim_cur && now.rlim_max == base_limits[r].rlim_max)
            continue;
        if (setrlimit(r, &base_limits[r]) != 0) return "a resource limit was lowered";
    }
    if (getpriority(PRIO_PROCESS, 0) != base_nice && setpriority(PRIO_PROCESS, 0, base_nice) != 0)
        return "the priority was lowered";
    if (sched_getscheduler(0) != base_policy) {
        struct sched_param param = {0};
        if (sched_setscheduler(0, base_policy, &param) != 0)
            return "the scheduling policy was changed";
    }
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && !CPU_EQUAL(&cpus, &base_cpus) &&
        sched_setaffinity(0, sizeof base_cpus, &base_cpus) != 0)
        return "the CPU affinity was changed";
    return NULL;
}

static sigset_t sigchld_set;

/* In a new child, before exec: what this process shields and blocks must not be inherited. */
static void reset_signals(void) {
    for (size_t i = 0; i < sizeof SHIELDED_SIGNALS / sizeof *SHIELDED_SIGNALS; i++)
        signal(SHIELDED_SIGNALS[i], SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &sigchld_set, NULL);
}

static void child_flush(Child *c);
static void child_close_stdin(Child *c);
static int child_poll_exit(Child *c);

/* Writes the run's program into the working directory: 0, or why not (an errno). */
static int write_program(Command *cmd) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", WORKDIR, cmd->file.data ? cmd->file.data : "main");
    int file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (file < 0) return errno;
    ssize_t written = cmd->code.len ? write(file, cmd->code.data, cmd->code.len) : 0;
    int saved = written < 0 ? errno : ENOSPC; /* a short write: /tmp is full */
    close(file);
    return written == (ssize_t)cmd->code.len ? 0 : saved;
}

/* Starts `cmd`'s argv, which waits at its gate; on failure returns NULL with errno set and
 * nothing left open. */
static Child *child_spawn(Command *cmd) {
    if (cmd->argc == 0) return errno = EINVAL, NULL;
    int fds[4][2]; /* stdin, stdout, stderr: pipes; the prompt channel: a socket pair */
    for (int i = 0; i < 4; i++) {
        int made = i < 3 ? pipe2(fds[i], O_CLOEXEC)
                         : socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds[i]);
        if (made < 0) {
            int saved = errno;
            for (int j = 0; j < i; j++) close(fds[j][0]), close(fds[j][1]);
            return errno = saved, NULL;
        }
    }
    Child *c = calloc(1, sizeof *c);
    if (c == NULL) die("out of memory");
    int theirs[4] = {fds[0][0], fds[1][1], fds[2][1], fds[3][1]};
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        for (int i = 0; i < 4; i++) dup2(theirs[i], i);
        close_from(4);
        if (chdir(START_DIR) == 0) {
            reset_signals();
            execve(cmd->argv[0], cmd->argv, CHILD_ENV);
        }
        _exit(127);
    }
    int saved = errno;
    for (int i = 0; i < 4; i++) close(theirs[i]);
    if (pid < 0) {
        close(fds[0][1]), close(fds[1][0]), close(fds[2][0]), close(fds[3][0]);
        free(c);
        return errno = saved, NULL;
    }
    c->pid = pid;
    c->stdin_fd = fds[0][1];
    c->out_fd[0] = fds[1][0];
    c->out_fd[1] = fds[2][0];
    c->out_fd[PROMPT] = fds[3][0];
    set_nonblocking(c->stdin_fd);
    for (int s = 0; s < STREAM_COUNT; s++) set_nonblocking(c->out_fd[s]);
    return c;
}

/* Opens a started child's gate and gives it a check's whole input, then end of file. */
static void child_give_go(Child *c, const Command *cmd) {
    if (!c->go_sent) send(c->out_fd[PROMPT], "", 1, MSG_DONTWAIT | MSG_NOSIGNAL); /* go */
    c->go_sent = 1;
    if (c->input_given || !cmd->has_stdin) return;
    c->input_given = c->close_stdin_when_flushed = 1;
    size_t len = cmd->stdin_data.len;
    buf_add(&c->pending, cmd->stdin_data.data, len < STDIN_BUFFER_MAX ? len : STDIN_BUFFER_MAX);
    child_flush(c);
}

/* Makes a started child run `cmd`, whose file is in place: its clock starts, its gate opens. */
static void child_go(Child *c, Command *cmd, long oom_before) {
    c->index = cmd->index;
    c->limit = cmd->output_bytes;
    c->oom_before = oom_before;
    c->started = now();
    c->interactive = !cmd->has_stdin && cmd->idle > 0;
    if (c->interactive) {
        c->idle_s = cmd->idle;
        c->deadline = c->started + cmd->idle;
        c->cpu_limit = cmd->timeout;
        c->cpu_base = cpu_used(); /* the runs before, and a prepared process's start-up */
        c->next_cpu_check = c->started;
    } else {
        c->deadline = c->started + cmd->timeout;
    }
    c->check_at = c->started;
    child_give_go(c, cmd);
}

/* Closes what the harness holds of a child that never ran (its process is killed already). */
static void child_discard(Child *c) {
    free(c->pending.data);
    if (c->stdin_fd >= 0) close(c->stdin_fd);
    for (int s = 0; s < STREAM_COUNT; s++)
        if (c->out_fd[s] >= 0) close(c->out_fd[s]);
    free(c);
}

static int same_program(const Command *a, const Command *b) {
    const char *fa = a->file.data ? a->file.data : "", *fb = b->file.data ? b->file.data : "";
    if (strcmp(fa, fb) != 0 || a->argc != b->argc) return 0;
    for (int i = 0; i < a->argc; i++)
        if (strcmp(a->argv[i], b->argv[i]) != 0) return 0;
    return 1;
}

/* Whether the pending-signal masks in /proc/<pid>[/task/<tid>]/status are all empty and the
 * process is neither stopped nor traced. */
static int status_clean(const char *path) {
    FILE *fh = fopen(path, "r");
    if (fh == NULL) return 0;
    char line[256];
    int clean = 1;
    while (clean && fgets(line, sizeof line, fh)) {
        char *value = strchr(line, ':');
        if (value == NULL) continue;
        *value++ = 0;
        while (*value == ' ' || *value == '\t') value++;
        if (strcmp(line, "State") == 0)
            clean = *value != 'T' && *value != 't' && *value != 'Z' && *value != 'X';
        else if (strcmp(line, "SigPnd") == 0 || strcmp(line, "ShdPnd") == 0)
            clean = strspn(value, "0") == strcspn(value, "\n");
        else if (strcmp(line, "TracerPid") == 0)
            clean = atol(value) == 0;
    }
    fclose(fh);
    return clean;
}

/* Whether a process started alongside a run is exactly as it was started, now that the run's
 * processes are gone. Those had the same uid, and the kernel lets a process of the same uid:
 *  - ptrace it, read or write its memory, open its descriptors (/proc/<pid>/mem, fd): not a
 *    process that is not dumpable, which an interpreter is when its binary is execute-only
 *    (would_dump(): the images make it so for runc); checked here through /proc/<pid>/environ;
 *  - signal it: one that kills it is seen (exited), a stop, a blocked or pending one here;
 *  - lower its resource limits, priority, scheduling policy, CPUs or I/O priority (prlimit,
 *    setpriority, sched_setscheduler, sched_setaffinity, ioprio_set): compared with PID 1's own,
 *    which the process inherited when it was started (the seccomp profile refuses prlimit on
 *    another process under runc, since a limit lowered and restored would not be seen here).
 * Anything else found: it is killed, and the run starts its program afresh. */
static int untouched(const Child *c) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)c->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || errno != EACCES) { /* readable by this uid: so was it by the run's processes */
        if (fd >= 0) close(fd);
        return 0;
    }
    snprintf(path, sizeof path, "/proc/%d/status", (int)c->pid);
    if (!status_clean(path)) return 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)c->pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL) return 0;
    struct dirent *entry;
    int clean = 1;
    while (clean && (entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char task[96];
        snprintf(task, sizeof task, "/proc/%d/task/%.16s/status", (int)c->pid, entry->d_name);
        clean = status_clean(task);
    }
    closedir(tasks);
    if (!clean) return 0;
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit now;
        if (prlimit(c->pid, r, NULL, &now) != 0 || now.rlim_cur != base_limits[r].rlim_cur ||
            now.rlim_max != base_limits[r].rlim_max)
            return 0;
    }
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)c->pid);
    if (errno != 0 || nice != base_nice || sched_getscheduler(c->pid) != base_policy) return 0;
    cpu_set_t cpus;
    if (sched_getaffinity(c->pid, sizeof cpus, &cpus) != 0 || !CPU_EQUAL(&cpus, &base_cpus))
        return 0;
    return syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, c->pid) == base_ioprio;
}

/* A command with `cmd`'s file and argv only, owned by the caller. */
static Command *program_of(const Command *cmd) {
    Command *copy = calloc(1, sizeof *copy);
    if (copy == NULL) die("out of memory");
    if (cmd->file.data != NULL) { /* a string, as parse_string leaves it: NUL after its length */
        buf_add(&copy->file, cmd->file.data, cmd->file.len + 1);
        copy->file.len = cmd->file.len;
    }
    copy->argv = calloc((size_t)cmd->argc + 1, sizeof(char *));
    if (copy->argv == NULL) die("out of memory");
    for (copy->argc = 0; copy->argc < cmd->argc; copy->argc++)
        if ((copy->argv[copy->argc] = strdup(cmd->argv[copy->argc])) == NULL) die("out of memory");
    return copy;
}

/* Starts `program` (owned from now on) as the prepared process, waiting at its gate. If it cannot
 * start (e.g. the process limit), nothing is prepared: the run starts its program itself, or
 * says why it cannot. */
static void prepare(Command *program, int alongside) {
    prepared = child_spawn(program);
    if (prepared == NULL) {
        command_free(program);
        free(program);
        return;
    }
    prepared->alongside = alongside;
    prepared_for = program;
}

/* Whether `n` bytes read from a prompt channel are exactly its prelude's GATE_READY. */
static int is_gate_ready(const char *message, ssize_t n) {
    return n == (ssize_t)strlen(GATE_READY) && memcmp(message, GATE_READY, (size_t)n) == 0;
}

/* Whether a prepared process has reached its gate: its prelude's GATE_READY, waited for up to
 * GATE_READY_WAIT_MS (it may still be starting). Anything else on its prompt channel, its end,
 * or silence: it is not used. */
static int reached_gate(Child *c) {
    if (c->at_gate) return 1;
    struct pollfd at = {.fd = c->out_fd[PROMPT], .events = POLLIN};
    if (poll(&at, 1, GATE_READY_WAIT_MS) != 1) return 0;
    char message[sizeof GATE_READY];
    ssize_t n = recv(c->out_fd[PROMPT], message, sizeof message, MSG_DONTWAIT);
    c->at_gate = is_gate_ready(message, n);
    return c->at_gate;
}

/* Kills a prepared process that will not be used (it is no longer `prepared`: not spared). */
static Child *prepared_discard(Child *c) {
    kill_everything();
    child_discard(c);
    return NULL;
}

/* The prepared process, if it is alive and was started for `cmd`'s program; otherwise it is
 * killed and NULL is returned. Either way nothing is prepared any more. */
static Child *take_prepared(Command *cmd) {
    Child *c = prepared;
    Command *was = prepared_for;
    prepared = NULL, prepared_for = NULL;
    if (c == NULL) return NULL;
    int usable = !child_poll_exit(c) && same_program(was, cmd);
    command_free(was);
    free(was);
    return usable ? c : prepared_discard(c);
}

static void prepare_alongside(const Command *cmd);

/* `c`, the prepared process taken for `cmd`, if (started alongside a run) it is untouched and
 * it has reached its gate; otherwise it is killed and NULL is returned. Asked once the run's file
 * is in place, so "go" and the input are written first: one still starting goes through its gate
 * as soon as it gets there, and the wait for its GATE_READY costs nothing more (its run's clock
 * starts right after). What it changes itself after untouched() (the run's processes are gone)
 * is its own doing. */
static Child *ready_to_go(Child *c, const Command *cmd) {
    if (c == NULL) return NULL;
    if (c->alongside && !untouched(c)) return prepared_discard(c);
    child_give_go(c, cmd);
    /* the next run's interpreter starts now, not once this one is through its gate */
    prepare_alongside(cmd);
    return reached_gate(c) ? c : prepared_discard(c);
}

static void child_feed(Child *c, const char *data, size_t len) {
    if (c->stdin_fd < 0) return;
    size_t room = STDIN_BUFFER_MAX > c->pending.len ? STDIN_BUFFER_MAX - c->pending.len : 0;
    buf_add(&c->pending, data, len < room ? len : room);
    child_flush(c);
}

static void child_flush(Child *c) {
    if (c->stdin_fd < 0) return;
    while (c->pending.len > 0) {
        ssize_t n = write(c->stdin_fd, c->pending.data, c->pending.len);
        if (n < 0) {
            if (errno == EAGAIN) return;
            if (errno == EINTR) continue;
            c->pending.len = 0; /* EPIPE: the program no longer reads */
            break;
        }
        buf_drop(&c->pending, (size_t)n);
    }
    if (c->close_stdin_when_flushed) child_close_stdin(c);
}

static void child_close_stdin(Child *c) {
    if (c->pending.len > 0) {
        c->close_stdin_when_flushed = 1;
        return;
    }
    if (c->stdin_fd >= 0) close(c->stdin_fd);
    c->stdin_fd = -1;
}

static void child_stop(Child *c, const char *reason) {
    if (c->reason == NULL) c->reason = reason;
    kill_everything();
}

static const char *const STREAMS[STREAM_COUNT] = {"stdout", "stderr", "prompt"};

/* Reads what stream `s` has; returns the bytes read (0 at end of file, -1 if none now). */
static ssize_t child_read(Child *c, int s) {
    static char chunk[READ_SIZE];
    int fd = c->out_fd[s];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) return -1;
    Buf text = {0};
    Buf *partial = &c->partial[s];
    if (n == 0) {
        close(fd);
        c->out_fd[s] = -1;
        utf8_decode((unsigned char *)partial->data, partial->len, &text, 1);
        partial->len = 0;
    } else {
        long room = c->limit - c->used;
        if (n > room) {
            n = room > 0 ? room : 0;
            child_stop(c, "output_limit");
        }
        c->used += n;
        if (s == 1 && memmem(chunk, (size_t)n, HEAP_EXHAUSTED, strlen(HEAP_EXHAUSTED)) != NULL)
            c->heap_exhausted = 1;
        buf_add(partial, chunk, (size_t)n);
        size_t left = utf8_decode((unsigned char *)partial->data, partial->len, &text, 0);
        buf_drop(partial, partial->len - left);
    }
    emit_out(c->index, STREAMS[s], text.data, text.len);
    free(text.data);
    return n;
}

static int child_poll_exit(Child *c) {
    if (!c->exited) {
        int status;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) c->status = status, c->exited = 1;
    }
    return c->exited;
}

/* Ends the run whose time is up; returns when it should be checked again (absolute). */
static double child_check_time(Child *c) {
    double t = now();
    if (t >= c->deadline) {
        child_stop(c, c->interactive ? "idle" : "timeout");
        return t;
    }
    if (!c->interactive) return c->deadline;
    if (t >= c->next_cpu_check) {
        double left = c->cpu_limit - (cpu_used() - c->cpu_base);
        if (left <= 0) {
            child_stop(c, "timeout");
            return t;
        }
        /* not before every CPU we may use could have burnt what is left */
        cpu_set_t cpus;
        int n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
        double wait = left / (n > 0 ? n : 1);
        c->next_cpu_check = t + (wait > CPU_CHECK_MIN_S ? wait : CPU_CHECK_MIN_S);
    }
    return c->next_cpu_check < c->deadline ? c->next_cpu_check : c->deadline;
}

/* One question on the prompt channel: what the program printed before it is reported first (the
 * program is blocked until the acknowledgement, so nothing it prints after can be there yet). */
static void child_prompt(Child *c) {
    if (!c->at_gate) { /* a fresh run's process: its gate's message comes first, unanswered */
        char message[sizeof GATE_READY];
        ssize_t n = recv(c->out_fd[PROMPT], message, sizeof message, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) return;
        c->at_gate = 1;
        if (is_gate_ready(message, n)) {
            recv(c->out_fd[PROMPT], message, sizeof message, MSG_DONTWAIT);
            return;
        }
    }
    for (int s = 0; s < PROMPT; s++)
        while (c->out_fd[s] >= 0 && child_read(c, s) > 0) {
        }
    if (c->out_fd[PROMPT] >= 0 && child_read(c, PROMPT) > 0 && c->out_fd[PROMPT] >= 0)
        send(c->out_fd[PROMPT], "", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void child_finish(Child *c) {
    for (int s = 0; s < STREAM_COUNT; s++) {
        while (c->out_fd[s] >= 0) {
            long before = c->used;
            ssize_t n = child_read(c, s);
            if (n < 0 || (c->out_fd[s] >= 0 && c->used == before))
                break; /* nothing more right now; a straggler holds the pipe open */
        }
    }
    kill_everything();
    for (int s = 0; s < STREAM_COUNT; s++) {
        if (c->out_fd[s] >= 0) close(c->out_fd[s]);
        Buf text = {0};
        utf8_decode((unsigned char *)c->partial[s].data, c->partial[s].len, &text, 1);
        emit_out(c->index, STREAMS[s], text.data, text.len);
        free(text.data);
        free(c->partial[s].data);
    }
    if (c->stdin_fd >= 0) close(c->stdin_fd);
    free(c->pending.data);
    int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -WTERMSIG(c->status);
    const char *outcome;
    if (c->reason) {
        outcome = c->reason;
    } else {
        long oom_after = oom_kills();
        int counted = c->oom_before >= 0 && oom_after >= 0;
        if ((counted && oom_after > c->oom_before) ||
            /* no OOM counter (gVisor): SIGKILL is our best guess */
            (!counted && code == -SIGKILL) ||
            (c->heap_exhausted && (code == -SIGABRT || code == 128 + SIGABRT)))
            outcome = "memory";
        else if (code == -SIGKILL)
            outcome = "killed"; /* a SIGKILL the OOM counter does not account for */
        else
            outcome = code == 0 ? "ok" : "error";
    }
    emit_exit(c->index, outcome, 1, code, (now() - c->started) * 1000);
    free(c);
}

/* Starts the next run's interpreter while this run goes on ("next": another run of the same
 * program follows): it boots on the container's other CPU time and waits at its gate, and
 * ready_to_go checks it was left alone before that run opens its gate. Only for a run with given
 * input: an interactive run's CPU limit counts every process but PID 1. */
static void prepare_alongside(const Command *cmd) {
    if (!cmd->next || !cmd->has_stdin || getpid() != 1 || prepared != NULL) return;
    prepare(program_of(cmd), 1);
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void handle(Command *cmd) {
    if (strcmp(cmd->op, "ping") == 0) {
        emit_simple("{\"ev\":\"pong\"}\n");
    } else if (strcmp(cmd->op, "prepare") == 0) {
        /* Only ever before the first run, and only as PID 1: elsewhere nothing could kill it. */
        if (runs_started || prepared != NULL || getpid() != 1) return;
        prepare(program_of(cmd), 0);
    } else if (strcmp(cmd->op, "run") == 0 && child == NULL) {
        runs_started = 1;
        const char *unfit = getpid() == 1 ? restore_process_state() : NULL;
        if (unfit != NULL) { /* the learner's doing: this run is an error, and the last one */
            emit_start(cmd->index, 0);
            emit_exit(cmd->index, "error", 0, 0, 0.0);
            die("%s by a program: no further run in this container", unfit);
        }
        long oom_before = oom_kills(); /* before anything of this run can be killed */
        Child *ready = take_prepared(cmd);
        clean_workdir();
        int error = write_program(cmd);
        if (error == 0) ready = ready_to_go(ready, cmd); /* "go" only once the file is there */
        int was_prepared = ready != NULL;
        if (error == 0 && ready == NULL && (ready = child_spawn(cmd)) == NULL) error = errno;
        emit_start(cmd->index, was_prepared && error == 0);
        if (error == 0) {
            child = ready;
            child_go(child, cmd, oom_before);
            prepare_alongside(cmd);
        } else { /* e.g. EAGAIN: the process limit is reached; ENOSPC: /tmp is full */
            kill_everything();
            if (ready != NULL) child_discard(ready);
            Buf text = {0};
            buf_printf(&text, "OSError: %s\n", strerror(error));
            emit_out(cmd->index, "stderr", text.data, text.len);
            free(text.data);
            emit_exit(cmd->index, "error", 0, 0, 0.0);
        }
    } else if (child == NULL) {
        /* nothing runs: stdin, eof and kill have nothing to act on */
    } else if (strcmp(cmd->op, "stdin") == 0) {
        child_feed(child, cmd->data.data, cmd->data.len);
        if (child->interactive) child->deadline = now() + child->idle_s;
    } else if (strcmp(cmd->op, "eof") == 0) {
        child_close_stdin(child);
        if (child->interactive) child->deadline = now() + child->idle_s;
    } else if (strcmp(cmd->op, "kill") == 0) {
        child_stop(child, "stopped");
    }
}

int main(void) {
    /* Non-dumpable: the learner's processes (same uid) cannot open /proc/1/fd or ptrace us. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    snapshot_process_state();
    /* PID 1 receives only the signals it handles: ignore them all; learner code cannot end us. */
    for (size_t i = 0; i < sizeof SHIELDED_SIGNALS / sizeof *SHIELDED_SIGNALS; i++)
        signal(SHIELDED_SIGNALS[i], SIG_IGN);
    sigemptyset(&sigchld_set);
    sigaddset(&sigchld_set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigchld_set, NULL);
    int wake = signalfd(-1, &sigchld_set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (wake < 0) die("signalfd: %s", strerror(errno));
    set_nonblocking(0);
    emit_simple("{\"ev\":\"ready\"}\n");

    Buf commands = {0};
    int commands_closed = 0;
    while (!commands_closed || child != NULL) {
        struct pollfd fds[3 + STREAM_COUNT];
        int n = 0;
        fds[n++] = (struct pollfd){wake, POLLIN, 0};
        int commands_at = -1, stdin_at = -1, out_at[STREAM_COUNT] = {-1, -1, -1};
        if (!commands_closed) commands_at = n, fds[n++] = (struct pollfd){0, POLLIN, 0};
        int timeout = -1;
        if (child != NULL) {
            for (int s = 0; s < STREAM_COUNT; s++)
                if (child->out_fd[s] >= 0)
                    out_at[s] = n, fds[n++] = (struct pollfd){child->out_fd[s], POLLIN, 0};
            if (child->pending.len > 0 && child->stdin_fd >= 0)
                stdin_at = n, fds[n++] = (struct pollfd){child->stdin_fd, POLLOUT, 0};
            double left = child->check_at - now();
            timeout = left < 0.01 ? 10 : (int)(left * 1000) + 1;
        }
        if (poll(fds, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR) continue;
            die("poll: %s", strerror(errno));
        }
        if (fds[0].revents) {
            struct signalfd_siginfo info;
            while (read(wake, &info, sizeof info) > 0) {
            }
            reap(); /* orphans the program left: they must not fill the process table */
        }
        if (commands_at >= 0 && fds[commands_at].revents) {
            char chunk[READ_SIZE];
            ssize_t got = read(0, chunk, sizeof chunk);
            if (got == 0) {
                commands_closed = 1;
            } else if (got > 0) {
                buf_add(&commands, chunk, (size_t)got);
                char *newline;
                while ((newline = memchr(commands.data, '\n', commands.len)) != NULL) {
                    size_t len = (size_t)(newline - commands.data);
                    Command cmd;
                    int blank = 1;
                    for (size_t i = 0; i < len; i++)
                        if (!strchr(" \r\t", commands.data[i])) blank = 0;
                    if (!blank) {
                        if (!parse_command(commands.data, len, &cmd)) die("malformed command");
                        handle(&cmd);
                        command_free(&cmd);
                    }
                    buf_drop(&commands, len + 1);
                }
            }
        }
        if (child == NULL) continue;
        for (int s = 0; s < PROMPT; s++)
            if (out_at[s] >= 0 && fds[out_at[s]].revents && child->out_fd[s] >= 0)
                child_read(child, s);
        if (out_at[PROMPT] >= 0 && fds[out_at[PROMPT]].revents) child_prompt(child);
        if (stdin_at >= 0 && fds[stdin_at].revents) child_flush(child);
        if (!child_poll_exit(child)) child->check_at = child_check_time(child);
        if (child_poll_exit(child)) {
            Child *done = child;
            child_finish(done);
            child = NULL;
        }
    }
    return 0;
}
