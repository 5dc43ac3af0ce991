/* The pipeline executor's protocol side (rt_pipe.c): PIPE_* requests, docs/protocol.md 4.1. */
#ifndef RT_PIPE_H
#define RT_PIPE_H

#include "proto.h"

/* One PIPE_* request: parses r, writes the OK body into w. */
proto_status_t rt_pipe_request(uint8_t type, proto_rd_t *r, proto_wr_t *w, proto_error_t *err);

/* The core's handler table (rt_device.c), for dispatchers other than rt_serve's: the request
 * fuzzer (core/fuzz/fuzz_requests.c) feeds frames through it. */
const proto_handlers_t *rt_device_handlers(void);

#endif /* RT_PIPE_H */
