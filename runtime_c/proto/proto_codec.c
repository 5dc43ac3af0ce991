/* Little-endian payload cursors, names, status texts. */
#include "proto.h"

#include <string.h>

const char *proto_status_name(proto_status_t st) {
    switch (st) {
    case PROTO_ST_OK:
        return "ok";
    case PROTO_ST_PRESENT:
        return "already present";
    case PROTO_ST_BAD_REQUEST:
        return "bad request";
    case PROTO_ST_UNKNOWN_TYPE:
        return "unknown message type";
    case PROTO_ST_UNSUPPORTED:
        return "not supported by this device";
    case PROTO_ST_NO_SPACE:
        return "does not fit";
    case PROTO_ST_NOT_FOUND:
        return "not found";
    case PROTO_ST_BAD_STATE:
        return "out of order";
    case PROTO_ST_HASH_MISMATCH:
        return "sha256 mismatch";
    case PROTO_ST_OUT_OF_BOUNDS:
        return "out of bounds";
    case PROTO_ST_BUSY:
        return "busy";
    case PROTO_ST_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

void proto_error_set(proto_error_t *err, const char *text) {
    size_t n = strlen(text);
    if (n >= sizeof err->text) n = sizeof err->text - 1;
    memcpy(err->text, text, n);
    err->text[n] = '\0';
}

bool proto_name_valid(const char *s) {
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok || n >= PROTO_NAME_MAX) return false;
    }
    return n > 0;
}

void proto_rd_init(proto_rd_t *r, const uint8_t *p, size_t len) {
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = false;
}

size_t proto_rd_left(const proto_rd_t *r) {
    return r->err ? 0 : r->len - r->pos;
}

const uint8_t *proto_rd_bytes(proto_rd_t *r, size_t n) {
    if (r->err || n > r->len - r->pos) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t proto_rd_u8(proto_rd_t *r) {
    const uint8_t *p = proto_rd_bytes(r, 1);
    return p ? p[0] : 0;
}

uint16_t proto_rd_u16(proto_rd_t *r) {
    const uint8_t *p = proto_rd_bytes(r, 2);
    return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

uint32_t proto_rd_u32(proto_rd_t *r) {
    const uint8_t *p = proto_rd_bytes(r, 4);
    if (!p) return 0;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

bool proto_rd_str(proto_rd_t *r, char *out, size_t cap) {
    uint8_t n = proto_rd_u8(r);
    const uint8_t *p = proto_rd_bytes(r, n);
    if (!p || (size_t)n + 1u > cap) {
        r->err = true;
        if (cap > 0) out[0] = '\0';
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    /* An embedded NUL would make the C string disagree with the wire length. */
    if (memchr(p, 0, n) != NULL) {
        r->err = true;
        return false;
    }
    return true;
}

void proto_wr_init(proto_wr_t *w, uint8_t *p, size_t cap) {
    w->p = p;
    w->cap = cap;
    w->pos = 0;
    w->err = false;
}

void proto_wr_bytes(proto_wr_t *w, const void *data, size_t n) {
    if (w->err || n > w->cap - w->pos) {
        w->err = true;
        return;
    }
    if (n > 0) memcpy(w->p + w->pos, data, n);
    w->pos += n;
}

void proto_wr_u8(proto_wr_t *w, uint8_t v) {
    proto_wr_bytes(w, &v, 1);
}

void proto_wr_u16(proto_wr_t *w, uint16_t v) {
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    proto_wr_bytes(w, b, 2);
}

void proto_wr_u32(proto_wr_t *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    proto_wr_bytes(w, b, 4);
}

void proto_wr_str(proto_wr_t *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > 255) n = 255;
    proto_wr_u8(w, (uint8_t)n);
    proto_wr_bytes(w, s, n);
}
