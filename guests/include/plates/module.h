/* The loop every plate-reader EVP module runs (guests/src/evp/plate_*.c): each message on any
 * subscribed alias goes through the module's stage function; a non-empty result is sent on the
 * publish alias from the main loop (not from inside the callback), retried while a receiver's
 * queue stays full. The stage's own time goes into the message header (plates_hdr). */
#ifndef PLATES_MODULE_H
#define PLATES_MODULE_H

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evp/sdk.h"
#include "plates/plates.h"

/* Handles one input message; returns the length of the message to publish (0: none). `*out`
 * is a buffer the function may replace with a larger malloc'ed one (keeping *cap). */
typedef size_t (*plates_stage_fn)(struct EVP_client *h, const uint8_t *in, size_t len,
                                  uint8_t **out, size_t *cap);
/* A configuration topic (value not NUL-terminated). */
typedef void (*plates_config_fn)(const char *topic, const char *value, size_t len);

static struct {
    plates_stage_fn stage;
    plates_config_fn config;
    uint8_t *out, *in;
    size_t cap, in_cap, pending;
} plates_mod;

static inline uint64_t plates_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Grows *out to at least n bytes; 0 on success. */
static inline int plates_reserve(uint8_t **out, size_t *cap, size_t n) {
    if (n <= *cap) return 0;
    uint8_t *p = realloc(*out, n);
    if (p == NULL) return -1;
    *out = p;
    *cap = n;
    return 0;
}

/* The header of an input message, or NULL when it is too short or not a plate message. */
static inline const plates_hdr *plates_header(const uint8_t *in, size_t len) {
    if (len < sizeof(plates_hdr) || ((uintptr_t)in & 3u)) return NULL;
    const plates_hdr *hdr = (const plates_hdr *)in;
    return hdr->magic == PLATES_MAGIC ? hdr : NULL;
}

static void plates_on_message(const char *topic, const void *payload, size_t len, void *user) {
    (void)topic, (void)user;
    /* The SDK promises no alignment (the host puts topic and payload in one block): messages
     * are read as structs, so an unaligned payload is copied first. */
    const uint8_t *in = payload;
    if ((uintptr_t)in & 3u) {
        if (plates_reserve(&plates_mod.in, &plates_mod.in_cap, len)) return;
        memcpy(plates_mod.in, payload, len);
        in = plates_mod.in;
    }
    plates_mod.pending =
        plates_mod.stage(EVP_initialize(), in, len, &plates_mod.out, &plates_mod.cap);
}

static void plates_on_config(const char *topic, const void *value, size_t len, void *user) {
    (void)user;
    if (plates_mod.config) plates_mod.config(topic, value, len);
}

static inline int plates_module_main(const char *publish, plates_stage_fn stage,
                                     plates_config_fn config) {
    struct EVP_client *h = EVP_initialize();
    plates_mod.stage = stage;
    plates_mod.config = config;
    if (EVP_setConfigurationCallback(h, plates_on_config, NULL) != EVP_OK) return 2;
    if (EVP_setMessageCallback(h, plates_on_message, NULL) != EVP_OK) return 2;
    for (;;) {
        /* A result is sent before the next message is taken. */
        while (plates_mod.pending && publish != NULL) {
            EVP_RESULT r =
                EVP_sendMessage(h, publish, plates_mod.out, plates_mod.pending, NULL, NULL);
            if (r == EVP_OK) break;
            if (r != EVP_DENIED) return 3;
        }
        plates_mod.pending = 0;
        if (EVP_processEvent(h, 1000) == EVP_SHOULDEXIT) break;
    }
    return 0;
}

#endif
