/* POSIX entry point: serve the device protocol on stdin/stdout until stdin closes. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rt.h"
#include "rt_platform.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("rt-c %s (%s, %s, %s)\n", RT_VERSION, RT_TARGET_NAME, RT_ENGINE_NAME, RT_NN_NAME);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN); /* a vanished host is a closed link, not a crash */
    if (rt_init() != RT_OK) {
        rt_os_log("engine initialisation failed");
        return 1;
    }
    rt_logf("ready: target %s, engine %s, nn %s, %lu modules, %lu models", RT_TARGET_NAME,
            RT_ENGINE_NAME, RT_NN_NAME, (unsigned long)rt_module_count(),
            (unsigned long)rt_model_count());
    rt_serve();
    rt_shutdown();
    rt_logf("link closed; heap in use %lu, high-water %lu bytes", (unsigned long)rt_mem_in_use(),
            (unsigned long)rt_mem_high_water());
    return 0;
}
