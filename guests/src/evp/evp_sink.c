/* EVP module: receives messages, keeps a count across them, optionally forwards them.
 * Written against the EVP module SDK only (evp/sdk.h); configuration topics:
 *   forward_to  publish alias to forward every message to, with `tag` appended
 *   tag         text appended when forwarding (default: none)
 *   max_len     forward only payloads shorter than this (0: no bound)
 *   delay_ms    busy time per message (a slow consumer)
 *   crash_at    trap while handling the Nth message of this life (0: never)
 *   report      1 (default): state "received" after every message; 0: only at exit
 * State "received": "n=N topic=ALIAS last=PAYLOAD"; telemetry {"received": N} at exit. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evp/sdk.h"

static char g_forward_to[64];
static char g_tag[32];
static int g_max_len, g_delay_ms, g_crash_at, g_report = 1;
static int g_received;
static char g_topic[64];
static char g_last[128];
static char g_state[256];
static const char g_user[] = "sink-user-data";

struct pending {
    struct pending *next;
    size_t len;
    char data[];
};
static struct pending *g_head, **g_tail = &g_head;

static void config_cb(const char *topic, const void *config, size_t len, void *user) {
    (void)user;
    char value[64];
    size_t n = len < sizeof value - 1 ? len : sizeof value - 1;
    memcpy(value, config, n);
    value[n] = 0;
    if (strcmp(topic, "forward_to") == 0) memcpy(g_forward_to, value, n + 1);
    if (strcmp(topic, "tag") == 0 && n < sizeof g_tag) memcpy(g_tag, value, n + 1);
    if (strcmp(topic, "max_len") == 0) g_max_len = atoi(value);
    if (strcmp(topic, "delay_ms") == 0) g_delay_ms = atoi(value);
    if (strcmp(topic, "crash_at") == 0) g_crash_at = atoi(value);
    if (strcmp(topic, "report") == 0) g_report = atoi(value);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void message_cb(const char *topic, const void *payload, size_t len, void *user) {
    if (user != (void *)g_user) __builtin_trap(); /* userData must come back as given */
    g_received++;
    if (g_crash_at && g_received == g_crash_at) __builtin_trap();
    if (g_delay_ms) {
        double until = now_ms() + g_delay_ms;
        while (now_ms() < until) {
        }
    }
    snprintf(g_topic, sizeof g_topic, "%s", topic);
    size_t n = len < sizeof g_last - 1 ? len : sizeof g_last - 1;
    memcpy(g_last, payload, n);
    g_last[n] = 0;
    if (g_forward_to[0] && (g_max_len == 0 || (int)len < g_max_len)) {
        size_t tag = strlen(g_tag);
        struct pending *p = malloc(sizeof *p + len + tag);
        if (p == NULL) __builtin_trap();
        memcpy(p->data, payload, len);
        memcpy(p->data + len, g_tag, tag);
        p->len = len + tag;
        p->next = NULL;
        *g_tail = p;
        g_tail = &p->next;
    }
}

static void sent_cb(EVP_MESSAGE_SENT_CALLBACK_REASON reason, void *user) {
    (void)reason;
    free(user);
}

static void report(struct EVP_client *h) {
    int n = snprintf(g_state, sizeof g_state, "n=%d topic=%s last=%s", g_received, g_topic, g_last);
    EVP_sendState(h, "received", g_state, (size_t)n, NULL, NULL);
}

int main(void) {
    struct EVP_client *h = EVP_initialize();
    if (EVP_setConfigurationCallback(h, config_cb, NULL) != EVP_OK) return 2;
    if (EVP_setMessageCallback(h, message_cb, (void *)g_user) != EVP_OK) return 2;
    int reported = 0;
    for (;;) {
        EVP_RESULT r = EVP_processEvent(h, 1000);
        if (r == EVP_SHOULDEXIT) break;
        /* Forward from the main loop, not from inside the callback (SDK rule). */
        while (g_head != NULL) {
            struct pending *p = g_head;
            if (EVP_sendMessage(h, g_forward_to, p->data, p->len, sent_cb, p) != EVP_OK) break;
            g_head = p->next;
            if (g_head == NULL) g_tail = &g_head;
        }
        if (g_report && reported != g_received) {
            report(h);
            reported = g_received;
        }
    }
    report(h);
    char value[32];
    snprintf(value, sizeof value, "%d", g_received);
    struct EVP_telemetry_entry entry = {"received", value};
    EVP_sendTelemetry(h, &entry, 1, NULL, NULL);
    return 0;
}
