// compute_weight_params / quantize_tensor with the kernel path chosen explicitly, so tests can
// compare the AVX2 kernels with their scalar twins (quant/quant_kernels.h). The public functions
// call these with scalar = false.
#pragma once

#include "bitsmith/quant/weight_quant.h"

namespace bitsmith::quant {

Expected<QuantParams> compute_weight_params_impl(const Tensor& w, const WeightQuantSpec& spec, int num_threads,
                                                 bool scalar);
Expected<Tensor> quantize_tensor_impl(const Tensor& w, const QuantParams& params, int num_threads, bool scalar);

}  // namespace bitsmith::quant
