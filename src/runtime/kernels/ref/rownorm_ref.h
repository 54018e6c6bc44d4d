// Scalar reference code for Softmax / LogSoftmax / Hardmax (softmax.cpp) and
// LayerNormalization (layernorm.cpp): the ground truth their fast f32 paths are tested against,
// and the path other dtypes take. Computed in double, rounded once to T.
#pragma once

#include <cstdint>

namespace bitsmith::kernels::elt {

// x and y viewed as [outer, n, inner]; the op runs along n for each (outer, inner) pair.
// log = false: softmax, y = exp(x - max) / sum(exp(x - max));
// log = true: log-softmax, y = x - max - log(sum(exp(x - max))).
template <class T>
void softmax_ref(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log);

// Hardmax: 1 at the first maximum along n, 0 elsewhere.
template <class T>
void hardmax_ref(const T* x, T* y, int64_t outer, int64_t n, int64_t inner);

// Layer normalization of x [rows, cols] along cols:
//   mean = sum(x) / cols, var = sum((x - mean)^2) / cols, inv_std = 1 / sqrt(var + epsilon),
//   y = (x - mean) * inv_std * scale + bias.
// scale and bias have cols entries (bias may be null); mean and inv_std (rows entries each) may
// be null.
template <class T>
void layernorm_ref(const T* x, const T* scale, const T* bias, T* y, double* mean, double* inv_std, int64_t rows,
                   int64_t cols, double epsilon);

}  // namespace bitsmith::kernels::elt
