/* rt_nn_nnb.h: what every NN backend that describes models through the built-in reader shares
 * (nn/builtin_glue.c, nn/tflm/): nnb status -> wasi-nn error code, and tensor descriptions. */
#ifndef RT_NN_NNB_H
#define RT_NN_NNB_H

#include <stdint.h>

#include "nnb.h"
#include "rt_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

uint32_t rt_nn_nnb_status(nnb_status_t s);
/* Input (output = 0) or output `index` of a parsed model, as the backend seam describes it. */
uint32_t rt_nn_nnb_io_info(const nnb_model_t *model, int output, uint32_t index,
                           rt_nn_tensor_info_t *info);

#ifdef __cplusplus
}
#endif

#endif /* RT_NN_NNB_H */
