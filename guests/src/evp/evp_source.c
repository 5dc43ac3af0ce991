/* EVP module: sends `count` messages ("0", "1", ...) on the publish alias `publish_to`.
 * Written against the EVP module SDK only (evp/sdk.h); configuration topics:
 *   publish_to  the alias to send on (default "out")
 *   count       how many messages to send (nothing is sent before it arrives)
 *   burst       messages sent between two EVP_processEvent calls (default 1): more than a
 *               receiver's queue holds makes the source wait for room (backpressure) even on a
 *               runtime whose instances take turns (the C runtime's cooperative tasks)
 * State "progress": "sent=S acked=A errors=E denied=D" once every message was acknowledged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evp/sdk.h"

static char g_publish_to[64] = "out";
static int g_count = -1;
static int g_burst = 1;
static int g_sent, g_acked, g_errors, g_denied;
static char g_state[96];

static void config_cb(const char *topic, const void *config, size_t len, void *user) {
    (void)user;
    char value[64];
    size_t n = len < sizeof value - 1 ? len : sizeof value - 1;
    memcpy(value, config, n);
    value[n] = 0;
    if (strcmp(topic, "publish_to") == 0) {
        memcpy(g_publish_to, value, n + 1);
    } else if (strcmp(topic, "count") == 0) {
        g_count = atoi(value);
    } else if (strcmp(topic, "burst") == 0) {
        g_burst = atoi(value) > 0 ? atoi(value) : 1;
    }
}

static void sent_cb(EVP_MESSAGE_SENT_CALLBACK_REASON reason, void *user) {
    if (reason == EVP_MESSAGE_SENT_CALLBACK_REASON_SENT) {
        g_acked++;
    } else {
        g_errors++;
    }
    free(user); /* the payload stays valid until this callback, as the SDK requires */
}

static void state_cb(EVP_STATE_CALLBACK_REASON reason, void *user) {
    (void)reason;
    (void)user;
}

int main(void) {
    struct EVP_client *h = EVP_initialize();
    if (EVP_setConfigurationCallback(h, config_cb, NULL) != EVP_OK) return 2;
    int reported = 0;
    for (;;) {
        int busy = g_count >= 0 && g_sent < g_count;
        EVP_RESULT r = EVP_processEvent(h, busy ? 0 : 100);
        if (r == EVP_SHOULDEXIT) break;
        for (int i = 0; busy && i < g_burst && g_sent < g_count; i++) {
            char *payload = malloc(16);
            if (payload == NULL) return 3;
            int n = snprintf(payload, 16, "%d", g_sent);
            r = EVP_sendMessage(h, g_publish_to, payload, (size_t)n, sent_cb, payload);
            if (r == EVP_OK) {
                g_sent++;
            } else {
                g_denied++;
                free(payload);
                break;
            }
        }
        if (!reported && g_count >= 0 && g_acked + g_errors == g_count) {
            int n = snprintf(g_state, sizeof g_state, "sent=%d acked=%d errors=%d denied=%d",
                             g_sent, g_acked, g_errors, g_denied);
            EVP_sendState(h, "progress", g_state, (size_t)n, state_cb, NULL);
            char value[32];
            snprintf(value, sizeof value, "%d", g_sent);
            struct EVP_telemetry_entry entry = {"sent", value};
            EVP_sendTelemetry(h, &entry, 1, NULL, NULL);
            reported = 1;
        }
    }
    return 0;
}
