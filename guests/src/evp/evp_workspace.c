/* EVP module: uses its workspace directory (EVP_getWorkspaceDirectory, pre-opened for WASI on
 * the Pi host) as a module would: writes a file there, appends to it, reads it back, and checks
 * that a path leaving the workspace is refused. State "workspace": "path=P read=TEXT
 * escape=E" (E: 1 when opening ../outside.txt failed, as it must). Then waits to be stopped,
 * leaving the file for the host to look at. */
#include <stdio.h>
#include <string.h>

#include "evp/sdk.h"

static char g_state[512];

int main(void) {
    struct EVP_client *h = EVP_initialize();
    const char *ws = EVP_getWorkspaceDirectory(h, EVP_WORKSPACE_TYPE_DEFAULT);
    char path[256], outside[256], text[128] = "";
    snprintf(path, sizeof path, "%s/note.txt", ws);
    snprintf(outside, sizeof outside, "%s/../outside.txt", ws);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs("written by evp_workspace\n", f);
        fclose(f);
    }
    f = fopen(path, "a");
    if (f != NULL) {
        fputs("appended\n", f);
        fclose(f);
    }
    f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
    }
    FILE *out = fopen(outside, "w");
    int escaped = out != NULL;
    if (out != NULL) fclose(out);
    snprintf(g_state, sizeof g_state, "path=%s read=%s escape=%d", path, text, escaped ? 0 : 1);
    EVP_sendState(h, "workspace", g_state, strlen(g_state), NULL, NULL);
    while (EVP_processEvent(h, 1000) != EVP_SHOULDEXIT) {
    }
    return 0;
}
