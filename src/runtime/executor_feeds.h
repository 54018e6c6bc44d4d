// Checks of the tensors a caller feeds to Executor::run() (internal to the executor).
#pragma once

#include <string>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith::executor_detail {

// "f32 [1, N, 28, ?]": a value's declared type; symbolic dims print their name, unknown ones "?",
// an unknown rank prints "f32 [*]".
std::string describe_type(const TypeInfo& type);
// "f32 [1, 3]": a tensor's actual dtype and shape.
std::string describe_tensor(const Tensor& tensor);

// kDataError unless `tensor` matches the declaration `decl` of a graph input: same dtype, same
// rank, equal static dims (dim 0 free when `dynamic_batch`). The message is one line naming the
// input, the expected type and the given one.
Status check_feed(const ValueInfo& decl, const Tensor& tensor, bool dynamic_batch);

// kDataError naming the input and the index of its first NaN/Inf element, for floating-point
// tensors (f32, f64, f16, bf16); OK for every other dtype.
Status check_finite(const std::string& input_name, const Tensor& tensor);

}  // namespace bitsmith::executor_detail
