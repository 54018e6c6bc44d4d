// BufferPool (include/bitsmith/core/buffer_pool.h) and the tensors that use it: large blocks are
// reused, zeroed tensors stay zeroed on a reused (dirty) block, the cache respects its limit.
#include <gtest/gtest.h>

#include <cstring>

#include "bitsmith/core/buffer_pool.h"
#include "bitsmith/core/tensor.h"

namespace bitsmith {
namespace {

// Runs each test with the default limit (whatever the build's own is) and restores the
// build's limit and an empty cache afterwards.
class BufferPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_limit_ = buffer_pool::stats().limit_bytes;
    buffer_pool::set_limit_bytes(buffer_pool::kDefaultLimit);
  }
  void TearDown() override {
    buffer_pool::trim();
    buffer_pool::set_limit_bytes(saved_limit_);
  }
  size_t saved_limit_ = 0;
};

TEST_F(BufferPoolTest, SmallRequestsAreLeftToMalloc) {
  size_t cap = 0;
  EXPECT_EQ(buffer_pool::acquire(buffer_pool::kMinBytes - 1, &cap), nullptr);
}

TEST_F(BufferPoolTest, ReleasedBlockServesTheNextRequestOfASimilarSize) {
  buffer_pool::trim();
  size_t cap = 0;
  void* p = buffer_pool::acquire(3u << 20, &cap);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(cap, 3u << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  buffer_pool::release(p, cap);
  EXPECT_EQ(buffer_pool::stats().cached_bytes, cap);
  const int64_t reused = buffer_pool::stats().reused;
  size_t cap2 = 0;
  void* q = buffer_pool::acquire((3u << 20) - 1000, &cap2);
  EXPECT_EQ(q, p);
  EXPECT_EQ(cap2, cap);
  EXPECT_EQ(buffer_pool::stats().reused, reused + 1);
  EXPECT_EQ(buffer_pool::stats().cached_bytes, 0u);
  // A much smaller request does not take a large cached block.
  buffer_pool::release(q, cap2);
  size_t cap3 = 0;
  void* r = buffer_pool::acquire(1u << 20, &cap3);
  EXPECT_NE(r, q);
  buffer_pool::release(r, cap3);
}

TEST_F(BufferPoolTest, ZeroedTensorOnAReusedDirtyBlockIsZero) {
  const Shape shape{512, 1024};  // 2 MiB of f32
  {
    Tensor dirty = Tensor::uninitialized(DType::kF32, shape);
    std::memset(dirty.mutable_bytes(), 0xAB, dirty.nbytes());
  }
  const int64_t reused = buffer_pool::stats().reused;
  Tensor t(DType::kF32, shape);
  EXPECT_EQ(buffer_pool::stats().reused, reused + 1);  // it did get the dirty block
  const float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(d[i], 0.f) << i;
}

TEST_F(BufferPoolTest, LimitBoundsTheCacheAndZeroDisablesIt) {
  buffer_pool::set_limit_bytes(0);
  { Tensor t = Tensor::uninitialized(DType::kF32, {1 << 20}); }
  EXPECT_EQ(buffer_pool::stats().cached_bytes, 0u);
  buffer_pool::set_limit_bytes(6u << 20);
  {
    Tensor a = Tensor::uninitialized(DType::kF32, {1 << 20});  // 4 MiB each
    Tensor b = Tensor::uninitialized(DType::kF32, {1 << 20});
  }
  EXPECT_LE(buffer_pool::stats().cached_bytes, 6u << 20);
  EXPECT_GT(buffer_pool::stats().cached_bytes, 0u);
}

TEST_F(BufferPoolTest, CloneCopiesIntoAReusedBlock) {
  Tensor src = Tensor::uninitialized(DType::kF32, {300000});
  float* s = src.mutable_data<float>();
  for (int64_t i = 0; i < src.numel(); ++i) s[i] = static_cast<float>(i);
  { Tensor junk = Tensor::uninitialized(DType::kF32, {300000}); std::memset(junk.mutable_bytes(), 0xFF, junk.nbytes()); }
  const Tensor c = src.clone();
  EXPECT_EQ(std::memcmp(c.bytes(), src.bytes(), src.nbytes()), 0);
}

}  // namespace
}  // namespace bitsmith
