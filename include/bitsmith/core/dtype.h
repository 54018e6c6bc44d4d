// DType: storage element types, described by ONE traits table (src/core/dtype.cpp).
//
// DType is storage only. How values were quantized (scale, zero point, granularity) lives in
// QuantParams, never in the dtype. Sub-byte types (i4, u4) pack two elements per byte, the
// element with the lower index in the low nibble (ONNX's packing). `kString` tensors are kept
// opaque (a vector of byte strings), never computed on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bitsmith {

enum class DType : uint8_t {
  kUndefined = 0,
  kF32, kF16, kBF16, kF64,
  kI64, kI32, kI16, kI8,
  kU64, kU32, kU16, kU8,
  kI4, kU4,
  kBool,
  kString,
  kC64, kC128,
  kF8E4M3FN, kF8E4M3FNUZ, kF8E5M2, kF8E5M2FNUZ,
  kCount,  // not a dtype: number of entries
};

struct DTypeTraits {
  DType dtype;
  std::string_view name;   // short name used in the CLI, printer and JSON: "f32", "i4", ...
  int onnx_code;           // TensorProto.DataType value; 0 for none
  int bits;                // storage bits per element (4 for i4/u4); 0 for string
  bool is_float;           // any floating-point type (f8..f64, not complex)
  bool is_integer;         // i*, u* (not bool)
  bool is_signed;          // two's complement integers and all floats
};

// The traits row for `t`. Every DType has exactly one row.
const DTypeTraits& traits(DType t);

inline std::string_view dtype_name(DType t) { return traits(t).name; }
inline int dtype_bits(DType t) { return traits(t).bits; }
inline bool is_float(DType t) { return traits(t).is_float; }
inline bool is_integer(DType t) { return traits(t).is_integer; }
inline bool is_sub_byte(DType t) { return traits(t).bits > 0 && traits(t).bits < 8; }

// Bytes needed to store `numel` elements of `t` (rounded up for sub-byte types); 0 for string.
size_t storage_nbytes(DType t, int64_t numel);

// Lookups; std::nullopt when unknown.
std::optional<DType> dtype_from_onnx(int onnx_code);
std::optional<DType> dtype_from_name(std::string_view name);
inline int dtype_to_onnx(DType t) { return traits(t).onnx_code; }

// C++ type -> DType, for typed accessors.
template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kF64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::kI16; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kI8; };
template <> struct DTypeOf<uint64_t> { static constexpr DType value = DType::kU64; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::kU32; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::kU16; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

}  // namespace bitsmith
