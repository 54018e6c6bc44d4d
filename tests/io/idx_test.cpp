#include "bitsmith/io/idx.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bitsmith {
namespace {

const std::string kMnistDir = std::string(BITSMITH_SOURCE_DIR) + "/../shared/data/mnist/";

struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bitsmith_idx_XXXXXX").string();
    path = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

bool python_has_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

// IDX header: 0, 0, type, ndims, big-endian u32 dims.
std::string idx_header(uint8_t type, const std::vector<uint32_t>& dims) {
  std::string h = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h += static_cast<char>((d >> s) & 0xff);
  return h;
}

TEST(Idx, MnistLabelsMatchNumpyHistogram) {
  auto labels = read_idx(kMnistDir + "t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.is_ok()) << labels.status().message();
  EXPECT_EQ(labels->dtype(), DType::kU8);
  ASSERT_EQ(labels->rank(), 1);
  std::array<int64_t, 10> hist{};
  for (int64_t i = 0; i < labels->numel(); ++i) {
    const uint8_t v = labels->data<uint8_t>()[i];
    ASSERT_LE(v, 9) << "label " << i;
    ++hist[v];
  }
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy: histogram not compared";
  TempDir dir;
  std::ofstream(dir / "hist.py") << R"PY(
import sys, gzip, numpy as np
raw = gzip.open(sys.argv[1], 'rb').read()
n = int.from_bytes(raw[4:8], 'big')
h = np.bincount(np.frombuffer(raw, np.uint8, n, 8), minlength=10)
open(sys.argv[2], 'w').write(' '.join([str(n)] + [str(x) for x in h]))
)PY";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "hist.py") + " " + kMnistDir + "t10k-labels-idx1-ubyte.gz " +
                         (dir / "hist.txt")).c_str()),
            0);
  std::istringstream ref(read_file(dir / "hist.txt"));
  int64_t n = 0;
  ref >> n;
  EXPECT_EQ(labels->numel(), n);
  for (int k = 0; k < 10; ++k) {
    int64_t expected = -1;
    ref >> expected;
    EXPECT_EQ(hist[k], expected) << "digit " << k;
  }
}

TEST(Idx, MnistImagesMatchPythonGzip) {
  auto images = read_idx(kMnistDir + "t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images.is_ok()) << images.status().message();
  EXPECT_EQ(images->dtype(), DType::kU8);
  EXPECT_EQ(images->shape(), (Shape{10000, 28, 28}));
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy: pixels not compared";
  TempDir dir;
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"import sys, gzip; open(sys.argv[2], 'wb').write(gzip.open("
                         "sys.argv[1]).read()[16:])\" " +
                         kMnistDir + "t10k-images-idx3-ubyte.gz " + (dir / "pixels.raw")).c_str()),
            0);
  const std::string pixels = read_file(dir / "pixels.raw");
  ASSERT_EQ(pixels.size(), images->nbytes());
  EXPECT_EQ(std::memcmp(pixels.data(), images->bytes(), pixels.size()), 0);
}

TEST(Idx, PlainAndGzipWideTypesAreConvertedFromBigEndian) {
  TempDir dir;
  // i16 [2, 3]: values -3..2; f64 [2]: 1.5, -0.25.
  std::string i16 = idx_header(0x0B, {2, 3});
  for (int v = -3; v < 3; ++v) {
    const uint16_t u = static_cast<uint16_t>(v);
    i16 += static_cast<char>(u >> 8);
    i16 += static_cast<char>(u & 0xff);
  }
  std::string f64 = idx_header(0x0E, {2});
  for (double d : {1.5, -0.25}) {
    uint64_t u;
    std::memcpy(&u, &d, 8);
    for (int s = 56; s >= 0; s -= 8) f64 += static_cast<char>((u >> s) & 0xff);
  }
  write_file(dir / "a.idx", i16);
  write_gz(dir / "a.idx.gz", i16);
  write_gz(dir / "b.bin", f64);  // gzip detected by content, not by name
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    auto t = read_idx(dir / name);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_TRUE(t->same_content(Tensor::from_vector<int16_t>({-3, -2, -1, 0, 1, 2}, {2, 3}))) << name;
  }
  auto d = read_idx(dir / "b.bin");
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_TRUE(d->same_content(Tensor::from_vector<double>({1.5, -0.25}, {2})));
}

void expect_bad(const std::string& path, StatusCode code, const std::string& fragment) {
  auto t = read_idx(path);
  ASSERT_FALSE(t.is_ok()) << "expected: " << fragment;
  EXPECT_EQ(t.status().code(), code) << t.status().message();
  EXPECT_EQ(t.status().message().rfind(path + ": ", 0), 0u) << t.status().message();
  EXPECT_NE(t.status().message().find(fragment), std::string::npos) << t.status().message();
}

TEST(Idx, MalformedFilesGiveClearErrors) {
  TempDir dir;
  expect_bad(dir / "missing.idx", StatusCode::kIoError, "cannot open");
  write_file(dir / "short", std::string("\0\0", 2));
  expect_bad(dir / "short", StatusCode::kDataError, "truncated IDX header");
  write_file(dir / "magic", "PK\x03\x04");
  expect_bad(dir / "magic", StatusCode::kDataError, "not an IDX file");
  write_file(dir / "type", idx_header(0x07, {1}) + "x");
  expect_bad(dir / "type", StatusCode::kUnsupported, "unknown IDX element type 0x07");
  write_file(dir / "dims", idx_header(0x08, {3}).substr(0, 6));
  expect_bad(dir / "dims", StatusCode::kDataError, "truncated IDX header (dimension 0)");
  write_file(dir / "data", idx_header(0x08, {10}) + "abc");
  expect_bad(dir / "data", StatusCode::kDataError, "need more data than");
  write_file(dir / "trailing", idx_header(0x08, {2}) + "abc");
  expect_bad(dir / "trailing", StatusCode::kDataError, "trailing bytes");
  // 2^32-1 cubed bytes: refused from the header alone.
  write_gz(dir / "huge.gz", idx_header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}));
  expect_bad(dir / "huge.gz", StatusCode::kDataError, "need more data than");
  // Plausible dims (fit the deflate bound) but the stream ends early.
  write_gz(dir / "cut.gz", idx_header(0x08, {100}) + std::string(50, 'x'));
  expect_bad(dir / "cut.gz", StatusCode::kDataError, "truncated: 50 data bytes");
  // A gzip stream cut in the middle.
  std::string gz_path = dir / "full.gz";
  write_gz(gz_path, idx_header(0x08, {4000}) + std::string(4000, '\x05'));
  const std::string gz = read_file(gz_path);
  write_file(dir / "cutgz.gz", gz.substr(0, gz.size() / 2));
  auto cut = read_idx(dir / "cutgz.gz");
  EXPECT_FALSE(cut.is_ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kDataError) << cut.status().message();
}

}  // namespace
}  // namespace bitsmith
