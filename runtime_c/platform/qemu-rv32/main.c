/* qemu-rv32 entry point: bring up the board, then serve the device protocol on the UART. */
#include "qrv.h"
#include "rt.h"
#include "rt_platform.h"

int main(void) {
    qrv_init();
    if (rt_init() != RT_OK) {
        rt_os_log("qemu-rv32: runtime initialisation failed");
        qrv_exit(2);
    }
    rt_logf("ready: target %s, engine %s, nn %s, %lu modules, %lu models", RT_TARGET_NAME,
            RT_ENGINE_NAME, RT_NN_NAME, (unsigned long)rt_module_count(),
            (unsigned long)rt_model_count());
    rt_serve(); /* a UART never closes: returns only if the core gives up */
    rt_shutdown();
    qrv_exit(0);
}
