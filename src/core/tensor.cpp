#include "bitsmith/core/tensor.h"

#include <cstring>

namespace bitsmith {

Tensor::Tensor(DType dtype, Shape shape, std::string name)
    : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)) {
  const int64_t n = shape_numel(shape_);
  assert(n >= 0 && "Tensor: invalid shape");
  if (dtype_ == DType::kString) {
    strings_.resize(static_cast<size_t>(n));
    return;
  }
  nbytes_ = storage_nbytes(dtype_, n);
  if (nbytes_ > 0) {
    storage_ = std::make_shared<OwnedStorage>(nbytes_);
    data_ = storage_->data();
  }
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  assert(dtype != DType::kString && "Tensor::uninitialized: not for strings");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  const int64_t n = shape_numel(t.shape_);
  assert(n >= 0 && "Tensor: invalid shape");
  t.nbytes_ = storage_nbytes(dtype, n);
  if (t.nbytes_ > 0) {
    t.storage_ = std::make_shared<OwnedStorage>(t.nbytes_, OwnedStorage::Init::kUninitialized);
    t.data_ = t.storage_->data();
  }
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, std::shared_ptr<Storage> owner, std::byte* data,
                    std::string name) {
  Tensor t;
  t.name_ = std::move(name);
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.nbytes_ = storage_nbytes(dtype, shape_numel(t.shape_));
  assert(owner || t.nbytes_ == 0);
  assert(!owner || (data >= owner->data() && data + t.nbytes_ <= owner->data() + owner->nbytes()));
  t.storage_ = std::move(owner);
  t.data_ = t.nbytes_ ? data : nullptr;
  return t;
}

Tensor Tensor::strings(Shape shape, std::vector<std::string> values, std::string name) {
  Tensor t;
  t.name_ = std::move(name);
  t.dtype_ = DType::kString;
  t.shape_ = std::move(shape);
  t.strings_ = std::move(values);
  assert(static_cast<int64_t>(t.strings_.size()) == shape_numel(t.shape_));
  return t;
}

bool Tensor::is_mapped() const { return dynamic_cast<const MappedFile*>(storage_.get()) != nullptr; }

Tensor Tensor::clone() const {
  Tensor t;
  t.name_ = name_;
  t.dtype_ = dtype_;
  t.shape_ = shape_;
  t.nbytes_ = nbytes_;
  t.strings_ = strings_;
  t.quant_ = quant_;
  if (nbytes_ > 0) {
    t.storage_ = std::make_shared<OwnedStorage>(nbytes_, OwnedStorage::Init::kUninitialized);
    t.data_ = t.storage_->data();
    std::memcpy(t.data_, data_, nbytes_);
  }
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  assert(shape_numel(shape) == numel());
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

bool Tensor::same_content(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (dtype_ == DType::kString) return strings_ == other.strings_;
  if (nbytes_ != other.nbytes_) return false;
  return nbytes_ == 0 || std::memcmp(data_, other.data_, nbytes_) == 0;
}

}  // namespace bitsmith
