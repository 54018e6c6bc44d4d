#include "bitsmith/core/dtype.h"

#include <array>

namespace bitsmith {
namespace {

// The one table of dtype facts. Order must match enum DType (checked below).
constexpr std::array<DTypeTraits, static_cast<size_t>(DType::kCount)> kTraits = {{
    //  dtype              name          onnx bits float  int    signed
    {DType::kUndefined,   "undefined",    0,  0, false, false, false},
    {DType::kF32,         "f32",          1, 32, true,  false, true},
    {DType::kF16,         "f16",         10, 16, true,  false, true},
    {DType::kBF16,        "bf16",        16, 16, true,  false, true},
    {DType::kF64,         "f64",         11, 64, true,  false, true},
    {DType::kI64,         "i64",          7, 64, false, true,  true},
    {DType::kI32,         "i32",          6, 32, false, true,  true},
    {DType::kI16,         "i16",          5, 16, false, true,  true},
    {DType::kI8,          "i8",           3,  8, false, true,  true},
    {DType::kU64,         "u64",         13, 64, false, true,  false},
    {DType::kU32,         "u32",         12, 32, false, true,  false},
    {DType::kU16,         "u16",          4, 16, false, true,  false},
    {DType::kU8,          "u8",           2,  8, false, true,  false},
    {DType::kI4,          "i4",          22,  4, false, true,  true},
    {DType::kU4,          "u4",          21,  4, false, true,  false},
    {DType::kBool,        "bool",         9,  8, false, false, false},
    {DType::kString,      "string",       8,  0, false, false, false},
    {DType::kC64,         "c64",         14, 64, false, false, true},
    {DType::kC128,        "c128",        15, 128, false, false, true},
    {DType::kF8E4M3FN,    "f8e4m3fn",    17,  8, true,  false, true},
    {DType::kF8E4M3FNUZ,  "f8e4m3fnuz",  18,  8, true,  false, true},
    {DType::kF8E5M2,      "f8e5m2",      19,  8, true,  false, true},
    {DType::kF8E5M2FNUZ,  "f8e5m2fnuz",  20,  8, true,  false, true},
}};

constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kTraits.size(); ++i)
    if (static_cast<size_t>(kTraits[i].dtype) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kTraits rows must follow enum DType order");

}  // namespace

const DTypeTraits& traits(DType t) {
  auto i = static_cast<size_t>(t);
  return kTraits[i < kTraits.size() ? i : 0];
}

size_t storage_nbytes(DType t, int64_t numel) {
  const int bits = traits(t).bits;
  if (numel <= 0 || bits == 0) return 0;
  return static_cast<size_t>((numel * bits + 7) / 8);
}

std::optional<DType> dtype_from_onnx(int onnx_code) {
  if (onnx_code == 0) return std::nullopt;
  for (const auto& row : kTraits)
    if (row.onnx_code == onnx_code) return row.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& row : kTraits)
    if (row.dtype != DType::kUndefined && row.name == name) return row.dtype;
  return std::nullopt;
}

}  // namespace bitsmith
