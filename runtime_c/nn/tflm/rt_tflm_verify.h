/* rt_tflm_verify.h: checks of a model nnb_model_parse accepted, for what TFLM reads beyond it
 * (alignment, options fields, metadata, subgraph count). See rt_tflm_verify.c. */
#ifndef RT_TFLM_VERIFY_H
#define RT_TFLM_VERIFY_H

#include "nnb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* m: parsed by nnb_model_parse with NNB_OK, its buffer 16-byte aligned. NNB_INVALID_ENCODING
 * or NNB_UNSUPPORTED with the reason in err. */
nnb_status_t rt_tflm_verify(const nnb_model_t *m, nnb_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
