// Tensor: name, dtype, concrete shape, contiguous row-major storage, optional QuantParams.
//
// A Tensor is a handle: copies share storage (like a shared_ptr). Use clone() for a deep copy.
// Storage is either owned (64-byte aligned) or a view into a memory-mapped file; view data is
// always aligned to the element size (readers copy unaligned payloads), so typed access is safe.
// Sub-byte dtypes (i4/u4) are packed two per byte, low nibble first. String tensors keep their
// elements in strings() and have no byte storage.
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bitsmith/core/dtype.h"
#include "bitsmith/core/quant_params.h"
#include "bitsmith/core/shape.h"
#include "bitsmith/core/storage.h"

namespace bitsmith {

class Tensor {
 public:
  Tensor() = default;

  // Allocates zeroed owned storage for `shape` (all dims >= 0). Programmer error if numel overflows.
  Tensor(DType dtype, Shape shape, std::string name = {});

  // Like the constructor, but the elements are left unspecified (possibly a reused buffer's old
  // data): for kernels that write every element of their output. Not for strings.
  static Tensor uninitialized(DType dtype, Shape shape);

  // A view of `nbytes` at `data` inside `owner` (data must lie within owner's range and be
  // aligned to the element size). nbytes must equal storage_nbytes(dtype, numel(shape)).
  static Tensor view(DType dtype, Shape shape, std::shared_ptr<Storage> owner, std::byte* data,
                     std::string name = {});

  // A string tensor holding `values` (numel(shape) entries).
  static Tensor strings(Shape shape, std::vector<std::string> values, std::string name = {});

  // A 0-d or 1-d tensor from values, for tests and constants.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape, std::string name = {});
  template <class T>
  static Tensor scalar(T value, std::string name = {}) { return from_vector<T>({value}, {}, std::move(name)); }

  bool defined() const { return dtype_ != DType::kUndefined; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return shape_numel(shape_); }
  // Bytes of element storage (0 for strings).
  size_t nbytes() const { return nbytes_; }

  const std::byte* bytes() const { return data_; }
  std::byte* mutable_bytes() { return data_; }
  std::span<const std::byte> byte_span() const { return {data_, nbytes_}; }

  template <class T>
  const T* data() const {
    assert(DTypeOf<T>::value == dtype_ || (sizeof(T) == dtype_bits(dtype_) / 8));
    return reinterpret_cast<const T*>(data_);
  }
  template <class T>
  T* mutable_data() {
    assert(DTypeOf<T>::value == dtype_ || (sizeof(T) == dtype_bits(dtype_) / 8));
    return reinterpret_cast<T*>(data_);
  }

  const std::vector<std::string>& string_data() const { return strings_; }
  std::vector<std::string>& mutable_string_data() { return strings_; }

  const std::optional<QuantParams>& quant() const { return quant_; }
  void set_quant(std::optional<QuantParams> q) { quant_ = std::move(q); }

  // The storage this tensor points into (null for empty and string tensors).
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // True when the bytes live in a memory-mapped file.
  bool is_mapped() const;

  // Deep copy into owned storage.
  Tensor clone() const;
  // Same bytes, new shape with equal numel (shares storage).
  Tensor reshaped(Shape shape) const;

  // Element-wise value and bytes equality (dtype, shape, bytes or strings; name ignored).
  bool same_content(const Tensor& other) const;

 private:
  std::string name_;
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<Storage> storage_;
  std::byte* data_ = nullptr;
  size_t nbytes_ = 0;
  std::vector<std::string> strings_;
  std::optional<QuantParams> quant_;
};

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape, std::string name) {
  Tensor t(DTypeOf<T>::value, std::move(shape), std::move(name));
  assert(static_cast<size_t>(t.numel()) == values.size());
  T* out = t.mutable_data<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

}  // namespace bitsmith
