// Dtype dispatch for kernels: call a generic lambda with a value of the C++ element type.
//
//   Status s = dispatch_numeric(t.dtype(), [&](auto tag) -> Status {
//     using T = decltype(tag);
//     ...
//   });
// Returns `unsupported(...)` for dtypes outside the visited set. f16/bf16 are not visited here:
// kernels compute them in f32 (convert in, compute, convert out).
#pragma once

#include <cstdint>
#include <string>

#include "bitsmith/core/dtype.h"
#include "bitsmith/core/status.h"

namespace bitsmith::kernels {

template <class Fn>
Status dispatch_numeric(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32: return fn(float{});
    case DType::kF64: return fn(double{});
    case DType::kI64: return fn(int64_t{});
    case DType::kI32: return fn(int32_t{});
    case DType::kI16: return fn(int16_t{});
    case DType::kI8: return fn(int8_t{});
    case DType::kU64: return fn(uint64_t{});
    case DType::kU32: return fn(uint32_t{});
    case DType::kU16: return fn(uint16_t{});
    case DType::kU8: return fn(uint8_t{});
    default: return unsupported("dtype " + std::string(dtype_name(t)) + " is not supported here");
  }
}

// Numeric plus bool (stored as one byte, 0 or 1).
template <class Fn>
Status dispatch_numeric_or_bool(DType t, Fn&& fn) {
  if (t == DType::kBool) return fn(bool{});
  return dispatch_numeric(t, std::forward<Fn>(fn));
}

template <class Fn>
Status dispatch_float(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32: return fn(float{});
    case DType::kF64: return fn(double{});
    default: return unsupported("dtype " + std::string(dtype_name(t)) + " is not supported here (float expected)");
  }
}

}  // namespace bitsmith::kernels
