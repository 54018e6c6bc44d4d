#include "bitsmith/core/tensor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace bitsmith {
namespace {

TEST(Tensor, ConstructionIsZeroedAndSized) {
  Tensor t(DType::kF32, {2, 3, 4}, "t");
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.name(), "t");
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_EQ(t.dim(0), 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.bytes()) % OwnedStorage::kAlignment, 0u);
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data<float>()[i], 0.f);
  EXPECT_FALSE(t.is_mapped());
  EXPECT_FALSE(Tensor().defined());
}

TEST(Tensor, SubByteAndEmptyShapes) {
  EXPECT_EQ(Tensor(DType::kI4, {3}).nbytes(), 2u);
  EXPECT_EQ(Tensor(DType::kU4, {2, 2}).nbytes(), 2u);
  const Tensor empty(DType::kF32, {0, 5});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.nbytes(), 0u);
  EXPECT_EQ(empty.bytes(), nullptr);
  EXPECT_EQ(empty.storage(), nullptr);
  const Tensor scalar = Tensor::scalar<int64_t>(-7, "s");
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.data<int64_t>()[0], -7);
  EXPECT_EQ(scalar.dtype(), DType::kI64);
}

TEST(Tensor, CopiesShareStorageCloneDoesNot) {
  Tensor a = Tensor::from_vector<int32_t>({1, 2, 3, 4}, {4}, "a");
  QuantParams q;
  q.qdtype = DType::kI8;
  q.scales = {0.5f};
  a.set_quant(q);
  Tensor shared = a;
  shared.mutable_data<int32_t>()[0] = 10;
  EXPECT_EQ(a.data<int32_t>()[0], 10);

  Tensor deep = a.clone();
  EXPECT_NE(deep.bytes(), a.bytes());
  EXPECT_EQ(deep.name(), "a");
  ASSERT_TRUE(deep.quant().has_value());
  EXPECT_EQ(deep.quant()->scales, q.scales);
  EXPECT_TRUE(deep.same_content(a));
  deep.mutable_data<int32_t>()[1] = 20;
  EXPECT_EQ(a.data<int32_t>()[1], 2);
  EXPECT_FALSE(deep.same_content(a));
}

TEST(Tensor, ReshapedSharesBytes) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {6});
  Tensor r = a.reshaped({2, 3});
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(r.bytes(), a.bytes());
  r.mutable_data<float>()[5] = 60.f;
  EXPECT_EQ(a.data<float>()[5], 60.f);
  EXPECT_FALSE(r.same_content(a));  // same bytes, different shape
  EXPECT_TRUE(r.reshaped({6}).same_content(a));
}

TEST(Tensor, ViewKeepsItsStorageAlive) {
  auto storage = std::make_shared<OwnedStorage>(128);
  for (size_t i = 0; i < 128; ++i) storage->data()[i] = static_cast<std::byte>(i);
  std::weak_ptr<Storage> watch = storage;
  Tensor v = Tensor::view(DType::kU8, {2, 4}, storage, storage->data() + 64, "v");
  storage.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(v.nbytes(), 8u);
  EXPECT_EQ(v.data<uint8_t>()[0], 64);
  EXPECT_EQ(v.data<uint8_t>()[7], 71);
  Tensor c = v.clone();
  v = Tensor();
  EXPECT_TRUE(watch.expired());  // the clone owns its own bytes
  EXPECT_EQ(c.data<uint8_t>()[7], 71);
}

TEST(Tensor, ViewIntoMappedFileIsCopyOnWrite) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bitsmith_tensor_" + std::to_string(::getpid()) + ".bin")).string();
  {
    std::ofstream out(path, std::ios::binary);
    const float values[4] = {1.f, 2.f, 3.f, 4.f};
    out.write(reinterpret_cast<const char*>(values), sizeof values);
  }
  auto mapped = MappedFile::open(path);
  ASSERT_TRUE(mapped.is_ok()) << mapped.status().message();
  std::shared_ptr<Storage> storage = *mapped;
  Tensor v = Tensor::view(DType::kF32, {4}, storage, storage->data());
  EXPECT_TRUE(v.is_mapped());
  EXPECT_EQ(v.data<float>()[3], 4.f);
  v.mutable_data<float>()[3] = 40.f;  // private pages: the file keeps 4.0
  EXPECT_EQ(v.data<float>()[3], 40.f);
  EXPECT_FALSE(v.clone().is_mapped());
  float on_disk[4];
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(on_disk), sizeof on_disk);
  EXPECT_EQ(on_disk[3], 4.f);
  std::filesystem::remove(path);
}

TEST(Tensor, SameContentComparesDtypeShapeAndBytes) {
  const Tensor a = Tensor::from_vector<int32_t>({1, 2}, {2}, "a");
  const Tensor b = Tensor::from_vector<int32_t>({1, 2}, {2}, "other name");
  EXPECT_TRUE(a.same_content(b));
  Tensor as_u32 = Tensor::view(DType::kU32, {2}, a.storage(), const_cast<std::byte*>(a.bytes()));
  EXPECT_FALSE(a.same_content(as_u32));  // same bytes, other dtype
  EXPECT_FALSE(a.same_content(a.reshaped({1, 2})));
  EXPECT_FALSE(a.same_content(Tensor::from_vector<int32_t>({1, 3}, {2})));
  EXPECT_TRUE(Tensor(DType::kF32, {0}).same_content(Tensor(DType::kF32, {0})));
  EXPECT_FALSE(Tensor(DType::kF32, {0}).same_content(Tensor(DType::kF32, {0, 1})));
}

TEST(Tensor, StringTensors) {
  Tensor s = Tensor::strings({2, 2}, {"a", "", "ccc", std::string("\0x", 2)}, "s");
  EXPECT_EQ(s.dtype(), DType::kString);
  EXPECT_EQ(s.numel(), 4);
  EXPECT_EQ(s.nbytes(), 0u);
  EXPECT_EQ(s.bytes(), nullptr);
  ASSERT_EQ(s.string_data().size(), 4u);
  EXPECT_EQ(s.string_data()[3].size(), 2u);
  Tensor c = s.clone();
  EXPECT_TRUE(c.same_content(s));
  c.mutable_string_data()[0] = "changed";
  EXPECT_EQ(s.string_data()[0], "a");
  EXPECT_FALSE(c.same_content(s));
  EXPECT_EQ(Tensor(DType::kString, {3}).string_data().size(), 3u);
  EXPECT_TRUE(s.reshaped({4}).string_data() == s.string_data());
}

}  // namespace
}  // namespace bitsmith
