// Scalar reference BatchNormalization. x is [N, C, spatial...] seen as [N, C, S].
#pragma once

#include <cstdint>

namespace bitsmith::kernels::ref {

// Inference: y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c]. Computed in double.
template <class T>
void batch_norm(int64_t n, int64_t c, int64_t s, const T* x, const T* scale, const T* bias, const T* mean,
                const T* var, double epsilon, T* y);

// Training mode (ONNX opset >= 14, training_mode = 1): normalizes with the batch statistics
// (mean and population variance over N and S) and returns, per channel,
//   running_mean = mean * momentum + batch_mean * (1 - momentum), and the same for var.
// batch_mean / batch_var receive the batch statistics. Any of the four outputs may be null.
template <class T>
void batch_norm_training(int64_t n, int64_t c, int64_t s, const T* x, const T* scale, const T* bias,
                         const T* mean, const T* var, double epsilon, double momentum, T* y,
                         T* running_mean, T* running_var, T* batch_mean = nullptr, T* batch_var = nullptr);

}  // namespace bitsmith::kernels::ref
