// TFLM's platform log hooks (tensorflow/lite/micro/debug_log.h), replacing upstream's
// debug_log.cc off ESP-IDF: MicroPrintf lines become the wasi-nn error message of the failing
// call (rt_tflm_log, read by rt_nn_tflm.cc) instead of going to a console.
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "rt.h"
#include "tensorflow/lite/micro/debug_log.h"

extern "C" {

extern char rt_tflm_log[RT_MSG_MAX];

// TFLM's platform log hooks (debug_log.h): keep the first line instead of printing it.
void DebugLog(const char *format, va_list args) {
    char line[RT_MSG_MAX];
    vsnprintf(line, sizeof line, format, args);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    // TF_LITE_ENSURE names the source file by its build path: keep it from "tensorflow/".
    const char *from = strstr(line, "tensorflow/");
    const char *start = from != nullptr ? from : line;
    n = strlen(start);
    if (n > 0 && rt_tflm_log[0] == '\0') memcpy(rt_tflm_log, start, n + 1);
}

int DebugVsnprintf(char *buffer, size_t buf_size, const char *format, va_list vlist) {
    return vsnprintf(buffer, buf_size, format, vlist);
}

} // extern "C"
