/* Shared by the NN backends that describe models through the built-in reader (rt_nn_nnb.h). */
#include "rt_nn_nnb.h"

#include <string.h>

uint32_t rt_nn_nnb_status(nnb_status_t s) {
    switch (s) {
    case NNB_OK:
        return RT_NN_SUCCESS;
    case NNB_INVALID_ENCODING:
        return RT_NN_INVALID_ENCODING;
    case NNB_UNSUPPORTED:
        return RT_NN_UNSUPPORTED_OPERATION;
    case NNB_TOO_LARGE:
        return RT_NN_TOO_LARGE;
    case NNB_INVALID_ARGUMENT:
        return RT_NN_INVALID_ARGUMENT;
    case NNB_RUNTIME:
    default:
        return RT_NN_RUNTIME_ERROR;
    }
}

uint32_t rt_nn_nnb_io_info(const nnb_model_t *model, int output, uint32_t index,
                           rt_nn_tensor_info_t *info) {
    nnb_tensor_info_t t;
    nnb_status_t s = output ? nnb_output_info(model, index, &t) : nnb_input_info(model, index, &t);
    if (s != NNB_OK) return rt_nn_nnb_status(s);
    memset(info, 0, sizeof *info);
    info->type = (uint8_t)t.type;
    info->rank = t.rank > RT_NN_MAX_DIMS ? RT_NN_MAX_DIMS : t.rank;
    uint32_t count = 1;
    for (uint32_t i = 0; i < info->rank; i++) {
        info->dims[i] = (uint32_t)t.dims[i];
        count *= (uint32_t)t.dims[i];
    }
    info->scale = t.scale;
    info->zero_point = t.zero_point;
    info->count = count;
    info->bytes = (uint32_t)t.bytes;
    return RT_NN_SUCCESS;
}
