/*
 * Device protocol, device side (see docs/protocol.md, the one protocol document).
 *
 * Portable C99, no malloc, no platform calls: bytes and time come in through proto_io_t, the
 * runtime core answers requests through proto_handlers_t. Layers, each usable on its own:
 *   proto_crc32            CRC-32 (IEEE, same as zlib.crc32)
 *   proto_sha256_*         streaming SHA-256 (for chunked uploads)
 *   proto_cobs_* / proto_frame_encode / proto_decoder_*   framing
 *   proto_rd_* / proto_wr_*                               little-endian payload cursors
 *   proto_device_*         dispatcher: decode -> dedup -> handler -> encode -> write
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants (docs/protocol.md sections 1-2) ---- */

#define PROTO_MAGIC 0x57u
#define PROTO_VERSION 1u
#define PROTO_FLAG_RESPONSE 0x01u
#define PROTO_HEADER_SIZE 8u
#define PROTO_CRC_SIZE 4u

#ifndef PROTO_MAX_PAYLOAD
#define PROTO_MAX_PAYLOAD 1024u
#endif
#if PROTO_MAX_PAYLOAD < 256 || PROTO_MAX_PAYLOAD > 65535
#error "PROTO_MAX_PAYLOAD must be in 256..65535"
#endif

#ifndef PROTO_INTERBYTE_MS
#define PROTO_INTERBYTE_MS 200u
#endif

/* Largest frame body (header + payload + crc) and its worst-case size on the wire. */
#define PROTO_MAX_FRAME (PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD + PROTO_CRC_SIZE)
#define PROTO_COBS_MAX(n) ((n) + (n) / 254u + 1u)
#define PROTO_MAX_ENCODED (PROTO_COBS_MAX(PROTO_MAX_FRAME) + 2u)

#define PROTO_NAME_MAX 64u
#define PROTO_MAX_ARGS 8u
#define PROTO_ERROR_TEXT_MAX 120u
#define PROTO_INFO_STR_MAX 32u

typedef enum {
    PROTO_MSG_HELLO = 0x01,
    PROTO_MSG_PUT_BEGIN = 0x10,
    PROTO_MSG_PUT_CHUNK = 0x11,
    PROTO_MSG_PUT_END = 0x12,
    PROTO_MSG_LIST = 0x20,
    PROTO_MSG_INSTANTIATE = 0x30,
    PROTO_MSG_DROP = 0x31,
    PROTO_MSG_CALL = 0x32,
    PROTO_MSG_ARGS = 0x33,
    PROTO_MSG_MEM_WRITE = 0x40,
    PROTO_MSG_MEM_READ = 0x41,
    PROTO_MSG_FRAME_BEGIN = 0x42,
    PROTO_MSG_FRAME_CHUNK = 0x43,
    PROTO_MSG_FRAME_END = 0x44,
    PROTO_MSG_LOGS = 0x50,
    PROTO_MSG_STATS = 0x51,
    PROTO_MSG_RESET = 0x60,
    /* pipelines (docs/protocol.md section 4.1): parsed by the core's `ext` handler */
    PROTO_MSG_PIPE_BIND = 0x70,
    PROTO_MSG_PIPE_ROUTE = 0x71,
    PROTO_MSG_PIPE_CONFIG = 0x72,
    PROTO_MSG_PIPE_START = 0x73,
    PROTO_MSG_PIPE_PUBLISH = 0x74,
    PROTO_MSG_PIPE_POLL = 0x75,
    PROTO_MSG_PIPE_STATUS = 0x76,
    PROTO_MSG_PIPE_STOP = 0x77
} proto_msg_t;
/* Message types the dispatcher hands to the core's `ext` handler unparsed. */
#define PROTO_MSG_EXT_FIRST 0x70u
#define PROTO_MSG_EXT_LAST 0x7Fu

typedef enum {
    PROTO_ST_OK = 0,
    PROTO_ST_PRESENT = 1,
    PROTO_ST_BAD_REQUEST = 2,
    PROTO_ST_UNKNOWN_TYPE = 3,
    PROTO_ST_UNSUPPORTED = 4,
    PROTO_ST_NO_SPACE = 5,
    PROTO_ST_NOT_FOUND = 6,
    PROTO_ST_BAD_STATE = 7,
    PROTO_ST_HASH_MISMATCH = 8,
    PROTO_ST_OUT_OF_BOUNDS = 9,
    PROTO_ST_BUSY = 10,
    PROTO_ST_INTERNAL = 11
} proto_status_t;

typedef enum { PROTO_KIND_MODULE = 0, PROTO_KIND_MODEL = 1 } proto_kind_t;

#define PROTO_CAP_LOAD_MODULES 0x01u
#define PROTO_CAP_LOAD_MODELS 0x02u
#define PROTO_CAP_ARGS 0x04u      /* ARGS: WASI arguments and environment */
#define PROTO_CAP_FRAMES 0x08u    /* FRAME_BEGIN/CHUNK/END: frames as image handles */
#define PROTO_CAP_PIPELINES 0x10u /* bit 4: PIPE_* messages (docs/protocol.md 4.1) */

typedef enum {
    PROTO_CALL_RETURNED = 0,
    PROTO_CALL_TRAPPED = 1,
    PROTO_CALL_EXITED = 2,
    PROTO_CALL_TIMEOUT = 3
} proto_call_outcome_t;

/* Default message for a status ("not found", ...); never NULL. */
const char *proto_status_name(proto_status_t st);

/* ---- CRC-32 and SHA-256 ---- */

/* Continue a CRC: proto_crc32(0, data, n) equals Python's zlib.crc32(data). */
uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t len);

typedef struct {
    uint32_t h[8];
    uint64_t total;  /* bytes hashed so far */
    uint8_t buf[64]; /* partial block */
    uint32_t used;   /* bytes in buf */
} proto_sha256_t;

void proto_sha256_init(proto_sha256_t *s);
void proto_sha256_update(proto_sha256_t *s, const uint8_t *data, size_t len);
void proto_sha256_final(proto_sha256_t *s, uint8_t out[32]);

/* ---- COBS and frames ---- */

/* Encode n bytes into out (cap bytes). Returns the encoded length, 0 if it does not fit.
 * The output contains no 0x00 and no delimiter. */
size_t proto_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

typedef struct {
    uint8_t type;
    uint8_t flags;
    uint16_t seq;
} proto_header_t;

/* Build header + payload + crc, COBS-encode and add the leading and trailing 0x00 delimiters.
 * Returns the number of bytes written to out, 0 if the payload or the output is too large. */
size_t proto_frame_encode(const proto_header_t *hdr, const uint8_t *payload, size_t len,
                          uint8_t *out, size_t cap);

typedef enum {
    PROTO_DEC_NONE = 0, /* need more bytes */
    PROTO_DEC_FRAME,    /* a complete, CRC-checked frame is in the decoder */
    PROTO_DEC_BAD_CRC,  /* frame dropped: CRC mismatch */
    PROTO_DEC_BAD_FRAME /* frame dropped: COBS error, too long, too short, magic, length */
} proto_dec_result_t;

/* Incremental byte-at-a-time decoder with a fixed buffer. */
typedef struct {
    uint8_t buf[PROTO_MAX_FRAME];
    uint32_t len;       /* decoded bytes in buf */
    uint8_t block_left; /* bytes left in the current COBS block */
    bool block_ff;      /* the current block has code 0xFF (no implied 0x00 after it) */
    bool zero_pending;  /* an implied 0x00 is due if another block follows */
    bool in_frame;      /* at least one body byte seen since the last delimiter */
    bool bad;           /* the current frame is already known to be invalid */
    /* valid after PROTO_DEC_FRAME: */
    proto_header_t hdr;
    uint8_t version;
    const uint8_t *payload;
    uint16_t payload_len;
    uint32_t crc; /* the frame's CRC field, used as the dedup key */
} proto_decoder_t;

void proto_decoder_reset(proto_decoder_t *d);
proto_dec_result_t proto_decoder_feed(proto_decoder_t *d, uint8_t byte);
/* True while a frame is partially received (used for the inter-byte timeout). */
bool proto_decoder_busy(const proto_decoder_t *d);

/* ---- little-endian payload cursors: every read is bounds-checked, errors are sticky ---- */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    bool err;
} proto_rd_t;

void proto_rd_init(proto_rd_t *r, const uint8_t *p, size_t len);
uint8_t proto_rd_u8(proto_rd_t *r);
uint16_t proto_rd_u16(proto_rd_t *r);
uint32_t proto_rd_u32(proto_rd_t *r);
/* Returns a pointer to n bytes inside the payload, NULL (and err) if fewer remain. */
const uint8_t *proto_rd_bytes(proto_rd_t *r, size_t n);
/* u8 length + bytes, copied NUL-terminated into out (cap bytes incl. NUL). */
bool proto_rd_str(proto_rd_t *r, char *out, size_t cap);
size_t proto_rd_left(const proto_rd_t *r);

typedef struct {
    uint8_t *p;
    size_t cap, pos;
    bool err;
} proto_wr_t;

void proto_wr_init(proto_wr_t *w, uint8_t *p, size_t cap);
void proto_wr_u8(proto_wr_t *w, uint8_t v);
void proto_wr_u16(proto_wr_t *w, uint16_t v);
void proto_wr_u32(proto_wr_t *w, uint32_t v);
void proto_wr_bytes(proto_wr_t *w, const void *data, size_t n);
/* u8 length + bytes of a NUL-terminated string (truncated to 255). */
void proto_wr_str(proto_wr_t *w, const char *s);

/* True if s is 1..64 bytes of [A-Za-z0-9_.-]. */
bool proto_name_valid(const char *s);

/* ---- interface to the runtime core ---- */

/* Error text a handler may fill in (snprintf into .text); the dispatcher falls back to
 * proto_status_name() when it is left empty. */
typedef struct {
    char text[PROTO_ERROR_TEXT_MAX];
} proto_error_t;

void proto_error_set(proto_error_t *err, const char *text);

typedef struct {
    const char *runtime_name, *runtime_version, *engine, *nn_backend, *target; /* <= 32 bytes */
    uint32_t ram_bytes, flash_bytes;
    uint8_t capabilities; /* PROTO_CAP_* */
    uint16_t modules, models;
} proto_hello_info_t;

typedef struct {
    uint8_t kind; /* proto_kind_t */
    char name[PROTO_NAME_MAX + 1];
    uint32_t size;
    uint8_t sha256[32];
} proto_item_t;

typedef struct {
    bool by_sha256;
    char name[PROTO_NAME_MAX + 1]; /* when !by_sha256 */
    uint8_t sha256[32];            /* when by_sha256 */
} proto_module_ref_t;

typedef struct {
    uint32_t instance;
    char export_name[PROTO_NAME_MAX + 1];
    uint8_t argc;
    int32_t args[PROTO_MAX_ARGS];
} proto_call_req_t;

typedef struct {
    uint8_t outcome; /* proto_call_outcome_t */
    bool has_result;
    int32_t value; /* result, or exit code when exited */
    uint32_t elapsed_us;
    char message[PROTO_ERROR_TEXT_MAX]; /* trap / exit / timeout text, "" when returned */
} proto_call_result_t;

/* ARGS (docs/protocol.md): argc + envc strings, pointing into the request payload. The
 * dispatcher has checked them: valid UTF-8, no 0x00, environ entries have '=' after a key. */
#define PROTO_ARGS_MAX 32u
typedef struct {
    uint32_t instance;
    uint8_t argc, envc;
    const uint8_t *str[PROTO_ARGS_MAX]; /* argv[0..argc-1], then environ[0..envc-1] */
    uint8_t len[PROTO_ARGS_MAX];
} proto_args_req_t;

typedef struct {
    uint32_t ram_high_water, heap_in_use, last_call_us;
    /* extended STATS (docs/protocol.md): 0 / PROTO_COUNTER_NONE when not measured */
    uint32_t stack_high_water;
    uint8_t counter_unit; /* PROTO_COUNTER_* */
    uint64_t counter, last_call_counter;
} proto_core_stats_t;

/* STATS request flags (u8, optional: an empty request gets the version-1 response). */
#define PROTO_STATS_EXTENDED 0x01u    /* append the extended fields */
#define PROTO_STATS_RESET_PEAKS 0x02u /* after reading, restart the heap and stack peaks */

#define PROTO_COUNTER_NONE 0u
#define PROTO_COUNTER_INSTRET 1u
#define PROTO_COUNTER_NS 2u

/*
 * Callbacks provided by the runtime core. ctx is the core's own state. A NULL entry makes the
 * dispatcher answer PROTO_ST_UNSUPPORTED. Handlers return a status; on an error they may write a
 * specific message into err ("does not fit: needs 70000 bytes, 65536 free"). Handlers never see
 * malformed payloads: the dispatcher has parsed and length-checked every field, and names are
 * valid (proto_name_valid) and NUL-terminated. The dispatcher runs one handler at a time.
 */
typedef struct {
    /* HELLO: fill in the static facts (max payload and version are added by the dispatcher). */
    void (*hello)(void *ctx, proto_hello_info_t *info);

    /* Upload. The dispatcher checks chunk order and the sha256 itself.
     * put_begin: PROTO_ST_PRESENT if kind+name+sha256 is already stored (nothing will follow),
     *   PROTO_ST_NO_SPACE / PROTO_ST_UNSUPPORTED to refuse, PROTO_ST_OK to reserve `size` bytes.
     * put_chunk: store len bytes at offset (offset + len <= size, consecutive).
     * put_end: commit=true -> make the item visible (replacing an older one of the same kind
     *   and name); commit=false -> discard the partial upload (hash mismatch, aborted). */
    proto_status_t (*put_begin)(void *ctx, const proto_item_t *item, proto_error_t *err);
    proto_status_t (*put_chunk)(void *ctx, uint32_t offset, const uint8_t *data, size_t len,
                                proto_error_t *err);
    proto_status_t (*put_end)(void *ctx, bool commit, proto_error_t *err);

    /* LIST: fill item number index (0-based); PROTO_ST_NOT_FOUND past the last one. */
    proto_status_t (*list_item)(void *ctx, uint16_t index, proto_item_t *out);

    proto_status_t (*instantiate)(void *ctx, const proto_module_ref_t *ref, uint32_t *instance,
                                  proto_error_t *err);
    proto_status_t (*drop)(void *ctx, uint32_t instance, proto_error_t *err);
    /* A trap is PROTO_ST_OK with res->outcome set; NOT_FOUND for an unknown instance/export. */
    proto_status_t (*call)(void *ctx, const proto_call_req_t *req, proto_call_result_t *res,
                           proto_error_t *err);

    /* Guest memory: the core bounds-checks addr+len against the instance's linear memory. */
    proto_status_t (*mem_write)(void *ctx, uint32_t instance, uint32_t addr, const uint8_t *data,
                                size_t len, proto_error_t *err);
    proto_status_t (*mem_read)(void *ctx, uint32_t instance, uint32_t addr, uint8_t *out,
                               size_t len, proto_error_t *err);

    /* LOGS: move up to cap bytes of captured output into out; *more = bytes remain. */
    proto_status_t (*logs)(void *ctx, uint32_t instance, uint8_t *out, size_t cap, size_t *len,
                           bool *more, proto_error_t *err);

    void (*stats)(void *ctx, proto_core_stats_t *out);

    /* Called after the RESET response has been written: drop instances (or reboot). */
    void (*reset)(void *ctx);

    /* STATS with PROTO_STATS_RESET_PEAKS, after the response body is built: restart the heap
     * and stack high-water marks from the current use. NULL: UNSUPPORTED for that flag. */
    void (*reset_peaks)(void *ctx);

    /* ARGS: store the strings for the instance (NOT_FOUND, BAD_STATE after its first call,
     * NO_SPACE). NULL: UNSUPPORTED. */
    proto_status_t (*args)(void *ctx, const proto_args_req_t *req, proto_error_t *err);
    /* FRAME_*: one frame in flight; the core checks sizes, offsets and order (docs/protocol.md).
     * frame_begin answers the byte count, frame_chunk the bytes received so far, frame_end the
     * image handle. NULL: UNSUPPORTED. */
    proto_status_t (*frame_begin)(void *ctx, uint32_t instance, uint16_t width, uint16_t height,
                                  uint8_t format, uint32_t *size, proto_error_t *err);
    proto_status_t (*frame_chunk)(void *ctx, uint32_t offset, const uint8_t *data, size_t len,
                                  uint32_t *received, proto_error_t *err);
    proto_status_t (*frame_end)(void *ctx, uint32_t *image, proto_error_t *err);
    /* Message types PROTO_MSG_EXT_FIRST..LAST (pipelines): the handler parses the payload from
     * r itself (every read bounds-checked; a read error is its BAD_REQUEST) and writes the OK
     * body into w. NULL, or PROTO_ST_UNKNOWN_TYPE returned: "unknown message type". */
    proto_status_t (*ext)(void *ctx, uint8_t type, proto_rd_t *r, proto_wr_t *w,
                          proto_error_t *err);
} proto_handlers_t;

/* Platform byte I/O and clock. */
typedef struct {
    void *ctx;
    /* One byte (0..255), PROTO_IO_TIMEOUT when none arrived in timeout_ms, PROTO_IO_CLOSED when
     * the link is gone for good. */
    int (*read_byte)(void *ctx, uint32_t timeout_ms);
    /* Write all len bytes; returns 0 on success, nonzero on failure. */
    int (*write)(void *ctx, const uint8_t *data, size_t len);
    /* Monotonic milliseconds (wrapping is fine). */
    uint32_t (*now_ms)(void *ctx);
} proto_io_t;

#define PROTO_IO_TIMEOUT (-1)
#define PROTO_IO_CLOSED (-2)

typedef struct {
    uint32_t frames_ok, bad_crc, bad_frame, timeouts, duplicates;
} proto_counters_t;

/* Dispatcher state: ~3.3 KB with the default PROTO_MAX_PAYLOAD, no heap. proto_frame_encode
 * also needs PROTO_MAX_FRAME bytes of stack while a response is encoded. */
typedef struct {
    proto_io_t io;
    const proto_handlers_t *h;
    void *core;
    proto_decoder_t dec;
    uint32_t last_byte_ms;
    uint32_t boot_ms;
    proto_counters_t counters;
    /* last executed request and its encoded response (exactly-once execution) */
    bool cache_valid;
    uint16_t cache_seq;
    uint32_t cache_crc;
    uint32_t cache_len;
    uint8_t cache[PROTO_MAX_ENCODED];
    /* upload in progress */
    bool put_active;
    proto_item_t put_item;
    uint32_t put_received;
    proto_sha256_t put_sha;
    uint8_t resp[PROTO_MAX_PAYLOAD];
} proto_device_t;

void proto_device_init(proto_device_t *dev, const proto_io_t *io, const proto_handlers_t *h,
                       void *core);

/* Feed received bytes (for transports that deliver buffers, and for fuzzing). Complete frames
 * are dispatched and their responses written through io.write. */
void proto_device_feed(proto_device_t *dev, const uint8_t *data, size_t len);

/* Wait up to timeout_ms for a byte and handle it; applies the inter-byte timeout.
 * Returns 1 when a byte was handled, 0 when none came, PROTO_IO_CLOSED when the link is
 * closed. */
int proto_device_poll(proto_device_t *dev, uint32_t timeout_ms);

/* Serve until the link closes. */
void proto_device_run(proto_device_t *dev);

#ifdef __cplusplus
}
#endif

#endif /* PROTO_H */
