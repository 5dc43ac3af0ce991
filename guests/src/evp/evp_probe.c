/* EVP module: exercises the SDK's edge cases (docs/abi.md section 6) and reports what each call
 * returned as the state "results" ("name=value;..."), for the tests to compare with the ABI.
 * It subscribes to and publishes on the alias "loop" (a self-loop in the test's deployment). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "evp/sdk.h"

/* Not in evp/sdk.h (blob types are not part of this SDK); the import exists for modules that
 * use it and answers EVP_NOTSUP. */
EVP_IMPORT("EVP_blobOperation")
EVP_RESULT EVP_blobOperation(struct EVP_client *h, int type, int op, const void *request,
                             void *local_store, void *cb, void *userData);

static char g_results[1024];
static size_t g_used;
static int g_telemetry_reason[2] = {-1, -1};
static int g_rpc_reason = -1;
static int g_empty_len = -1;
static int g_empty_ptr_ok;
static int g_configs;

static void put(const char *name, long value) {
    g_used +=
        (size_t)snprintf(g_results + g_used, sizeof g_results - g_used, "%s=%ld;", name, value);
}

static void config_cb(const char *topic, const void *config, size_t len, void *user) {
    (void)topic, (void)config, (void)len, (void)user;
    g_configs++;
}

static void telemetry_cb(EVP_TELEMETRY_CALLBACK_REASON reason, void *user) {
    g_telemetry_reason[(intptr_t)user] = (int)reason;
}

static void rpc_cb(EVP_RPC_RESPONSE_CALLBACK_REASON reason, void *user) {
    (void)user;
    g_rpc_reason = (int)reason;
}

static void message_cb(const char *topic, const void *payload, size_t len, void *user) {
    (void)topic, (void)user;
    g_empty_len = (int)len;
    g_empty_ptr_ok = payload != NULL;
}

int main(void) {
    struct EVP_client *h = EVP_initialize();
    struct EVP_client *bad = (struct EVP_client *)((uintptr_t)h + 1);
    put("handle", (long)(uintptr_t)h);
    put("config_first", EVP_setConfigurationCallback(h, config_cb, NULL));
    put("config_again", EVP_setConfigurationCallback(h, config_cb, NULL));
    put("message_bad_handle", EVP_setMessageCallback(bad, message_cb, NULL));
    put("message_first", EVP_setMessageCallback(h, message_cb, NULL));
    put("rpc_null", EVP_setRpcCallback(h, NULL, NULL));
    const char *ws = EVP_getWorkspaceDirectory(h, EVP_WORKSPACE_TYPE_DEFAULT);
    put("workspace_len", (long)strlen(ws));
    put("workspace_same", EVP_getWorkspaceDirectory(h, EVP_WORKSPACE_TYPE_DEFAULT) == ws);
    put("workspace_bad_type", (long)(uintptr_t)EVP_getWorkspaceDirectory(h, 1));
    put("process_nothing", EVP_processEvent(h, 0)); /* delivers the one configuration topic */
    put("configs", g_configs);
    put("process_idle", EVP_processEvent(h, 0));
    put("send_fault",
        EVP_sendMessage(h, "loop", (const void *)(uintptr_t)0xFFFFFF00u, 512, NULL, NULL));
    put("send_empty", EVP_sendMessage(h, "loop", "", 0, NULL, NULL));
    put("process_message", EVP_processEvent(h, 1000));
    put("empty_len", g_empty_len);
    put("empty_ptr_ok", g_empty_ptr_ok);
    struct EVP_telemetry_entry good = {"ok", "{\"a\": [1, 2]}"};
    struct EVP_telemetry_entry broken = {"bad", "{not json"};
    put("telemetry_good", EVP_sendTelemetry(h, &good, 1, telemetry_cb, (void *)0));
    put("telemetry_bad", EVP_sendTelemetry(h, &broken, 1, telemetry_cb, (void *)1));
    put("telemetry_too_many", EVP_sendTelemetry(h, &good, 1001, telemetry_cb, (void *)0));
    put("rpc_response_null",
        EVP_sendRpcResponse(h, 7, NULL, EVP_RPC_RESPONSE_STATUS_OK, rpc_cb, NULL));
    put("rpc_response", EVP_sendRpcResponse(h, 7, "{}", EVP_RPC_RESPONSE_STATUS_OK, rpc_cb, NULL));
    put("blob", EVP_blobOperation(h, 0, 0, NULL, NULL, NULL, NULL));
    while (EVP_processEvent(h, 0) == EVP_OK) {
    }
    put("telemetry_good_reason", g_telemetry_reason[0]);
    put("telemetry_bad_reason", g_telemetry_reason[1]);
    put("rpc_reason", g_rpc_reason);
    EVP_sendState(h, "results", g_results, g_used, NULL, NULL);
    while (EVP_processEvent(h, 1000) != EVP_SHOULDEXIT) {
    }
    printf("results %s\n", g_results); /* stdout: the deployment's output of this instance */
    return 0;
}
