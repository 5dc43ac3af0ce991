/* Plate reader, stage 5 (EVP module): the plate's string from the character scores, under the
 * plate format (configuration "format": L letter, D digit, other either; default LLDDLLL).
 * In: "scores" (plate_ocr.c). Publishes the state "plate" (the latest string) and, per frame,
 * the telemetry "plate": {"frame": N, "text": "...", "stage_us": [locate, crop, segment, ocr,
 * assemble]}. */
#include <stdio.h>

#include "plates/module.h"

static char format[PLATES_MAX_CHARS + 1] = "LLDDLLL";
static char text[PLATES_MAX_CHARS + 1];
static char json[256];

static void config(const char *topic, const char *value, size_t len) {
    if (strcmp(topic, "format") == 0 && len < sizeof format) {
        memcpy(format, value, len);
        format[len] = 0;
    }
}

static size_t assemble(struct EVP_client *h, const uint8_t *in, size_t len, uint8_t **out,
                       size_t *cap) {
    (void)out, (void)cap;
    uint64_t t0 = plates_now_us();
    const plates_hdr *hdr = plates_header(in, len);
    int32_t count;
    if (hdr == NULL || len < sizeof *hdr + 4) return 0;
    memcpy(&count, in + sizeof *hdr, 4);
    if (count < 0 || count > PLATES_MAX_CHARS ||
        len - sizeof *hdr - 4 < (size_t)count * PLATES_CLASSES)
        return 0;
    plates_assemble((const int8_t *)(in + sizeof *hdr + 4), count, format, text);
    uint32_t own = (uint32_t)(plates_now_us() - t0);
    const uint32_t *t = hdr->stage_us;
    int n = snprintf(json, sizeof json,
                     "{\"frame\": %u, \"text\": \"%s\", \"stage_us\": [%u, %u, %u, %u, %u]}",
                     (unsigned)hdr->frame, text, (unsigned)t[0], (unsigned)t[1], (unsigned)t[2],
                     (unsigned)t[3], (unsigned)own);
    struct EVP_telemetry_entry entry = {"plate", json};
    EVP_sendTelemetry(h, &entry, 1, NULL, NULL);
    EVP_sendState(h, "plate", text, strlen(text), NULL, NULL);
    (void)n;
    return 0;
}

int main(void) {
    return plates_module_main(NULL, assemble, config);
}
