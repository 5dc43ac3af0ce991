/* COBS framing: encoder and the incremental decoder (docs/protocol.md sections 1-2). */
#include "proto.h"

#include <string.h>

size_t proto_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    if (cap < PROTO_COBS_MAX(n)) return 0; /* worst case checked once: no per-byte checks */
    size_t code_pos = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
            continue;
        }
        out[o++] = in[i];
        code++;
        /* A full block only opens a new one if more input follows (no trailing 0x01). */
        if (code == 0xFF && i + 1 < n) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
        }
    }
    out[code_pos] = code;
    return o;
}

static void put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

size_t proto_frame_encode(const proto_header_t *hdr, const uint8_t *payload, size_t len,
                          uint8_t *out, size_t cap) {
    uint8_t body[PROTO_MAX_FRAME];
    if (len > PROTO_MAX_PAYLOAD || (len > 0 && payload == NULL)) return 0;
    body[0] = PROTO_MAGIC;
    body[1] = PROTO_VERSION;
    body[2] = hdr->type;
    body[3] = hdr->flags;
    put_le16(body + 4, hdr->seq);
    put_le16(body + 6, (uint16_t)len);
    if (len > 0) memcpy(body + PROTO_HEADER_SIZE, payload, len);
    size_t n = PROTO_HEADER_SIZE + len;
    put_le32(body + n, proto_crc32(0, body, n));
    n += PROTO_CRC_SIZE;
    if (cap < 2) return 0;
    size_t enc = proto_cobs_encode(body, n, out + 1, cap - 2);
    if (enc == 0) return 0;
    out[0] = 0;
    out[enc + 1] = 0;
    return enc + 2;
}

void proto_decoder_reset(proto_decoder_t *d) {
    d->len = 0;
    d->block_left = 0;
    d->block_ff = false;
    d->zero_pending = false;
    d->in_frame = false;
    d->bad = false;
}

bool proto_decoder_busy(const proto_decoder_t *d) {
    return d->in_frame;
}

static void dec_append(proto_decoder_t *d, uint8_t b) {
    if (d->len >= PROTO_MAX_FRAME) {
        d->bad = true; /* too long: skip to the next delimiter */
        return;
    }
    d->buf[d->len++] = b;
}

static proto_dec_result_t dec_finish(proto_decoder_t *d) {
    bool bad = d->bad || d->block_left != 0; /* block_left: truncated COBS block */
    uint32_t n = d->len;
    proto_decoder_reset(d);
    if (bad || n < PROTO_HEADER_SIZE + PROTO_CRC_SIZE) return PROTO_DEC_BAD_FRAME;
    uint32_t body = n - PROTO_CRC_SIZE;
    if (proto_crc32(0, d->buf, body) != get_le32(d->buf + body)) return PROTO_DEC_BAD_CRC;
    uint32_t plen = (uint32_t)d->buf[6] | ((uint32_t)d->buf[7] << 8);
    if (d->buf[0] != PROTO_MAGIC || plen != body - PROTO_HEADER_SIZE) return PROTO_DEC_BAD_FRAME;
    d->version = d->buf[1];
    d->hdr.type = d->buf[2];
    d->hdr.flags = d->buf[3];
    d->hdr.seq = (uint16_t)(d->buf[4] | (d->buf[5] << 8));
    d->payload = d->buf + PROTO_HEADER_SIZE;
    d->payload_len = (uint16_t)plen;
    d->crc = get_le32(d->buf + body);
    return PROTO_DEC_FRAME;
}

proto_dec_result_t proto_decoder_feed(proto_decoder_t *d, uint8_t byte) {
    if (byte == 0) {
        if (!d->in_frame) return PROTO_DEC_NONE; /* empty frame between delimiters */
        return dec_finish(d);
    }
    d->in_frame = true;
    if (d->bad) return PROTO_DEC_NONE;
    if (d->block_left == 0) { /* byte is a COBS code */
        if (d->zero_pending) dec_append(d, 0);
        d->block_left = (uint8_t)(byte - 1u);
        d->block_ff = byte == 0xFF;
    } else {
        dec_append(d, byte);
        d->block_left--;
    }
    if (d->block_left == 0) d->zero_pending = !d->block_ff;
    return PROTO_DEC_NONE;
}
