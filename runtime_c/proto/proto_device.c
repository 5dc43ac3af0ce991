/* Dispatcher: decoded request -> dedup -> handler -> encoded response (docs/protocol.md 3-4). */
#include "proto.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    proto_device_t *dev;
    proto_rd_t *r;
    proto_wr_t *w; /* positioned after the status field */
    proto_error_t *err;
} req_t;

static proto_status_t fail(req_t *q, proto_status_t st, const char *text) {
    proto_error_set(q->err, text);
    return st;
}

/* Every parse error (short, trailing bytes, bad name) gets the same answer. */
static proto_status_t malformed(req_t *q) {
    return fail(q, PROTO_ST_BAD_REQUEST, "malformed payload");
}

static bool rd_done(proto_rd_t *r) {
    return !r->err && proto_rd_left(r) == 0;
}

static bool rd_name(proto_rd_t *r, char *out) {
    return proto_rd_str(r, out, PROTO_NAME_MAX + 1) && proto_name_valid(out);
}

static void wr_info_str(proto_wr_t *w, const char *s) {
    char tmp[PROTO_INFO_STR_MAX + 1];
    size_t n = s ? strlen(s) : 0;
    if (n > PROTO_INFO_STR_MAX) n = PROTO_INFO_STR_MAX;
    if (n > 0) memcpy(tmp, s, n);
    tmp[n] = '\0';
    proto_wr_str(w, tmp);
}

static proto_status_t do_hello(req_t *q) {
    proto_device_t *dev = q->dev;
    proto_hello_info_t info;
    memset(&info, 0, sizeof info);
    if (!rd_done(q->r)) return malformed(q);
    if (dev->h->hello) dev->h->hello(dev->core, &info);
    proto_wr_u8(q->w, PROTO_VERSION);
    proto_wr_u8(q->w, info.capabilities);
    proto_wr_u16(q->w, (uint16_t)PROTO_MAX_PAYLOAD);
    proto_wr_u32(q->w, info.ram_bytes);
    proto_wr_u32(q->w, info.flash_bytes);
    proto_wr_u16(q->w, info.modules);
    proto_wr_u16(q->w, info.models);
    wr_info_str(q->w, info.runtime_name);
    wr_info_str(q->w, info.runtime_version);
    wr_info_str(q->w, info.engine);
    wr_info_str(q->w, info.nn_backend);
    wr_info_str(q->w, info.target);
    return PROTO_ST_OK;
}

static bool can_upload(const proto_device_t *dev) {
    return dev->h->put_begin && dev->h->put_chunk && dev->h->put_end;
}

static void put_abort(proto_device_t *dev) {
    if (dev->put_active) {
        proto_error_t ignored;
        ignored.text[0] = '\0';
        dev->put_active = false;
        (void)dev->h->put_end(dev->core, false, &ignored);
    }
}

static proto_status_t do_put_begin(req_t *q) {
    proto_device_t *dev = q->dev;
    proto_item_t item;
    memset(&item, 0, sizeof item);
    item.kind = proto_rd_u8(q->r);
    bool name_ok = rd_name(q->r, item.name);
    item.size = proto_rd_u32(q->r);
    const uint8_t *sha = proto_rd_bytes(q->r, 32);
    if (!rd_done(q->r) || !name_ok) return malformed(q);
    if (item.kind != PROTO_KIND_MODULE && item.kind != PROTO_KIND_MODEL) {
        return fail(q, PROTO_ST_BAD_REQUEST, "kind must be 0 (module) or 1 (model)");
    }
    if (!can_upload(dev)) return fail(q, PROTO_ST_UNSUPPORTED, "this device cannot store uploads");
    memcpy(item.sha256, sha, 32);
    put_abort(dev); /* a new begin abandons an unfinished upload */
    proto_status_t st = dev->h->put_begin(dev->core, &item, q->err);
    if (st == PROTO_ST_OK) {
        dev->put_active = true;
        dev->put_item = item;
        dev->put_received = 0;
        proto_sha256_init(&dev->put_sha);
    }
    return st;
}

static proto_status_t do_put_chunk(req_t *q) {
    proto_device_t *dev = q->dev;
    char text[80];
    uint32_t offset = proto_rd_u32(q->r);
    size_t len = proto_rd_left(q->r);
    const uint8_t *data = proto_rd_bytes(q->r, len);
    if (q->r->err || len == 0) return malformed(q);
    if (!dev->put_active) return fail(q, PROTO_ST_BAD_STATE, "no upload in progress");
    if (offset != dev->put_received) {
        snprintf(text, sizeof text, "expected offset %lu, got %lu",
                 (unsigned long)dev->put_received, (unsigned long)offset);
        return fail(q, PROTO_ST_BAD_STATE, text);
    }
    if (len > dev->put_item.size - dev->put_received) {
        snprintf(text, sizeof text, "chunk goes past the announced size of %lu bytes",
                 (unsigned long)dev->put_item.size);
        return fail(q, PROTO_ST_BAD_REQUEST, text);
    }
    proto_status_t st = dev->h->put_chunk(dev->core, offset, data, len, q->err);
    if (st != PROTO_ST_OK) {
        put_abort(dev);
        return st;
    }
    proto_sha256_update(&dev->put_sha, data, len);
    dev->put_received += (uint32_t)len;
    proto_wr_u32(q->w, dev->put_received);
    return PROTO_ST_OK;
}

static proto_status_t do_put_end(req_t *q) {
    proto_device_t *dev = q->dev;
    char text[80];
    uint8_t digest[32];
    if (!rd_done(q->r)) return malformed(q);
    if (!dev->put_active) return fail(q, PROTO_ST_BAD_STATE, "no upload in progress");
    if (dev->put_received != dev->put_item.size) {
        snprintf(text, sizeof text, "only %lu of %lu bytes received",
                 (unsigned long)dev->put_received, (unsigned long)dev->put_item.size);
        return fail(q, PROTO_ST_BAD_STATE, text);
    }
    proto_sha256_final(&dev->put_sha, digest);
    if (memcmp(digest, dev->put_item.sha256, 32) != 0) {
        put_abort(dev);
        return fail(q, PROTO_ST_HASH_MISMATCH, "sha256 of the received bytes does not match");
    }
    dev->put_active = false;
    return dev->h->put_end(dev->core, true, q->err);
}

static proto_status_t do_list(req_t *q) {
    proto_device_t *dev = q->dev;
    uint16_t index = proto_rd_u16(q->r);
    if (!rd_done(q->r)) return malformed(q);
    if (!dev->h->list_item) return fail(q, PROTO_ST_UNSUPPORTED, "no storage");
    size_t more_pos = q->w->pos;
    proto_wr_u8(q->w, 0);
    proto_wr_u8(q->w, 0);
    uint8_t count = 0, more = 0;
    proto_item_t item;
    while (count < 255) {
        memset(&item, 0, sizeof item);
        if (dev->h->list_item(dev->core, index, &item) != PROTO_ST_OK) break;
        item.name[PROTO_NAME_MAX] = '\0';
        size_t need = 1u + 1u + strlen(item.name) + 4u + 32u;
        if (need > q->w->cap - q->w->pos) {
            more = 1;
            break;
        }
        proto_wr_u8(q->w, item.kind);
        proto_wr_str(q->w, item.name);
        proto_wr_u32(q->w, item.size);
        proto_wr_bytes(q->w, item.sha256, 32);
        count++;
        if (index == UINT16_MAX) break;
        index++;
    }
    if (count == 255) more = 1;
    q->w->p[more_pos] = more;
    q->w->p[more_pos + 1] = count;
    return PROTO_ST_OK;
}

static proto_status_t do_instantiate(req_t *q) {
    proto_device_t *dev = q->dev;
    proto_module_ref_t ref;
    memset(&ref, 0, sizeof ref);
    uint8_t by = proto_rd_u8(q->r);
    if (by == 0) {
        if (!rd_name(q->r, ref.name)) return malformed(q);
    } else if (by == 1) {
        const uint8_t *sha = proto_rd_bytes(q->r, 32);
        if (sha) memcpy(ref.sha256, sha, 32);
        ref.by_sha256 = true;
    } else {
        return malformed(q);
    }
    if (!rd_done(q->r)) return malformed(q);
    if (!dev->h->instantiate) return fail(q, PROTO_ST_UNSUPPORTED, "no instances on this device");
    uint32_t inst = 0;
    proto_status_t st = dev->h->instantiate(dev->core, &ref, &inst, q->err);
    if (st == PROTO_ST_OK) proto_wr_u32(q->w, inst);
    return st;
}

static proto_status_t do_drop(req_t *q) {
    uint32_t inst = proto_rd_u32(q->r);
    if (!rd_done(q->r)) return malformed(q);
    if (!q->dev->h->drop) return fail(q, PROTO_ST_UNSUPPORTED, "no instances on this device");
    return q->dev->h->drop(q->dev->core, inst, q->err);
}

static proto_status_t do_call(req_t *q) {
    proto_device_t *dev = q->dev;
    proto_call_req_t req;
    proto_call_result_t res;
    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    req.instance = proto_rd_u32(q->r);
    req.argc = proto_rd_u8(q->r);
    bool name_ok = rd_name(q->r, req.export_name);
    if (req.argc > PROTO_MAX_ARGS) return malformed(q);
    for (unsigned i = 0; i < req.argc; i++)
        req.args[i] = (int32_t)proto_rd_u32(q->r);
    if (!rd_done(q->r) || !name_ok) return malformed(q);
    if (!dev->h->call) return fail(q, PROTO_ST_UNSUPPORTED, "no instances on this device");
    proto_status_t st = dev->h->call(dev->core, &req, &res, q->err);
    if (st != PROTO_ST_OK) return st;
    res.message[sizeof res.message - 1] = '\0';
    proto_wr_u8(q->w, res.outcome);
    proto_wr_u8(q->w, res.has_result ? 1 : 0);
    proto_wr_u32(q->w, (uint32_t)res.value);
    proto_wr_u32(q->w, res.elapsed_us);
    proto_wr_bytes(q->w, res.message, strlen(res.message));
    return PROTO_ST_OK;
}

/* ---- ARGS and FRAME_* (docs/protocol.md: ARGS, FRAME_BEGIN / FRAME_CHUNK / FRAME_END) ---- */

/* Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) without 0x00 bytes. */
static bool utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c == 0) return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0u) == 0xC0u) {
            k = 1, cp = c & 0x1Fu, min = 0x80u;
        } else if ((c & 0xF0u) == 0xE0u) {
            k = 2, cp = c & 0x0Fu, min = 0x800u;
        } else if ((c & 0xF8u) == 0xF0u) {
            k = 3, cp = c & 0x07u, min = 0x10000u;
        } else {
            return false;
        }
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0u) != 0x80u) return false;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) return false;
        i += k + 1;
    }
    return true;
}

static proto_status_t do_args(req_t *q) {
    proto_args_req_t req;
    char text[80];
    memset(&req, 0, sizeof req);
    req.instance = proto_rd_u32(q->r);
    unsigned total = 0;
    for (int part = 0; part < 2; part++) {
        uint8_t count = proto_rd_u8(q->r);
        if (q->r->err) return malformed(q);
        if (total + count > PROTO_ARGS_MAX) {
            snprintf(text, sizeof text, "too many strings: more than %u arguments and variables",
                     (unsigned)PROTO_ARGS_MAX);
            return fail(q, PROTO_ST_BAD_REQUEST, text);
        }
        for (unsigned i = 0; i < count; i++, total++) {
            uint8_t n = proto_rd_u8(q->r);
            const uint8_t *p = proto_rd_bytes(q->r, n);
            if (q->r->err) return malformed(q);
            const char *what = part == 0 ? "argv" : "environ";
            if (!utf8_valid(p, n)) {
                snprintf(text, sizeof text, "%s[%u] is not UTF-8 without NUL bytes", what, i);
                return fail(q, PROTO_ST_BAD_REQUEST, text);
            }
            if (part == 1 && (n == 0 || p[0] == '=' || memchr(p, '=', n) == NULL)) {
                snprintf(text, sizeof text, "environ[%u] has no '=' after a key (KEY=VALUE)", i);
                return fail(q, PROTO_ST_BAD_REQUEST, text);
            }
            req.str[total] = p;
            req.len[total] = n;
        }
        if (part == 0)
            req.argc = count;
        else
            req.envc = count;
    }
    if (!rd_done(q->r)) return malformed(q);
    if (!q->dev->h->args) return fail(q, PROTO_ST_UNSUPPORTED, "this device takes no arguments");
    return q->dev->h->args(q->dev->core, &req, q->err);
}

static proto_status_t do_frame_begin(req_t *q) {
    uint32_t inst = proto_rd_u32(q->r);
    uint16_t width = proto_rd_u16(q->r);
    uint16_t height = proto_rd_u16(q->r);
    uint8_t format = proto_rd_u8(q->r);
    if (!rd_done(q->r)) return malformed(q);
    if (!q->dev->h->frame_begin)
        return fail(q, PROTO_ST_UNSUPPORTED, "this device takes no frames");
    uint32_t size = 0;
    proto_status_t st =
        q->dev->h->frame_begin(q->dev->core, inst, width, height, format, &size, q->err);
    if (st == PROTO_ST_OK) proto_wr_u32(q->w, size);
    return st;
}

static proto_status_t do_frame_chunk(req_t *q) {
    uint32_t offset = proto_rd_u32(q->r);
    size_t len = proto_rd_left(q->r);
    const uint8_t *data = proto_rd_bytes(q->r, len);
    if (q->r->err || len == 0) return malformed(q);
    if (!q->dev->h->frame_chunk)
        return fail(q, PROTO_ST_UNSUPPORTED, "this device takes no frames");
    uint32_t received = 0;
    proto_status_t st = q->dev->h->frame_chunk(q->dev->core, offset, data, len, &received, q->err);
    if (st == PROTO_ST_OK) proto_wr_u32(q->w, received);
    return st;
}

static proto_status_t do_frame_end(req_t *q) {
    if (!rd_done(q->r)) return malformed(q);
    if (!q->dev->h->frame_end) return fail(q, PROTO_ST_UNSUPPORTED, "this device takes no frames");
    uint32_t image = 0;
    proto_status_t st = q->dev->h->frame_end(q->dev->core, &image, q->err);
    if (st == PROTO_ST_OK) proto_wr_u32(q->w, image);
    return st;
}

static proto_status_t do_mem_write(req_t *q) {
    uint32_t inst = proto_rd_u32(q->r);
    uint32_t addr = proto_rd_u32(q->r);
    size_t len = proto_rd_left(q->r);
    const uint8_t *data = proto_rd_bytes(q->r, len);
    if (q->r->err) return malformed(q);
    if (!q->dev->h->mem_write) return fail(q, PROTO_ST_UNSUPPORTED, "no instances on this device");
    return q->dev->h->mem_write(q->dev->core, inst, addr, data, len, q->err);
}

static proto_status_t do_mem_read(req_t *q) {
    uint32_t inst = proto_rd_u32(q->r);
    uint32_t addr = proto_rd_u32(q->r);
    uint16_t len = proto_rd_u16(q->r);
    if (!rd_done(q->r)) return malformed(q);
    if (len > q->w->cap - q->w->pos) {
        return fail(q, PROTO_ST_BAD_REQUEST, "length exceeds max payload - 2");
    }
    if (!q->dev->h->mem_read) return fail(q, PROTO_ST_UNSUPPORTED, "no instances on this device");
    proto_status_t st =
        q->dev->h->mem_read(q->dev->core, inst, addr, q->w->p + q->w->pos, len, q->err);
    if (st == PROTO_ST_OK) q->w->pos += len;
    return st;
}

static proto_status_t do_logs(req_t *q) {
    uint32_t inst = proto_rd_u32(q->r);
    if (!rd_done(q->r)) return malformed(q);
    if (!q->dev->h->logs) return fail(q, PROTO_ST_UNSUPPORTED, "no log capture on this device");
    size_t flag_pos = q->w->pos;
    proto_wr_u8(q->w, 0);
    size_t cap = q->w->cap - q->w->pos, len = 0;
    bool more = false;
    proto_status_t st =
        q->dev->h->logs(q->dev->core, inst, q->w->p + q->w->pos, cap, &len, &more, q->err);
    if (st != PROTO_ST_OK) return st;
    if (len > cap) return fail(q, PROTO_ST_INTERNAL, "log handler overran its buffer");
    q->w->pos += len;
    q->w->p[flag_pos] = more ? 1 : 0;
    return PROTO_ST_OK;
}

static proto_status_t do_stats(req_t *q) {
    proto_device_t *dev = q->dev;
    proto_core_stats_t cs;
    memset(&cs, 0, sizeof cs);
    uint8_t flags = 0; /* optional: an empty request is the version-1 STATS */
    if (proto_rd_left(q->r) > 0) flags = proto_rd_u8(q->r);
    if (!rd_done(q->r)) return malformed(q);
    if ((flags & PROTO_STATS_RESET_PEAKS) && !dev->h->reset_peaks)
        return fail(q, PROTO_ST_UNSUPPORTED, "this device cannot reset its peaks");
    if (dev->h->stats) dev->h->stats(dev->core, &cs);
    proto_wr_u32(q->w, cs.ram_high_water);
    proto_wr_u32(q->w, cs.heap_in_use);
    proto_wr_u32(q->w, cs.last_call_us);
    proto_wr_u32(q->w, dev->counters.frames_ok);
    proto_wr_u32(q->w, dev->counters.bad_crc);
    proto_wr_u32(q->w, dev->counters.bad_frame);
    proto_wr_u32(q->w, dev->counters.timeouts);
    proto_wr_u32(q->w, dev->counters.duplicates);
    proto_wr_u32(q->w, dev->io.now_ms(dev->io.ctx) - dev->boot_ms);
    if (flags & PROTO_STATS_EXTENDED) {
        proto_wr_u32(q->w, cs.stack_high_water);
        proto_wr_u8(q->w, cs.counter_unit);
        proto_wr_u32(q->w, (uint32_t)cs.counter);
        proto_wr_u32(q->w, (uint32_t)(cs.counter >> 32));
        proto_wr_u32(q->w, (uint32_t)cs.last_call_counter);
        proto_wr_u32(q->w, (uint32_t)(cs.last_call_counter >> 32));
    }
    if (flags & PROTO_STATS_RESET_PEAKS) dev->h->reset_peaks(dev->core);
    return PROTO_ST_OK;
}

static proto_status_t dispatch(req_t *q, uint8_t type) {
    switch (type) {
    case PROTO_MSG_HELLO:
        return do_hello(q);
    case PROTO_MSG_PUT_BEGIN:
        return do_put_begin(q);
    case PROTO_MSG_PUT_CHUNK:
        return do_put_chunk(q);
    case PROTO_MSG_PUT_END:
        return do_put_end(q);
    case PROTO_MSG_LIST:
        return do_list(q);
    case PROTO_MSG_INSTANTIATE:
        return do_instantiate(q);
    case PROTO_MSG_DROP:
        return do_drop(q);
    case PROTO_MSG_CALL:
        return do_call(q);
    case PROTO_MSG_MEM_WRITE:
        return do_mem_write(q);
    case PROTO_MSG_MEM_READ:
        return do_mem_read(q);
    case PROTO_MSG_LOGS:
        return do_logs(q);
    case PROTO_MSG_STATS:
        return do_stats(q);
    case PROTO_MSG_RESET:
        return rd_done(q->r) ? PROTO_ST_OK : malformed(q);
    /* ARGS and FRAME_* */
    case PROTO_MSG_ARGS:
        return do_args(q);
    case PROTO_MSG_FRAME_BEGIN:
        return do_frame_begin(q);
    case PROTO_MSG_FRAME_CHUNK:
        return do_frame_chunk(q);
    case PROTO_MSG_FRAME_END:
        return do_frame_end(q);
    default:
        if (type >= PROTO_MSG_EXT_FIRST && type <= PROTO_MSG_EXT_LAST && q->dev->h->ext) {
            proto_status_t st = q->dev->h->ext(q->dev->core, type, q->r, q->w, q->err);
            if (st != PROTO_ST_UNKNOWN_TYPE) return st;
            q->err->text[0] = '\0';
        }
        break;
    }
    char text[48];
    snprintf(text, sizeof text, "unknown message type 0x%02x", (unsigned)type);
    return fail(q, PROTO_ST_UNKNOWN_TYPE, text);
}

static void handle_frame(proto_device_t *dev) {
    proto_decoder_t *d = &dev->dec;
    if (d->hdr.flags & PROTO_FLAG_RESPONSE) { /* a device never receives responses */
        dev->counters.bad_frame++;
        return;
    }
    dev->counters.frames_ok++;
    if (dev->cache_valid && d->hdr.seq == dev->cache_seq && d->crc == dev->cache_crc) {
        dev->counters.duplicates++; /* retransmission: answer again, do not execute again */
        (void)dev->io.write(dev->io.ctx, dev->cache, dev->cache_len);
        return;
    }

    proto_rd_t r;
    proto_wr_t w;
    proto_error_t err;
    err.text[0] = '\0';
    proto_rd_init(&r, d->payload, d->payload_len);
    proto_wr_init(&w, dev->resp, sizeof dev->resp);
    proto_wr_u16(&w, 0);
    req_t q = {dev, &r, &w, &err};
    proto_status_t st;
    if (d->version != PROTO_VERSION) {
        char text[64];
        snprintf(text, sizeof text, "protocol version %u not supported (device speaks %u)",
                 (unsigned)d->version, (unsigned)PROTO_VERSION);
        st = fail(&q, PROTO_ST_UNSUPPORTED, text);
    } else {
        st = dispatch(&q, d->hdr.type);
    }
    if (w.err) st = fail(&q, PROTO_ST_INTERNAL, "response too large");
    err.text[sizeof err.text - 1] = '\0'; /* handlers may have filled it without a NUL */
    if (st != PROTO_ST_OK && st != PROTO_ST_PRESENT) {
        const char *text = err.text[0] ? err.text : proto_status_name(st);
        proto_wr_init(&w, dev->resp, sizeof dev->resp);
        proto_wr_u16(&w, (uint16_t)st);
        proto_wr_bytes(&w, text, strlen(text));
    } else if (st == PROTO_ST_PRESENT) {
        w.pos = 2; /* PRESENT has no body */
    }
    dev->resp[0] = (uint8_t)st;
    dev->resp[1] = (uint8_t)((unsigned)st >> 8);

    proto_header_t hdr = {d->hdr.type, PROTO_FLAG_RESPONSE, d->hdr.seq};
    size_t n = proto_frame_encode(&hdr, dev->resp, w.pos, dev->cache, sizeof dev->cache);
    dev->cache_valid = n > 0;
    dev->cache_seq = d->hdr.seq;
    dev->cache_crc = d->crc;
    dev->cache_len = (uint32_t)n;
    if (n > 0) (void)dev->io.write(dev->io.ctx, dev->cache, n);

    if (d->version == PROTO_VERSION && d->hdr.type == PROTO_MSG_RESET && st == PROTO_ST_OK) {
        put_abort(dev);
        if (dev->h->reset) dev->h->reset(dev->core);
    }
}

static void feed_byte(proto_device_t *dev, uint8_t byte) {
    switch (proto_decoder_feed(&dev->dec, byte)) {
    case PROTO_DEC_FRAME:
        handle_frame(dev);
        break;
    case PROTO_DEC_BAD_CRC:
        dev->counters.bad_crc++;
        break;
    case PROTO_DEC_BAD_FRAME:
        dev->counters.bad_frame++;
        break;
    case PROTO_DEC_NONE:
        break;
    }
}

void proto_device_init(proto_device_t *dev, const proto_io_t *io, const proto_handlers_t *h,
                       void *core) {
    memset(dev, 0, sizeof *dev);
    dev->io = *io;
    dev->h = h;
    dev->core = core;
    proto_decoder_reset(&dev->dec);
    dev->boot_ms = io->now_ms(io->ctx);
    dev->last_byte_ms = dev->boot_ms;
}

void proto_device_feed(proto_device_t *dev, const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++)
        feed_byte(dev, data[i]);
}

int proto_device_poll(proto_device_t *dev, uint32_t timeout_ms) {
    bool busy = proto_decoder_busy(&dev->dec);
    uint32_t wait = (busy && timeout_ms > PROTO_INTERBYTE_MS) ? PROTO_INTERBYTE_MS : timeout_ms;
    int c = dev->io.read_byte(dev->io.ctx, wait);
    if (c == PROTO_IO_CLOSED) return PROTO_IO_CLOSED;
    uint32_t now = dev->io.now_ms(dev->io.ctx);
    /* A partial frame older than the inter-byte timeout is stale: drop it before going on. */
    if (busy && now - dev->last_byte_ms >= PROTO_INTERBYTE_MS) {
        proto_decoder_reset(&dev->dec);
        dev->counters.timeouts++;
    }
    if (c >= 0 && c <= 0xFF) {
        dev->last_byte_ms = now;
        feed_byte(dev, (uint8_t)c);
        return 1;
    }
    return 0;
}

void proto_device_run(proto_device_t *dev) {
    while (proto_device_poll(dev, 1000) != PROTO_IO_CLOSED) {
    }
}
