/* The EVP module SDK as seen from a wasm module: import module "env", written from the
 * documented signatures of the public EVP agent's module API (docs/abi.md section 6).
 *
 * A module written against the EVP SDK builds unchanged against this header:
 * `#include "evp/sdk.h"`, link as a WASI command module and export malloc/free
 * (-Wl,--export=malloc -Wl,--export=free). Callbacks run inside EVP_processEvent on the
 * module's own thread; pointers handed to them are valid only until they return.
 */
#ifndef EVP_SDK_H
#define EVP_SDK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__wasm__)
#define EVP_IMPORT(name) __attribute__((import_module("env"), import_name(name)))
#else
#define EVP_IMPORT(name)
#endif

struct EVP_client; /* opaque; EVP_initialize returns the handle of this instance */

typedef uint64_t EVP_RPC_ID;

typedef enum {
    EVP_OK = 0,         /* at least one event was processed / request accepted */
    EVP_SHOULDEXIT = 1, /* the instance is asked to stop: clean up and return from main */
    EVP_TIMEDOUT = 2,   /* no event within the timeout */
    EVP_ERROR = 3,
    EVP_INVAL = 4,
    EVP_NOMEM = 5,
    EVP_TOOBIG = 6,
    EVP_AGAIN = 7,
    EVP_AGENT_PROTOCOL_ERROR = 8,
    EVP_EXIST = 9,
    EVP_FAULT = 10,
    EVP_DENIED = 11, /* e.g. every subscriber's queue stayed full: the message was not queued */
    EVP_NOTSUP = 12,
    _EVP_RESULT_dummy = 0x3fffffff
} EVP_RESULT;

typedef enum {
    EVP_MESSAGE_SENT_CALLBACK_REASON_SENT = 0,
    EVP_MESSAGE_SENT_CALLBACK_REASON_ERROR =
        1, /* e.g. the alias is not in this instance's publish */
    EVP_MESSAGE_SENT_CALLBACK_REASON_EXIT = 2,
    _EVP_MESSAGE_SENT_CALLBACK_REASON_dummy = 0x3fffffff
} EVP_MESSAGE_SENT_CALLBACK_REASON;

typedef enum {
    EVP_STATE_CALLBACK_REASON_SENT = 0,
    EVP_STATE_CALLBACK_REASON_OVERWRITTEN = 1,
    EVP_STATE_CALLBACK_REASON_EXIT = 2,
    EVP_STATE_CALLBACK_REASON_DENIED = 3,
    _EVP_STATE_CALLBACK_REASON_dummy = 0x3fffffff
} EVP_STATE_CALLBACK_REASON;

typedef enum {
    EVP_TELEMETRY_CALLBACK_REASON_SENT = 0,
    EVP_TELEMETRY_CALLBACK_REASON_ERROR = 1, /* e.g. a value is not valid JSON */
    EVP_TELEMETRY_CALLBACK_REASON_EXIT = 2,
    EVP_TELEMETRY_CALLBACK_REASON_DENIED = 3,
    _EVP_TELEMETRY_CALLBACK_REASON_dummy = 0x3fffffff
} EVP_TELEMETRY_CALLBACK_REASON;

typedef enum {
    EVP_RPC_RESPONSE_CALLBACK_REASON_SENT = 0,
    EVP_RPC_RESPONSE_CALLBACK_REASON_ERROR = 1,
    EVP_RPC_RESPONSE_CALLBACK_REASON_EXIT = 2,
    EVP_RPC_RESPONSE_CALLBACK_REASON_DENIED = 3,
    _EVP_RPC_RESPONSE_CALLBACK_REASON_dummy = 0x3fffffff
} EVP_RPC_RESPONSE_CALLBACK_REASON;

typedef enum {
    EVP_RPC_RESPONSE_STATUS_OK = 0,
    EVP_RPC_RESPONSE_STATUS_METHOD_NOT_FOUND = 1,
    EVP_RPC_RESPONSE_STATUS_ERROR = 2,
    _EVP_RPC_RESPONSE_STATUS_dummy = 0x3fffffff
} EVP_RPC_RESPONSE_STATUS;

typedef enum {
    EVP_WORKSPACE_TYPE_DEFAULT = 0,
    _EVP_WORKSPACE_TYPE_dummy = 0x3fffffff
} EVP_WORKSPACE_TYPE;

/* A telemetry entry: key (UTF-8) and value (the text of a JSON value). */
struct EVP_telemetry_entry {
    const char *key;
    const char *value;
};

typedef void (*EVP_CONFIGURATION_CALLBACK)(const char *topic, const void *config, size_t configlen,
                                           void *userData);
typedef void (*EVP_MESSAGE_RECEIVED_CALLBACK)(const char *topic, const void *msgPayload,
                                              size_t msgPayloadLen, void *userData);
typedef void (*EVP_MESSAGE_SENT_CALLBACK)(EVP_MESSAGE_SENT_CALLBACK_REASON reason, void *userData);
typedef void (*EVP_STATE_CALLBACK)(EVP_STATE_CALLBACK_REASON reason, void *userData);
typedef void (*EVP_TELEMETRY_CALLBACK)(EVP_TELEMETRY_CALLBACK_REASON reason, void *userData);
typedef void (*EVP_RPC_REQUEST_CALLBACK)(EVP_RPC_ID id, const char *methodName, const char *params,
                                         void *userData);
typedef void (*EVP_RPC_RESPONSE_CALLBACK)(EVP_RPC_RESPONSE_CALLBACK_REASON reason, void *userData);

EVP_IMPORT("EVP_initialize") struct EVP_client *EVP_initialize(void);

EVP_IMPORT("EVP_getWorkspaceDirectory")
const char *EVP_getWorkspaceDirectory(struct EVP_client *h, EVP_WORKSPACE_TYPE type);

EVP_IMPORT("EVP_setConfigurationCallback")
EVP_RESULT EVP_setConfigurationCallback(struct EVP_client *h, EVP_CONFIGURATION_CALLBACK cb,
                                        void *userData);

EVP_IMPORT("EVP_setMessageCallback")
EVP_RESULT EVP_setMessageCallback(struct EVP_client *h, EVP_MESSAGE_RECEIVED_CALLBACK incoming_cb,
                                  void *userData);

EVP_IMPORT("EVP_setRpcCallback")
EVP_RESULT EVP_setRpcCallback(struct EVP_client *h, EVP_RPC_REQUEST_CALLBACK cb, void *userData);

EVP_IMPORT("EVP_processEvent") EVP_RESULT EVP_processEvent(struct EVP_client *h, int timeout_ms);

EVP_IMPORT("EVP_sendMessage")
EVP_RESULT EVP_sendMessage(struct EVP_client *h, const char *topic, const void *state,
                           size_t statelen, EVP_MESSAGE_SENT_CALLBACK cb, void *userData);

EVP_IMPORT("EVP_sendState")
EVP_RESULT EVP_sendState(struct EVP_client *h, const char *topic, const void *state,
                         size_t statelen, EVP_STATE_CALLBACK cb, void *userData);

EVP_IMPORT("EVP_sendTelemetry")
EVP_RESULT EVP_sendTelemetry(struct EVP_client *h, const struct EVP_telemetry_entry *entries,
                             size_t nentries, EVP_TELEMETRY_CALLBACK cb, void *userData);

EVP_IMPORT("EVP_sendRpcResponse")
EVP_RESULT EVP_sendRpcResponse(struct EVP_client *h, EVP_RPC_ID id, const char *response,
                               EVP_RPC_RESPONSE_STATUS status, EVP_RPC_RESPONSE_CALLBACK cb,
                               void *userData);

#ifdef __cplusplus
}
#endif

#endif
