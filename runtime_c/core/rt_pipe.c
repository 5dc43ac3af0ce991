/*
 * The pipeline executor (docs/pipeline.md, section 9 for this implementation): one deployment
 * of EVP module instances, each running its module's main (_start) as a cooperative task
 * (rt_os_task_*), wired by publish/subscribe routes, with bounded inbound queues, restarts
 * and status. The EVP SDK imports (env.EVP_*, docs/abi.md section 6) are here too: they are
 * the tasks' only yield points. The serve loop (rt_device.c) runs the tasks between protocol
 * frames (rt_pipe_run) and hands PIPE_* requests to rt_pipe_request.
 *
 * Everything runs on one thread: a task runs until it calls EVP_processEvent (every call
 * yields once, so tasks take turns) or waits for queue space in EVP_sendMessage; the serve
 * loop's own code runs only while every task is switched out. No locking is needed.
 *
 * Memory: task contexts and stacks, queues, message payloads (reference counted: one copy per
 * message, however many receivers), configuration values and staged external payloads come
 * from the accounted heap; payloads in flight are bounded by RT_PIPE_PAYLOAD_BUDGET.
 */
#include "rt_pipe.h"

#include <string.h>

#include "rt_internal.h"
#include "rt_platform.h"

#ifndef RT_TASK_STACK_BYTES
#define RT_TASK_STACK_BYTES (64u * 1024u)
#endif
#ifndef RT_PIPE_MAX_ROUTES
#define RT_PIPE_MAX_ROUTES 32u
#endif
#ifndef RT_PIPE_MAX_CONFIGS
#define RT_PIPE_MAX_CONFIGS 16u
#endif
#ifndef RT_PIPE_MAX_QUEUE
#define RT_PIPE_MAX_QUEUE 64u
#endif
#ifndef RT_PIPE_OUTBOX_BYTES
#define RT_PIPE_OUTBOX_BYTES 4096u
#endif
#ifndef RT_PIPE_MAX_MESSAGE_BYTES
#define RT_PIPE_MAX_MESSAGE_BYTES (64u * 1024u)
#endif
#ifndef RT_PIPE_PAYLOAD_BUDGET
#define RT_PIPE_PAYLOAD_BUDGET (RT_HEAP_BUDGET_BYTES / 4u)
#endif
#define RT_PIPE_MAX_COMPLETIONS 16u
#define RT_PIPE_RECORD_VALUE_MAX 512u
#define RT_PIPE_TOPIC_MAX 64u
#define RT_PIPE_DEFAULT_QUEUE 16u
#define RT_PIPE_DEFAULT_SEND_MS 1000u
#define RT_PIPE_DEFAULT_GRACE_MS 2000u
#define RT_PIPE_BACKOFF_FIRST_MS 50u
#define RT_PIPE_BACKOFF_MAX_MS 2000u
#define RT_PIPE_MAX_TELEMETRY 1000u

/* EVP_RESULT and callback reasons (docs/abi.md section 6). */
#define EVP_HANDLE 0x1234u
enum {
    EVP_OK = 0,
    EVP_SHOULDEXIT = 1,
    EVP_TIMEDOUT = 2,
    EVP_ERROR = 3,
    EVP_INVAL = 4,
    EVP_NOMEM = 5,
    EVP_TOOBIG = 6,
    EVP_FAULT = 10,
    EVP_DENIED = 11,
    EVP_NOTSUP = 12
};
enum { REASON_SENT = 0, REASON_ERROR = 1 };

/* Deployment state and instance status: docs/protocol.md 4.1. */
enum { DS_EMPTY = 0, DS_BINDING = 1, DS_RUNNING = 2, DS_STOPPING = 3, DS_STOPPED = 4 };
enum {
    IS_UNKNOWN = 0,
    IS_OK = 1,
    IS_ERROR = 2, /* for good: no restart left */
    IS_SELF_EXITING = 3,
    IS_STOPPED = 4,
    IS_RESTARTING = 5 /* failed, its restart pending */
};
enum { REC_STATE = 0, REC_TELEMETRY = 1, REC_STATUS = 2, REC_LOG = 3, REC_TRUNCATED = 0x80 };

/* Task states. */
enum {
    T_NONE = 0,   /* no task: not started, ended, or waiting for a restart (restart_at) */
    T_READY,      /* runnable */
    T_RUNNING,    /* switched in */
    T_WAIT_EVENT, /* in EVP_processEvent: until an event or wake_us */
    T_WAIT_SEND,  /* in EVP_sendMessage: until a queue drains or wake_us */
    T_DONE        /* main returned: the serve loop frees the task */
};

typedef struct {
    uint32_t refs;
    uint32_t len;
    uint8_t data[]; /* payload */
} pipe_msg_t;

typedef struct {
    pipe_msg_t *msg;
    uint8_t route; /* the receiver's subscribe route: its alias */
} queue_slot_t;

typedef struct {
    uint32_t cb, user, reason;
} completion_t;

typedef struct {
    bool used;
    uint8_t inst;
    uint8_t dir; /* 0 publish, 1 subscribe */
    char alias[RT_PIPE_TOPIC_MAX + 1];
    char topic[RT_PIPE_TOPIC_MAX + 1];
} route_t;

typedef struct {
    bool used;
    uint8_t inst;
    char topic[RT_PIPE_TOPIC_MAX + 1];
    uint8_t *value;
    uint32_t len;
} config_t;

typedef struct rt_pipe_inst {
    bool used;
    char name[RT_NAME_MAX + 1];
    char module[RT_NAME_MAX + 1];
    uint8_t sha256[32]; /* the module, for restarts */
    /* limits */
    uint32_t memory_bytes, handler_ms, send_ms;
    uint16_t queue_depth;
    uint8_t max_restarts;
    /* status */
    uint8_t status, restarts;
    char failure[RT_MSG_MAX];
    uint32_t received, sent, denied, dropped;
    uint16_t queue_hw;
    /* the current life */
    rt_instance_t *rt;
    uint32_t cfg_cb, cfg_user, msg_cb, msg_user, rpc_cb;
    bool cfg_set, msg_set, rpc_set;
    uint32_t cfg_next; /* configs delivered so far (index into g_tab->configs order) */
    uint32_t workspace_ptr;
    completion_t done[RT_PIPE_MAX_COMPLETIONS];
    uint32_t done_head, done_len;
    const char *in_callback; /* "message callback" while one runs: prefixes a failure */
    const char *failed_in;
    /* inbound queue: kept across restarts */
    queue_slot_t *queue;
    uint32_t q_head, q_len;
    pipe_msg_t *inflight; /* popped, its callback running (an engine may unwind past it) */
    /* task */
    uint8_t tstate;
    void *ctx;
    uint8_t *stack;
    uint64_t wake_us;    /* WAIT_*: deadline (0: none) */
    uint64_t restart_at; /* T_NONE after a failure: when to restart (0: never) */
    uint32_t wait_gen;
    uint32_t stack_hw; /* deepest use of a task stack so far (painted) */
    bool killed;
    rt_call_result_t end;
} pipe_inst_t;

static pipe_inst_t g_insts[RT_MAX_INSTANCES];
/* Routes, configuration and the outbox (~10 KB): from the heap while a deployment exists, so a
 * device that runs none keeps that RAM (qemu-rv32 has 400 KiB in all). */
typedef struct {
    route_t routes[RT_PIPE_MAX_ROUTES];
    config_t configs[RT_PIPE_MAX_CONFIGS];
    uint8_t outbox[RT_PIPE_OUTBOX_BYTES];
} pipe_tables_t;
static pipe_tables_t *g_tab;
static uint8_t g_state = DS_EMPTY;
static uint64_t g_stop_at;
static void *g_main_ctx;
static uint32_t g_pop_gen; /* bumped when queue space appears (senders re-check) */
static uint32_t g_payload_bytes;
static uint32_t g_outbox_len, g_outbox_dropped;
/* PIPE_PUBLISH parts staged with MORE */
static uint8_t *g_stage;
static uint32_t g_stage_len;
static char g_stage_topic[RT_PIPE_TOPIC_MAX + 1];

bool rt_pipe_supported(void) {
    return rt_eng_can_run_tasks() && rt_os_task_ctx_size() > 0;
}

static uint64_t now_us(void) {
    return rt_os_time_us();
}

static uint32_t index_of(const pipe_inst_t *p) {
    return (uint32_t)(p - g_insts);
}

/* ---- outbox: encoded POLL records, oldest first ---- */

static void put_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void outbox_add(uint8_t kind, const pipe_inst_t *p, const char *key, uint8_t a, uint8_t b,
                       const uint8_t *value, uint32_t len) {
    uint8_t code = kind;
    if (len > RT_PIPE_RECORD_VALUE_MAX) {
        len = RT_PIPE_RECORD_VALUE_MAX;
        code |= REC_TRUNCATED;
    }
    size_t nlen = strlen(p->name), klen = key ? strlen(key) : 0;
    uint32_t mid = kind == REC_STATUS ? 2u : kind == REC_LOG ? 0u : 1u + (uint32_t)klen;
    uint32_t need = (uint32_t)(1u + 1u + nlen + mid + 2u + len);
    if (need > sizeof g_tab->outbox - g_outbox_len) {
        g_outbox_dropped++;
        return;
    }
    uint8_t *o = g_tab->outbox + g_outbox_len;
    *o++ = code;
    *o++ = (uint8_t)nlen;
    memcpy(o, p->name, nlen);
    o += nlen;
    if (kind == REC_STATUS) {
        *o++ = a;
        *o++ = b;
    } else if (kind != REC_LOG) {
        *o++ = (uint8_t)klen;
        memcpy(o, key, klen);
        o += klen;
    }
    put_u16(o, len);
    o += 2;
    if (len) memcpy(o, value, len);
    g_outbox_len += need;
}

/* The size of the record at g_tab->outbox + off. */
static uint32_t record_size(uint32_t off) {
    const uint8_t *o = g_tab->outbox + off;
    uint32_t n = 1u + 1u + o[1];
    if ((o[0] & 0x7Fu) == REC_STATUS) {
        n += 2u;
    } else if ((o[0] & 0x7Fu) != REC_LOG) {
        n += 1u + o[n];
    }
    return n + 2u + ((uint32_t)g_tab->outbox[off + n] | (uint32_t)g_tab->outbox[off + n + 1] << 8);
}

/* The instance's captured stdout/stderr into LOG records, while the outbox has room (what
 * does not fit stays in the instance's log ring until the next turn). */
static void drain_log(pipe_inst_t *p) {
    if (p->rt == NULL) return;
    uint8_t chunk[RT_PIPE_RECORD_VALUE_MAX];
    size_t nlen = strlen(p->name);
    while (p->rt->log.used > 0) {
        uint32_t n = p->rt->log.used < sizeof chunk ? p->rt->log.used : (uint32_t)sizeof chunk;
        if (1u + 1u + nlen + 2u + n > sizeof g_tab->outbox - g_outbox_len) return;
        size_t len = 0;
        bool more = false;
        if (rt_logs(p->rt->id, chunk, n, &len, &more) != RT_OK || len == 0) return;
        outbox_add(REC_LOG, p, NULL, 0, 0, chunk, (uint32_t)len);
    }
}

static void set_status(pipe_inst_t *p, uint8_t status, const char *failure) {
    p->status = status;
    if (failure != NULL) {
        rt_fmt(p->failure, sizeof p->failure, "%s", failure);
    } else {
        p->failure[0] = '\0';
    }
    outbox_add(REC_STATUS, p, NULL, status, p->restarts, (const uint8_t *)p->failure,
               (uint32_t)strlen(p->failure));
}

/* ---- messages and queues ---- */

static pipe_msg_t *msg_new(const uint8_t *data, uint32_t len) {
    if (len > RT_PIPE_MAX_MESSAGE_BYTES || len > RT_PIPE_PAYLOAD_BUDGET - g_payload_bytes)
        return NULL;
    pipe_msg_t *m = (pipe_msg_t *)rt_malloc(sizeof *m + (len ? len : 1u));
    if (m == NULL) return NULL;
    m->refs = 0;
    m->len = len;
    if (len) memcpy(m->data, data, len);
    g_payload_bytes += len;
    return m;
}

static void msg_unref(pipe_msg_t *m) {
    if (m == NULL) return;
    if (m->refs > 0) m->refs--;
    if (m->refs == 0) {
        g_payload_bytes -= m->len;
        rt_free(m);
    }
}

/* An instance that still takes messages (running, starting, or waiting for a restart). */
static bool takes_messages(const pipe_inst_t *p) {
    return p->used && (p->status == IS_OK || p->status == IS_UNKNOWN ||
                       (p->status == IS_RESTARTING && p->restart_at != 0));
}

static void queue_clear(pipe_inst_t *p) {
    while (p->q_len > 0) {
        msg_unref(p->queue[p->q_head].msg);
        p->q_head = (p->q_head + 1u) % p->queue_depth;
        p->q_len--;
        p->dropped++;
    }
    g_pop_gen++;
}

typedef struct {
    uint8_t inst, route;
} delivery_t;

/* The deliveries of a message on topic: every subscribe route on it (docs/pipeline.md 3). */
static uint32_t receivers(const char *topic, delivery_t *out) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < RT_PIPE_MAX_ROUTES; i++) {
        const route_t *r = &g_tab->routes[i];
        if (r->used && r->dir == 1 && strcmp(r->topic, topic) == 0) {
            out[n].inst = r->inst;
            out[n].route = (uint8_t)i;
            n++;
        }
    }
    return n;
}

/* All-or-nothing space check: the first instance whose queue cannot take its deliveries. */
static pipe_inst_t *full_receiver(const delivery_t *d, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        pipe_inst_t *p = &g_insts[d[i].inst];
        if (!takes_messages(p)) continue;
        uint32_t need = 0;
        for (uint32_t j = 0; j < n; j++)
            need += d[j].inst == d[i].inst ? 1u : 0u;
        if (p->q_len + need > p->queue_depth) return p;
    }
    return NULL;
}

/* Queues m for every live receiver (space checked); returns the deliveries made. */
static uint32_t enqueue(pipe_msg_t *m, const delivery_t *d, uint32_t n) {
    uint32_t made = 0;
    m->refs++; /* held while queueing */
    for (uint32_t i = 0; i < n; i++) {
        pipe_inst_t *p = &g_insts[d[i].inst];
        if (!takes_messages(p)) {
            p->dropped++;
            continue;
        }
        uint32_t tail = (p->q_head + p->q_len) % p->queue_depth;
        p->queue[tail].msg = m;
        p->queue[tail].route = d[i].route;
        m->refs++;
        p->q_len++;
        if (p->q_len > p->queue_hw) p->queue_hw = (uint16_t)p->q_len;
        made++;
    }
    msg_unref(m);
    return made;
}

/* ---- tasks ---- */

static pipe_inst_t *g_current;

static void task_entry(void *arg) {
    pipe_inst_t *p = (pipe_inst_t *)arg;
    char msg[RT_MSG_MAX];
    msg[0] = '\0';
    rt_status_t st =
        rt_eng_call(p->rt->eng, "_start", NULL, 0, p->handler_ms, &p->end, msg, sizeof msg);
    if (st != RT_OK) {
        p->end.outcome = RT_CALL_TRAPPED;
        rt_fmt(p->end.message, sizeof p->end.message, "%s", msg);
    }
    p->tstate = T_DONE;
    rt_os_task_switch(p->ctx, g_main_ctx, 1);
}

/* From a task (inside an import): give the serve loop and the other tasks their turn. */
static void task_wait(pipe_inst_t *p, uint8_t state, uint64_t wake_us) {
    p->tstate = state;
    p->wake_us = wake_us;
    p->wait_gen = g_pop_gen;
    g_current = NULL;
    rt_eng_task_leave(p->rt->eng);
    rt_os_task_switch(p->ctx, g_main_ctx, 0);
    rt_eng_task_enter(p->rt->eng);
    g_current = p;
}

#define STACK_PAINT 0xA5u

/* Bytes of the (painted, downward-growing) task stack ever used. */
static void stack_measure(pipe_inst_t *p) {
    if (p->stack == NULL) return;
    uint32_t untouched = 0;
    while (untouched < RT_TASK_STACK_BYTES && p->stack[untouched] == STACK_PAINT)
        untouched++;
    uint32_t used = RT_TASK_STACK_BYTES - untouched;
    if (used > p->stack_hw) p->stack_hw = used;
}

static void task_free(pipe_inst_t *p) {
    stack_measure(p);
    msg_unref(p->inflight); /* its callback was unwound: the message is not delivered again */
    p->inflight = NULL;
    rt_free(p->ctx);
    rt_free(p->stack);
    p->ctx = NULL;
    p->stack = NULL;
    p->tstate = T_NONE;
}

static void life_reset(pipe_inst_t *p) {
    p->cfg_cb = p->cfg_user = p->msg_cb = p->msg_user = p->rpc_cb = 0;
    p->cfg_set = p->msg_set = p->rpc_set = false;
    p->cfg_next = 0;
    p->workspace_ptr = 0;
    p->done_head = p->done_len = 0;
    p->in_callback = p->failed_in = NULL;
    p->killed = false;
}

static rt_status_t instantiate(pipe_inst_t *p, char *msg, size_t cap) {
    life_reset(p);
    rt_status_t st = rt_instance_create(true, NULL, p->sha256, p->memory_bytes,
                                        (struct rt_pipe_inst *)p, &p->rt, msg, cap);
    if (st != RT_OK) p->rt = NULL;
    return st;
}

static rt_status_t task_start(pipe_inst_t *p, char *msg, size_t cap) {
    p->ctx = rt_malloc(rt_os_task_ctx_size());
    p->stack = (uint8_t *)rt_malloc(RT_TASK_STACK_BYTES);
    if (p->ctx == NULL || p->stack == NULL ||
        rt_os_task_init(p->ctx, p->stack, RT_TASK_STACK_BYTES, task_entry, p) != 0) {
        task_free(p);
        rt_fmt(msg, cap, "does not fit: task of %s needs %lu bytes of stack", p->name,
               (unsigned long)RT_TASK_STACK_BYTES);
        return RT_ERR_NO_SPACE;
    }
    memset(p->stack, STACK_PAINT, RT_TASK_STACK_BYTES);
    rt_eng_set_stack(p->rt->eng, p->stack, RT_TASK_STACK_BYTES);
    p->tstate = T_READY;
    p->wake_us = 0;
    return RT_OK;
}

static void switch_to(pipe_inst_t *p) {
    g_current = p;
    p->tstate = T_RUNNING;
    rt_os_task_switch(g_main_ctx, p->ctx, 0);
    g_current = NULL;
}

static uint32_t backoff_ms(uint32_t restarts) {
    uint32_t ms = RT_PIPE_BACKOFF_FIRST_MS;
    for (uint32_t i = 1; i < restarts && ms < RT_PIPE_BACKOFF_MAX_MS; i++)
        ms *= 2u;
    return ms < RT_PIPE_BACKOFF_MAX_MS ? ms : RT_PIPE_BACKOFF_MAX_MS;
}

/* The serve loop's side of a task whose main returned. */
static void task_finished(pipe_inst_t *p) {
    const rt_call_result_t *r = &p->end;
    drain_log(p); /* what it printed before it ended */
    bool clean = r->outcome == RT_CALL_RETURNED || (r->outcome == RT_CALL_EXITED && r->value == 0);
    char why[RT_MSG_MAX];
    char cause[RT_MSG_MAX];
    if (r->outcome == RT_CALL_TIMEOUT) { /* the host's wording (docs/pipeline.md 5) */
        rt_fmt(cause, sizeof cause, "timeout: call exceeded %lu ms", (unsigned long)p->handler_ms);
    } else {
        rt_fmt(cause, sizeof cause, "%s", r->message);
    }
    if (r->outcome == RT_CALL_EXITED) {
        rt_fmt(why, sizeof why, "exited with code %ld", (long)r->value);
    } else if (p->failed_in != NULL) {
        rt_fmt(why, sizeof why, "%s: %s", p->failed_in, cause);
    } else {
        rt_fmt(why, sizeof why, "%s", cause);
    }
    task_free(p);
    rt_instance_destroy(p->rt);
    p->rt = NULL;
    if (p->killed || g_state >= DS_STOPPING) {
        set_status(p, IS_STOPPED, NULL);
        return;
    }
    if (clean) {
        set_status(p, IS_SELF_EXITING, NULL);
        queue_clear(p);
        return;
    }
    if (p->restarts < p->max_restarts) {
        p->restarts++;
        p->restart_at = now_us() + (uint64_t)backoff_ms(p->restarts) * 1000u;
        set_status(p, IS_RESTARTING, why);
        return;
    }
    p->restart_at = 0;
    char final[RT_MSG_MAX];
    rt_fmt(final, sizeof final, "%s (gave up after %u restarts)", why, (unsigned)p->restarts);
    set_status(p, IS_ERROR, final);
    queue_clear(p); /* it stays in error: what is sent to it is dropped */
}

static void restart(pipe_inst_t *p) {
    char msg[RT_MSG_MAX];
    p->restart_at = 0;
    rt_status_t st = instantiate(p, msg, sizeof msg);
    if (st == RT_OK) st = task_start(p, msg, sizeof msg);
    if (st != RT_OK) {
        if (p->rt != NULL) rt_instance_destroy(p->rt);
        p->rt = NULL;
        set_status(p, IS_ERROR, msg);
        queue_clear(p);
        return;
    }
    set_status(p, IS_OK, NULL);
}

static bool config_pending(const pipe_inst_t *p) {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < RT_PIPE_MAX_CONFIGS; i++) {
        if (g_tab->configs[i].used && g_tab->configs[i].inst == index_of(p)) {
            if (seen++ >= p->cfg_next) return true;
        }
    }
    return false;
}

static bool runnable(const pipe_inst_t *p, uint64_t now) {
    switch (p->tstate) {
    case T_READY:
        return true;
    case T_WAIT_EVENT:
        return p->killed || g_state == DS_STOPPING || p->done_len > 0 || p->q_len > 0 ||
               (p->cfg_set && config_pending(p)) || (p->wake_us != 0 && now >= p->wake_us);
    case T_WAIT_SEND:
        return p->killed || p->wait_gen != g_pop_gen || now >= p->wake_us;
    default:
        return false;
    }
}

static bool has_task(const pipe_inst_t *p) {
    return p->tstate != T_NONE;
}

static void free_all(void) {
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        pipe_inst_t *p = &g_insts[i];
        if (!p->used) continue;
        task_free(p);
        if (p->rt != NULL) rt_instance_destroy(p->rt);
        p->rt = NULL;
        queue_clear(p);
        rt_free(p->queue);
        memset(p, 0, sizeof *p);
    }
    for (uint32_t i = 0; g_tab != NULL && i < RT_PIPE_MAX_CONFIGS; i++)
        rt_free(g_tab->configs[i].value);
    rt_free(g_tab);
    g_tab = NULL;
    rt_free(g_stage);
    g_stage = NULL;
    g_stage_len = 0;
    g_stop_at = 0;
}

/* Ends every task at its next EVP call (they are all switched out at one). */
static void kill_all(void) {
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        pipe_inst_t *p = &g_insts[i];
        p->restart_at = 0;
        if (!p->used || !has_task(p)) continue;
        p->killed = true;
        while (p->tstate != T_DONE)
            switch_to(p);
        task_finished(p);
    }
}

void rt_pipe_reset(void) {
    kill_all();
    free_all();
    rt_free(g_main_ctx);
    g_main_ctx = NULL;
    g_outbox_len = 0;
    g_outbox_dropped = 0;
    g_state = DS_EMPTY;
}

void rt_pipe_run(uint32_t *wait_ms) {
    *wait_ms = 1000u;
    if (g_state != DS_RUNNING && g_state != DS_STOPPING) return;
    uint64_t now = now_us();
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        pipe_inst_t *p = &g_insts[i];
        if (!p->used) continue;
        if (p->tstate == T_NONE && p->restart_at != 0 && now >= p->restart_at &&
            g_state == DS_RUNNING) {
            restart(p);
        }
        if (runnable(p, now)) switch_to(p);
        drain_log(p);
        if (p->tstate == T_DONE) task_finished(p);
    }
    now = now_us();
    bool alive = false;
    uint64_t next = now + 1000000u;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        pipe_inst_t *p = &g_insts[i];
        if (!p->used) continue;
        if (has_task(p)) alive = true;
        if (runnable(p, now)) next = now;
        if ((p->tstate == T_WAIT_EVENT || p->tstate == T_WAIT_SEND) && p->wake_us != 0 &&
            p->wake_us < next)
            next = p->wake_us;
        if (p->tstate == T_NONE && p->restart_at != 0 && p->restart_at < next) next = p->restart_at;
    }
    if (g_state == DS_STOPPING) {
        if (alive && now >= g_stop_at) {
            kill_all(); /* the grace period is over: each ends at its next EVP call */
            alive = false;
        }
        if (!alive) {
            for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
                if (g_insts[i].used) queue_clear(&g_insts[i]);
            }
            g_state = DS_STOPPED;
        } else if (g_stop_at < next) {
            next = g_stop_at;
        }
    }
    *wait_ms = next <= now ? 0u : (uint32_t)((next - now + 999u) / 1000u);
}

/* ---- the EVP SDK imports ---- */

static pipe_inst_t *caller(rt_instance_t *inst, uint32_t h) {
    pipe_inst_t *p = (pipe_inst_t *)inst->pipe;
    if (p == NULL || h != EVP_HANDLE) return NULL;
    return p;
}

/* A killed task ends here: the engine unwinds the guest when the import returns. */
static uint32_t end_now(pipe_inst_t *p) {
    rt_eng_exit(p->rt->eng, 0);
    return EVP_SHOULDEXIT;
}

/* A NUL-terminated string of at most max bytes in guest memory, or NULL. */
static const char *guest_str(rt_instance_t *inst, uint32_t ptr, uint32_t max, uint32_t *len) {
    uint32_t size = 0;
    uint8_t *base = rt_eng_memory(inst->eng, &size);
    if (base == NULL || ptr >= size) return NULL;
    uint32_t avail = size - ptr < max + 1u ? size - ptr : max + 1u;
    const uint8_t *nul = (const uint8_t *)memchr(base + ptr, 0, avail);
    if (nul == NULL) return NULL;
    *len = (uint32_t)(nul - (base + ptr));
    return (const char *)(base + ptr);
}

static int add_completion(pipe_inst_t *p, uint32_t cb, uint32_t user, uint32_t reason) {
    if (cb == 0) return 0;
    if (p->done_len == RT_PIPE_MAX_COMPLETIONS) return -1;
    completion_t *c = &p->done[(p->done_head + p->done_len) % RT_PIPE_MAX_COMPLETIONS];
    c->cb = cb;
    c->user = user;
    c->reason = reason;
    p->done_len++;
    return 0;
}

/* Calls a guest function; false when the guest's main is ending (return at once). An engine
 * may also unwind straight out of here (wasm2c longjmps on a trap): failed_in is set before the
 * call and cleared only when it returned. */
static bool guest_call(pipe_inst_t *p, const char *what, const char *export_name, uint32_t index,
                       const int32_t *args, uint32_t argc, int32_t *result) {
    p->in_callback = what;
    p->failed_in = what;
    rt_status_t st = rt_eng_call_nested(p->rt->eng, export_name, index, args, argc, result);
    p->in_callback = NULL;
    if (st != RT_OK) return false;
    p->failed_in = NULL;
    return true;
}

/* Runs a topic/payload callback with both in one block from the guest's malloc.
 * 1: ran (or dropped: malloc returned 0), 0: the guest is ending. */
static int deliver(pipe_inst_t *p, const char *what, uint32_t cb, uint32_t user, const char *topic,
                   const uint8_t *data, uint32_t len) {
    uint32_t tlen = (uint32_t)strlen(topic);
    int32_t size = (int32_t)(tlen + 1u + len), ptr = 0, ignored = 0;
    if (!guest_call(p, "malloc", "malloc", 0, &size, 1, &ptr)) return 0;
    if (ptr == 0) {
        p->dropped++;
        return 1;
    }
    uint8_t *dst = rt_guest_ptr(p->rt, (uint32_t)ptr, (uint32_t)size);
    if (dst == NULL) return 1;
    memcpy(dst, topic, tlen + 1u);
    if (len) memcpy(dst + tlen + 1u, data, len);
    int32_t args[4] = {ptr, ptr + (int32_t)tlen + 1, (int32_t)len, (int32_t)user};
    if (!guest_call(p, what, NULL, cb, args, 4, &ignored)) return 0;
    return guest_call(p, "free", "free", 0, &ptr, 1, &ignored) ? 1 : 0;
}

/* The next configuration value of this instance, or NULL. */
static const config_t *next_config(pipe_inst_t *p) {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < RT_PIPE_MAX_CONFIGS; i++) {
        if (g_tab->configs[i].used && g_tab->configs[i].inst == index_of(p)) {
            if (seen++ == p->cfg_next) return &g_tab->configs[i];
        }
    }
    return NULL;
}

uint32_t rt_evp_initialize(rt_instance_t *inst) {
    return inst->pipe != NULL ? EVP_HANDLE : 0u;
}

uint32_t rt_evp_get_workspace_directory(rt_instance_t *inst, uint32_t h, uint32_t type) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL || type != 0) return EVP_INVAL;
    if (p->workspace_ptr == 0) {
        char path[RT_NAME_MAX + 16];
        rt_fmt(path, sizeof path, "/workspace/%s", p->name);
        int32_t size = (int32_t)strlen(path) + 1, ptr = 0;
        if (!guest_call(p, "malloc", "malloc", 0, &size, 1, &ptr) || ptr == 0) return 0;
        uint8_t *dst = rt_guest_ptr(inst, (uint32_t)ptr, (uint32_t)size);
        if (dst == NULL) return 0;
        memcpy(dst, path, (size_t)size);
        p->workspace_ptr = (uint32_t)ptr;
    }
    return p->workspace_ptr;
}

uint32_t rt_evp_set_configuration_callback(rt_instance_t *inst, uint32_t h, uint32_t cb,
                                           uint32_t user) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL) return EVP_INVAL;
    if (p->cfg_set) return EVP_ERROR;
    p->cfg_set = true;
    p->cfg_cb = cb;
    p->cfg_user = user;
    return EVP_OK;
}

uint32_t rt_evp_set_message_callback(rt_instance_t *inst, uint32_t h, uint32_t cb, uint32_t user) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL) return EVP_INVAL;
    if (p->msg_set) return EVP_ERROR;
    p->msg_set = true;
    p->msg_cb = cb;
    p->msg_user = user;
    return EVP_OK;
}

uint32_t rt_evp_set_rpc_callback(rt_instance_t *inst, uint32_t h, uint32_t cb, uint32_t user) {
    (void)user;
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL || cb == 0 || p->rpc_set) return EVP_INVAL;
    p->rpc_set = true;
    p->rpc_cb = cb;
    return EVP_OK;
}

uint32_t rt_evp_process_event(rt_instance_t *inst, uint32_t h, uint32_t timeout_ms) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL) return EVP_INVAL;
    if (p->in_callback != NULL) return EVP_ERROR; /* not from inside a callback */
    int32_t timeout = (int32_t)timeout_ms;
    uint64_t deadline = timeout > 0 ? now_us() + (uint64_t)timeout * 1000u : 0;
    task_wait(p, T_READY, 0); /* every call is a turn for the others */
    for (;;) {
        if (p->killed) return end_now(p);
        if (p->done_len > 0) {
            completion_t c = p->done[p->done_head];
            p->done_head = (p->done_head + 1u) % RT_PIPE_MAX_COMPLETIONS;
            p->done_len--;
            int32_t args[2] = {(int32_t)c.reason, (int32_t)c.user}, ignored = 0;
            if (!guest_call(p, "completion callback", NULL, c.cb, args, 2, &ignored))
                return EVP_ERROR;
            return EVP_OK;
        }
        if (g_state == DS_STOPPING) return EVP_SHOULDEXIT;
        const config_t *cfg = p->cfg_set ? next_config(p) : NULL;
        if (cfg != NULL) {
            p->cfg_next++;
            if (p->cfg_cb != 0 && !deliver(p, "configuration callback", p->cfg_cb, p->cfg_user,
                                           cfg->topic, cfg->value, cfg->len))
                return EVP_ERROR;
            return EVP_OK;
        }
        if (p->q_len > 0) {
            queue_slot_t s = p->queue[p->q_head];
            p->q_head = (p->q_head + 1u) % p->queue_depth;
            p->q_len--;
            g_pop_gen++;
            int ok = 1;
            p->inflight = s.msg;
            if (p->msg_cb != 0) {
                ok = deliver(p, "message callback", p->msg_cb, p->msg_user,
                             g_tab->routes[s.route].alias, s.msg->data, s.msg->len);
                if (ok) p->received++; /* counted when its callback returned, as on the host */
            } else {
                p->dropped++;
            }
            p->inflight = NULL;
            msg_unref(s.msg);
            return ok ? EVP_OK : EVP_ERROR;
        }
        if (timeout == 0 || (deadline != 0 && now_us() >= deadline)) return EVP_TIMEDOUT;
        task_wait(p, T_WAIT_EVENT, deadline);
    }
}

static const route_t *publish_route(const pipe_inst_t *p, const char *alias) {
    for (uint32_t i = 0; i < RT_PIPE_MAX_ROUTES; i++) {
        const route_t *r = &g_tab->routes[i];
        if (r->used && r->dir == 0 && r->inst == index_of(p) && strcmp(r->alias, alias) == 0)
            return r;
    }
    return NULL;
}

uint32_t rt_evp_send_message(rt_instance_t *inst, uint32_t h, uint32_t topic, uint32_t buf,
                             uint32_t len, uint32_t cb, uint32_t user) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL) return EVP_INVAL;
    uint32_t alen = 0;
    const char *alias = guest_str(inst, topic, RT_PIPE_TOPIC_MAX, &alen);
    const uint8_t *data = rt_guest_ptr(inst, buf, len);
    if (alias == NULL || data == NULL) return EVP_FAULT;
    const route_t *route = publish_route(p, alias);
    if (route == NULL) return add_completion(p, cb, user, REASON_ERROR) ? EVP_NOMEM : EVP_OK;
    if (p->done_len == RT_PIPE_MAX_COMPLETIONS && cb != 0) return EVP_NOMEM;
    delivery_t d[RT_PIPE_MAX_ROUTES];
    uint32_t n = receivers(route->topic, d);
    pipe_msg_t *m = msg_new(data, len); /* copied at the call */
    if (m == NULL) return EVP_NOMEM;
    uint64_t deadline = 0;
    for (;;) {
        pipe_inst_t *full = full_receiver(d, n);
        if (full == NULL) break;
        if (deadline == 0) {
            uint32_t wait_ms = 0;
            for (uint32_t i = 0; i < n; i++) {
                const pipe_inst_t *r = &g_insts[d[i].inst];
                if (r->send_ms > wait_ms) wait_ms = r->send_ms;
            }
            deadline = now_us() + (uint64_t)wait_ms * 1000u;
        }
        if (p->killed || now_us() >= deadline) {
            m->refs = 1;
            msg_unref(m);
            if (p->killed) return end_now(p);
            p->denied++;
            return EVP_DENIED;
        }
        task_wait(p, T_WAIT_SEND, deadline);
    }
    enqueue(m, d, n);
    p->sent++;
    add_completion(p, cb, user, REASON_SENT);
    return EVP_OK;
}

uint32_t rt_evp_send_state(rt_instance_t *inst, uint32_t h, uint32_t topic, uint32_t buf,
                           uint32_t len, uint32_t cb, uint32_t user) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL) return EVP_INVAL;
    uint32_t tlen = 0;
    const char *t = guest_str(inst, topic, RT_PIPE_TOPIC_MAX, &tlen);
    const uint8_t *data = rt_guest_ptr(inst, buf, len);
    if (t == NULL || data == NULL) return EVP_FAULT;
    if (p->done_len == RT_PIPE_MAX_COMPLETIONS && cb != 0) return EVP_NOMEM;
    outbox_add(REC_STATE, p, t, 0, 0, data, len);
    add_completion(p, cb, user, REASON_SENT);
    return EVP_OK;
}

/* ---- JSON text check for telemetry values (RFC 8259 grammar, no nesting limit beyond 32) ---- */

static const char *json_ws(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    return s;
}

static const char *json_value(const char *s, const char *e, int depth);

static const char *json_string(const char *s, const char *e) {
    s++; /* opening quote */
    while (s < e && *s != '"') {
        if ((unsigned char)*s < 0x20) return NULL;
        if (*s == '\\') {
            s++;
            if (s >= e) return NULL;
            if (*s == 'u') {
                for (int i = 0; i < 4; i++) {
                    s++;
                    char c = s < e ? *s : 0;
                    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                          (c >= 'A' && c <= 'F')))
                        return NULL;
                }
            } else if (strchr("\"\\/bfnrt", *s) == NULL) {
                return NULL;
            }
        }
        s++;
    }
    return s < e ? s + 1 : NULL;
}

static const char *json_digits(const char *s, const char *e) {
    const char *start = s;
    while (s < e && *s >= '0' && *s <= '9')
        s++;
    return s > start ? s : NULL;
}

static const char *json_number(const char *s, const char *e) {
    if (s < e && *s == '-') s++;
    if (s < e && *s == '0') {
        s++;
    } else if ((s = json_digits(s, e)) == NULL) {
        return NULL;
    }
    if (s < e && *s == '.' && (s = json_digits(s + 1, e)) == NULL) return NULL;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-')) s++;
        if ((s = json_digits(s, e)) == NULL) return NULL;
    }
    return s;
}

static const char *json_list(const char *s, const char *e, int depth, char close, bool object) {
    s = json_ws(s + 1, e);
    if (s < e && *s == close) return s + 1;
    for (;;) {
        if (object) {
            if (s >= e || *s != '"' || (s = json_string(s, e)) == NULL) return NULL;
            s = json_ws(s, e);
            if (s >= e || *s != ':') return NULL;
            s++;
        }
        if ((s = json_value(s, e, depth + 1)) == NULL) return NULL;
        if (s < e && *s == ',') {
            s = json_ws(s + 1, e);
            continue;
        }
        return s < e && *s == close ? s + 1 : NULL;
    }
}

static const char *json_value(const char *s, const char *e, int depth) {
    if (depth > 32) return NULL;
    s = json_ws(s, e);
    if (s >= e) return NULL;
    const char *r;
    if (*s == '{') {
        r = json_list(s, e, depth, '}', true);
    } else if (*s == '[') {
        r = json_list(s, e, depth, ']', false);
    } else if (*s == '"') {
        r = json_string(s, e);
    } else if (*s == 't' && e - s >= 4 && memcmp(s, "true", 4) == 0) {
        r = s + 4;
    } else if (*s == 'f' && e - s >= 5 && memcmp(s, "false", 5) == 0) {
        r = s + 5;
    } else if (*s == 'n' && e - s >= 4 && memcmp(s, "null", 4) == 0) {
        r = s + 4;
    } else {
        r = json_number(s, e);
    }
    return r != NULL ? json_ws(r, e) : NULL;
}

static bool is_json(const char *s, uint32_t len) {
    const char *e = s + len;
    const char *r = json_value(s, e, 0);
    return r == e;
}

uint32_t rt_evp_send_telemetry(rt_instance_t *inst, uint32_t h, uint32_t entries, uint32_t n,
                               uint32_t cb, uint32_t user) {
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL) return EVP_INVAL;
    if (n > RT_PIPE_MAX_TELEMETRY) return EVP_TOOBIG;
    if (rt_guest_ptr(inst, entries, n * 8u) == NULL) return EVP_FAULT;
    if (p->done_len == RT_PIPE_MAX_COMPLETIONS && cb != 0) return EVP_NOMEM;
    /* Check every entry first: one value that is not JSON sends nothing. */
    for (uint32_t pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e = rt_guest_ptr(inst, entries + i * 8u, 8u);
            uint32_t kp =
                (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
            uint32_t vp =
                (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;
            uint32_t klen = 0, vlen = 0;
            const char *key = guest_str(inst, kp, RT_PIPE_TOPIC_MAX, &klen);
            const char *value = guest_str(inst, vp, 0xFFFFu, &vlen);
            if (key == NULL || value == NULL) return EVP_FAULT;
            if (pass == 0 && (klen == 0 || !is_json(value, vlen))) {
                add_completion(p, cb, user, REASON_ERROR);
                return EVP_OK;
            }
            if (pass == 1) outbox_add(REC_TELEMETRY, p, key, 0, 0, (const uint8_t *)value, vlen);
        }
    }
    add_completion(p, cb, user, REASON_SENT);
    return EVP_OK;
}

uint32_t rt_evp_send_rpc_response(rt_instance_t *inst, uint32_t h, uint64_t id, uint32_t response,
                                  uint32_t status, uint32_t cb, uint32_t user) {
    (void)id;
    (void)status;
    pipe_inst_t *p = caller(inst, h);
    if (p == NULL || response == 0) return EVP_INVAL;
    /* No RPC reaches an instance here, so none can be pending. */
    return add_completion(p, cb, user, REASON_ERROR) ? EVP_NOMEM : EVP_OK;
}

uint32_t rt_evp_blob_operation(rt_instance_t *inst, uint32_t h, uint32_t type, uint32_t op,
                               uint32_t request, uint32_t local_store, uint32_t cb, uint32_t user) {
    (void)inst;
    (void)h;
    (void)type;
    (void)op;
    (void)request;
    (void)local_store;
    (void)cb;
    (void)user;
    return EVP_NOTSUP;
}

/* ---- PIPE_* requests (docs/protocol.md 4.1) ---- */

static proto_status_t fail(proto_error_t *err, proto_status_t st, const char *fmt, const char *a) {
    rt_fmt(err->text, sizeof err->text, fmt, a);
    return st;
}

static bool rd_topic(proto_rd_t *r, char *out) {
    return proto_rd_str(r, out, RT_PIPE_TOPIC_MAX + 1) && out[0] != '\0';
}

static bool rd_name(proto_rd_t *r, char *out) {
    return proto_rd_str(r, out, RT_NAME_MAX + 1) && proto_name_valid(out);
}

static pipe_inst_t *find_inst(const char *name) {
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        if (g_insts[i].used && strcmp(g_insts[i].name, name) == 0) return &g_insts[i];
    }
    return NULL;
}

static proto_status_t req_bind(proto_rd_t *r, proto_wr_t *w, proto_error_t *err) {
    char name[RT_NAME_MAX + 1], module[RT_NAME_MAX + 1] = "";
    uint8_t sha[32] = {0};
    bool name_ok = rd_name(r, name);
    uint8_t by = proto_rd_u8(r);
    bool mod_ok = true;
    if (by == 0) {
        mod_ok = rd_name(r, module);
    } else {
        const uint8_t *s = proto_rd_bytes(r, 32);
        if (s != NULL) memcpy(sha, s, 32);
    }
    uint32_t memory_kib = proto_rd_u32(r), handler_ms = proto_rd_u32(r);
    uint16_t depth = proto_rd_u16(r);
    uint32_t send_ms = proto_rd_u32(r);
    uint8_t max_restarts = proto_rd_u8(r);
    if (r->err || proto_rd_left(r) != 0 || !name_ok || !mod_ok || by > 1)
        return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    if (g_state == DS_RUNNING || g_state == DS_STOPPING)
        return fail(err, PROTO_ST_BAD_STATE, "the deployment is running: %s", "stop it first");
    if (g_state == DS_STOPPED) rt_pipe_reset();
    if (find_inst(name) != NULL)
        return fail(err, PROTO_ST_BAD_REQUEST, "instance '%s' is already bound", name);
    if (depth == 0) depth = RT_PIPE_DEFAULT_QUEUE;
    if (depth > RT_PIPE_MAX_QUEUE)
        return fail(err, PROTO_ST_BAD_REQUEST, "queue depth above the device's %s", "64");
    if ((uint64_t)memory_kib * 1024u > RT_INSTANCE_MEMORY_BYTES) {
        rt_fmt(err->text, sizeof err->text, "memory of %lu KiB above the device's %lu KiB",
               (unsigned long)memory_kib, (unsigned long)(RT_INSTANCE_MEMORY_BYTES / 1024u));
        return PROTO_ST_BAD_REQUEST;
    }
    pipe_inst_t *p = NULL;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES && p == NULL; i++) {
        if (!g_insts[i].used) p = &g_insts[i];
    }
    if (p == NULL) {
        rt_fmt(err->text, sizeof err->text, "too many instances (the device holds %d)",
               RT_MAX_INSTANCES);
        return PROTO_ST_NO_SPACE;
    }
    if (g_main_ctx == NULL) g_main_ctx = rt_calloc(1, rt_os_task_ctx_size());
    if (g_tab == NULL) g_tab = (pipe_tables_t *)rt_calloc(1, sizeof *g_tab);
    if (g_main_ctx == NULL || g_tab == NULL) {
        rt_fmt(err->text, sizeof err->text, "does not fit: the deployment's tables need %lu bytes",
               (unsigned long)sizeof *g_tab);
        return PROTO_ST_NO_SPACE;
    }
    memset(p, 0, sizeof *p);
    p->queue = (queue_slot_t *)rt_calloc(depth, sizeof *p->queue);
    if (p->queue == NULL) return fail(err, PROTO_ST_NO_SPACE, "does not fit: queue of %s", name);
    rt_instance_t *rt = NULL;
    rt_status_t st = rt_instance_create(by == 1, module, sha,
                                        memory_kib ? memory_kib * 1024u : RT_INSTANCE_MEMORY_BYTES,
                                        (struct rt_pipe_inst *)p, &rt, err->text, sizeof err->text);
    if (st != RT_OK) {
        rt_free(p->queue);
        p->queue = NULL;
        return (proto_status_t)st;
    }
    if (!rt_eng_has_export(rt->eng, "_start") || !rt_eng_has_export(rt->eng, "malloc") ||
        !rt_eng_has_export(rt->eng, "free")) {
        const rt_eng_module_t *mod = rt->module; /* the module outlives the instance */
        rt_instance_destroy(rt);
        rt_free(p->queue);
        p->queue = NULL;
        return fail(err, PROTO_ST_BAD_REQUEST,
                    "module %s is not an EVP module: needs the exports _start, malloc and free",
                    rt_eng_module_name(mod));
    }
    p->used = true;
    p->rt = rt;
    rt_fmt(p->name, sizeof p->name, "%s", name);
    rt_fmt(p->module, sizeof p->module, "%s", rt_eng_module_name(rt->module));
    memcpy(p->sha256, rt_eng_module_sha256(rt->module), 32);
    p->memory_bytes = memory_kib ? memory_kib * 1024u : RT_INSTANCE_MEMORY_BYTES;
    p->handler_ms = handler_ms ? handler_ms : RT_CALL_TIMEOUT_MS;
    p->send_ms = send_ms ? send_ms : RT_PIPE_DEFAULT_SEND_MS;
    p->queue_depth = depth;
    p->max_restarts = max_restarts;
    p->status = IS_UNKNOWN;
    g_state = DS_BINDING;
    proto_wr_u32(w, rt->id);
    return PROTO_ST_OK;
}

static proto_status_t req_route(proto_rd_t *r, proto_error_t *err) {
    char name[RT_NAME_MAX + 1], alias[RT_PIPE_TOPIC_MAX + 1], topic[RT_PIPE_TOPIC_MAX + 1];
    bool ok = rd_name(r, name);
    uint8_t dir = proto_rd_u8(r);
    ok = rd_topic(r, alias) && ok;
    ok = rd_topic(r, topic) && ok;
    if (!ok || r->err || proto_rd_left(r) != 0 || dir > 1)
        return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    if (g_state != DS_BINDING)
        return fail(err, PROTO_ST_BAD_STATE, "routes are added before %s", "PIPE_START");
    pipe_inst_t *p = find_inst(name);
    if (p == NULL) return fail(err, PROTO_ST_NOT_FOUND, "no instance '%s' in the deployment", name);
    route_t *slot = NULL;
    for (uint32_t i = 0; i < RT_PIPE_MAX_ROUTES; i++) {
        route_t *rt = &g_tab->routes[i];
        if (rt->used && rt->inst == index_of(p) && rt->dir == dir && strcmp(rt->alias, alias) == 0)
            return fail(err, PROTO_ST_BAD_REQUEST, "alias '%s' is already routed", alias);
        if (!rt->used && slot == NULL) slot = rt;
    }
    if (slot == NULL) {
        rt_fmt(err->text, sizeof err->text, "too many routes (the device holds %u)",
               (unsigned)RT_PIPE_MAX_ROUTES);
        return PROTO_ST_NO_SPACE;
    }
    slot->used = true;
    slot->inst = (uint8_t)index_of(p);
    slot->dir = dir;
    memcpy(slot->alias, alias, sizeof slot->alias);
    memcpy(slot->topic, topic, sizeof slot->topic);
    return PROTO_ST_OK;
}

static proto_status_t req_config(proto_rd_t *r, proto_error_t *err) {
    char name[RT_NAME_MAX + 1], topic[RT_PIPE_TOPIC_MAX + 1];
    bool ok = rd_name(r, name);
    ok = rd_topic(r, topic) && ok;
    size_t len = proto_rd_left(r);
    const uint8_t *value = proto_rd_bytes(r, len);
    if (!ok || r->err) return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    if (g_state != DS_BINDING)
        return fail(err, PROTO_ST_BAD_STATE, "configuration is set before %s", "PIPE_START");
    pipe_inst_t *p = find_inst(name);
    if (p == NULL) return fail(err, PROTO_ST_NOT_FOUND, "no instance '%s' in the deployment", name);
    config_t *slot = NULL;
    for (uint32_t i = 0; i < RT_PIPE_MAX_CONFIGS && slot == NULL; i++) {
        config_t *c = &g_tab->configs[i];
        if (c->used && c->inst == index_of(p) && strcmp(c->topic, topic) == 0) slot = c;
    }
    for (uint32_t i = 0; i < RT_PIPE_MAX_CONFIGS && slot == NULL; i++) {
        if (!g_tab->configs[i].used) slot = &g_tab->configs[i];
    }
    if (slot == NULL) {
        rt_fmt(err->text, sizeof err->text, "too many configuration values (the device holds %u)",
               (unsigned)RT_PIPE_MAX_CONFIGS);
        return PROTO_ST_NO_SPACE;
    }
    uint8_t *copy = (uint8_t *)rt_malloc(len ? len : 1u);
    if (copy == NULL) return fail(err, PROTO_ST_NO_SPACE, "does not fit: %s", topic);
    if (len) memcpy(copy, value, len);
    rt_free(slot->value);
    slot->used = true;
    slot->inst = (uint8_t)index_of(p);
    memcpy(slot->topic, topic, sizeof slot->topic);
    slot->value = copy;
    slot->len = (uint32_t)len;
    return PROTO_ST_OK;
}

static proto_status_t req_start(proto_rd_t *r, proto_wr_t *w, proto_error_t *err) {
    if (proto_rd_left(r) != 0) return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    if (g_state != DS_BINDING) return fail(err, PROTO_ST_BAD_STATE, "nothing bound to start%s", "");
    uint8_t started = 0;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        pipe_inst_t *p = &g_insts[i];
        if (!p->used) continue;
        rt_status_t st = task_start(p, err->text, sizeof err->text);
        if (st != RT_OK) {
            set_status(p, IS_ERROR, err->text);
            continue;
        }
        set_status(p, IS_OK, NULL);
        started++;
    }
    err->text[0] = '\0';
    g_state = DS_RUNNING;
    proto_wr_u8(w, started);
    return PROTO_ST_OK;
}

static proto_status_t req_publish(proto_rd_t *r, proto_wr_t *w, proto_error_t *err) {
    char topic[RT_PIPE_TOPIC_MAX + 1];
    uint8_t flags = proto_rd_u8(r);
    bool ok = rd_topic(r, topic);
    size_t len = proto_rd_left(r);
    const uint8_t *data = proto_rd_bytes(r, len);
    if (!ok || r->err) return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    if (g_state != DS_RUNNING)
        return fail(err, PROTO_ST_BAD_STATE, "the deployment is not running%s", "");
    if (g_stage_len > 0 && strcmp(topic, g_stage_topic) != 0)
        return fail(err, PROTO_ST_BAD_REQUEST, "staged parts are for topic '%s'", g_stage_topic);
    uint64_t total = (uint64_t)g_stage_len + len;
    if (total > RT_PIPE_MAX_MESSAGE_BYTES) {
        rt_fmt(err->text, sizeof err->text, "message of %lu bytes above the device's %lu",
               (unsigned long)total, (unsigned long)RT_PIPE_MAX_MESSAGE_BYTES);
        return PROTO_ST_NO_SPACE;
    }
    if (flags & 1u) {
        uint8_t *grown = (uint8_t *)rt_realloc(g_stage, (size_t)total ? (size_t)total : 1u);
        if (grown == NULL) return fail(err, PROTO_ST_NO_SPACE, "does not fit: staging %s", topic);
        g_stage = grown;
        if (len) memcpy(g_stage + g_stage_len, data, len);
        g_stage_len = (uint32_t)total;
        memcpy(g_stage_topic, topic, sizeof g_stage_topic);
        proto_wr_u32(w, g_stage_len);
        return PROTO_ST_OK;
    }
    delivery_t d[RT_PIPE_MAX_ROUTES];
    uint32_t n = receivers(topic, d);
    pipe_inst_t *full = full_receiver(d, n);
    if (full != NULL)
        return fail(err, PROTO_ST_BUSY, "queue of '%s' is full: send again later", full->name);
    uint16_t made = 0;
    if (n > 0) {
        pipe_msg_t *m = NULL;
        if (total <= RT_PIPE_PAYLOAD_BUDGET - g_payload_bytes)
            m = (pipe_msg_t *)rt_malloc(sizeof *m + (size_t)(total ? total : 1u));
        if (m == NULL) {
            rt_fmt(err->text, sizeof err->text, "does not fit: message of %lu bytes",
                   (unsigned long)total);
            return PROTO_ST_NO_SPACE;
        }
        m->refs = 0;
        m->len = (uint32_t)total;
        if (g_stage_len) memcpy(m->data, g_stage, g_stage_len);
        if (len) memcpy(m->data + g_stage_len, data, len);
        g_payload_bytes += m->len;
        made = (uint16_t)enqueue(m, d, n);
    }
    rt_free(g_stage);
    g_stage = NULL;
    g_stage_len = 0;
    proto_wr_u16(w, made);
    return PROTO_ST_OK;
}

static proto_status_t req_poll(proto_rd_t *r, proto_wr_t *w, proto_error_t *err) {
    if (proto_rd_left(r) != 0) return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    size_t more_pos = w->pos;
    proto_wr_u8(w, 0);
    uint32_t off = 0;
    while (off < g_outbox_len) {
        uint32_t n = record_size(off);
        if (n > w->cap - w->pos) break;
        proto_wr_bytes(w, g_tab->outbox + off, n);
        off += n;
    }
    if (off > 0) memmove(g_tab->outbox, g_tab->outbox + off, g_outbox_len - off);
    g_outbox_len -= off;
    w->p[more_pos] = g_outbox_len > 0 ? 1u : 0u;
    return PROTO_ST_OK;
}

static proto_status_t req_status(proto_rd_t *r, proto_wr_t *w, proto_error_t *err) {
    uint8_t start = proto_rd_u8(r);
    if (r->err || proto_rd_left(r) != 0)
        return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    proto_wr_u8(w, g_state);
    size_t head = w->pos;
    proto_wr_u8(w, 0);
    proto_wr_u8(w, 0);
    proto_wr_u32(w, g_outbox_dropped);
    uint8_t count = 0, index = 0, more = 0;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        pipe_inst_t *p = &g_insts[i];
        if (!p->used) continue;
        if (index++ < start) continue;
        size_t need = 2u + strlen(p->name) + strlen(p->module) + 2u + 4u * 5u + 2u + 2u + 4u + 1u +
                      strlen(p->failure);
        if (need > w->cap - w->pos) {
            more = 1;
            break;
        }
        uint32_t mem = 0;
        if (p->rt != NULL) (void)rt_eng_memory(p->rt->eng, &mem);
        proto_wr_str(w, p->name);
        proto_wr_str(w, p->module);
        proto_wr_u8(w, p->status);
        proto_wr_u8(w, p->restarts);
        proto_wr_u32(w, p->rt != NULL ? p->rt->id : 0u);
        proto_wr_u32(w, p->received);
        proto_wr_u32(w, p->sent);
        proto_wr_u32(w, p->denied);
        proto_wr_u32(w, p->dropped);
        proto_wr_u16(w, (uint16_t)p->q_len);
        proto_wr_u16(w, p->queue_hw);
        proto_wr_u32(w, mem);
        stack_measure(p);
        proto_wr_u32(w, p->stack_hw);
        proto_wr_str(w, p->failure);
        count++;
    }
    w->p[head] = more;
    w->p[head + 1] = count;
    return PROTO_ST_OK;
}

static proto_status_t req_stop(proto_rd_t *r, proto_error_t *err) {
    uint32_t grace = proto_rd_u32(r);
    if (r->err || proto_rd_left(r) != 0)
        return fail(err, PROTO_ST_BAD_REQUEST, "malformed payload%s", "");
    if (g_state == DS_BINDING) { /* nothing started: drop what is bound (ready for the next) */
        rt_pipe_reset();
        return PROTO_ST_OK;
    }
    if (g_state != DS_RUNNING) return PROTO_ST_OK;
    g_state = DS_STOPPING;
    g_stop_at = now_us() + (uint64_t)(grace ? grace : RT_PIPE_DEFAULT_GRACE_MS) * 1000u;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++)
        g_insts[i].restart_at = 0; /* no restarts while stopping */
    return PROTO_ST_OK;
}

proto_status_t rt_pipe_request(uint8_t type, proto_rd_t *r, proto_wr_t *w, proto_error_t *err) {
    if (!rt_pipe_supported()) {
        rt_fmt(err->text, sizeof err->text, "no pipelines on this device (engine %s)",
               rt_eng_name());
        return PROTO_ST_UNSUPPORTED;
    }
    switch (type) {
    case PROTO_MSG_PIPE_BIND: {
        proto_status_t st = req_bind(r, w, err);
        if (st != PROTO_ST_OK && g_state == DS_EMPTY) rt_pipe_reset(); /* hold no tables */
        return st;
    }
    case PROTO_MSG_PIPE_ROUTE:
        return req_route(r, err);
    case PROTO_MSG_PIPE_CONFIG:
        return req_config(r, err);
    case PROTO_MSG_PIPE_START:
        return req_start(r, w, err);
    case PROTO_MSG_PIPE_PUBLISH:
        return req_publish(r, w, err);
    case PROTO_MSG_PIPE_POLL:
        return req_poll(r, w, err);
    case PROTO_MSG_PIPE_STATUS:
        return req_status(r, w, err);
    case PROTO_MSG_PIPE_STOP:
        return req_stop(r, err);
    default:
        return PROTO_ST_UNKNOWN_TYPE;
    }
}
