#include "tensor_compare.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "bitsmith/core/half.h"

namespace bitsmith::conformance {
namespace {

bool is_float_compared(DType t) {
  return t == DType::kF32 || t == DType::kF64 || t == DType::kF16 || t == DType::kBF16;
}

double float_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF32: return t.data<float>()[i];
    case DType::kF64: return t.data<double>()[i];
    case DType::kF16: return f16_to_f32(reinterpret_cast<const uint16_t*>(t.bytes())[i]);
    case DType::kBF16: return bf16_to_f32(reinterpret_cast<const uint16_t*>(t.bytes())[i]);
    default: return 0;
  }
}

// Element i of a sub-byte tensor (low nibble first), sign-extended for i4.
int nibble_at(const Tensor& t, int64_t i) {
  const auto byte = static_cast<uint8_t>(t.bytes()[i / 2]);
  int v = (i % 2) ? (byte >> 4) : (byte & 0xF);
  if (t.dtype() == DType::kI4 && v >= 8) v -= 16;
  return v;
}

bool element_equal(const Tensor& a, const Tensor& b, int64_t i) {
  if (a.dtype() == DType::kString) return a.string_data()[i] == b.string_data()[i];
  if (is_sub_byte(a.dtype())) return nibble_at(a, i) == nibble_at(b, i);
  const size_t size = static_cast<size_t>(dtype_bits(a.dtype()) / 8);
  return std::memcmp(a.bytes() + i * size, b.bytes() + i * size, size) == 0;
}

std::string element_str(const Tensor& t, int64_t i) {
  std::ostringstream os;
  os.precision(9);
  switch (t.dtype()) {
    case DType::kString: os << '"' << t.string_data()[i] << '"'; break;
    case DType::kI64: os << t.data<int64_t>()[i]; break;
    case DType::kI32: os << t.data<int32_t>()[i]; break;
    case DType::kI16: os << t.data<int16_t>()[i]; break;
    case DType::kI8: os << static_cast<int>(t.data<int8_t>()[i]); break;
    case DType::kU64: os << t.data<uint64_t>()[i]; break;
    case DType::kU32: os << t.data<uint32_t>()[i]; break;
    case DType::kU16: os << t.data<uint16_t>()[i]; break;
    case DType::kU8: os << static_cast<int>(t.data<uint8_t>()[i]); break;
    case DType::kBool: os << (t.data<uint8_t>()[i] ? "true" : "false"); break;
    case DType::kI4:
    case DType::kU4: os << nibble_at(t, i); break;
    default:
      if (is_float_compared(t.dtype())) {
        os << float_at(t, i);
      } else {
        const size_t size = static_cast<size_t>(dtype_bits(t.dtype()) / 8);
        os << "0x" << std::hex;
        for (size_t b = size; b-- > 0;) os << static_cast<int>(static_cast<uint8_t>(t.bytes()[i * size + b]));
      }
  }
  return os.str();
}

bool float_close(double got, double want, const Tolerance& tol) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  if (std::isinf(got) || std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol.atol + tol.rtol * std::fabs(want);
}

}  // namespace

CompareResult compare_tensors(const Tensor& got, const Tensor& want, const Tolerance& tol) {
  CompareResult r;
  const std::string got_desc = std::string(dtype_name(got.dtype())) + " " + shape_str(got.shape());
  const std::string want_desc = std::string(dtype_name(want.dtype())) + " " + shape_str(want.shape());
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    r.equal = false;
    r.summary = "got " + got_desc + ", expected " + want_desc;
    return r;
  }
  const int64_t n = want.numel();
  if (got.dtype() == DType::kString &&
      (got.string_data().size() != static_cast<size_t>(n) || want.string_data().size() != static_cast<size_t>(n))) {
    r.equal = false;
    r.summary = "string tensor holds the wrong number of strings";
    return r;
  }
  const bool is_fp = is_float_compared(want.dtype());
  int64_t bad = 0;
  int64_t first = -1;
  for (int64_t i = 0; i < n; ++i) {
    const bool ok = is_fp ? float_close(float_at(got, i), float_at(want, i), tol) : element_equal(got, want, i);
    if (ok) continue;
    if (first < 0) first = i;
    ++bad;
  }
  if (bad == 0) return r;
  r.equal = false;
  r.summary = std::to_string(bad) + " of " + std::to_string(n) + " values differ (" + want_desc + ")";
  r.first_detail = "first at flat index " + std::to_string(first) + ": got " + element_str(got, first) +
                   ", expected " + element_str(want, first) + " (shapes: got " + shape_str(got.shape()) +
                   ", expected " + shape_str(want.shape()) + ")";
  return r;
}

}  // namespace bitsmith::conformance
