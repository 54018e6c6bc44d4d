// .npy / .npz: files written by numpy are read back and compared with the raw bytes numpy saved
// next to them; files written by bitsmith are checked by numpy; malformed files give errors.
#include "bitsmith/io/npy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace bitsmith {
namespace {

const std::string kMnistNpz = std::string(BITSMITH_SOURCE_DIR) + "/../shared/data/onnx-mnist-cntk/test_data_0.npz";

struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bitsmith_npy_XXXXXX").string();
    path = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

bool python_has_numpy() {
  static const bool has = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return has;
}

// Writes `script` into `dir` and runs it with `dir` as its argument; returns the exit status.
int run_python(const TempDir& dir, const std::string& script) {
  std::ofstream(dir / "script.py") << script;
  return std::system(("/usr/bin/python3 " + (dir / "script.py") + " " + dir.path).c_str());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string bytes_of(const Tensor& t) { return std::string(reinterpret_cast<const char*>(t.bytes()), t.nbytes()); }

// One line of a manifest: "name dtype dim0 dim1 ..." (scalar: no dims).
struct Entry {
  std::string name, dtype;
  Shape shape;
};

std::vector<Entry> read_manifest(const std::string& path) {
  std::vector<Entry> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Entry e;
    ls >> e.name >> e.dtype;
    int64_t d;
    while (ls >> d) e.shape.push_back(d);
    out.push_back(e);
  }
  return out;
}

// Python side of the numpy -> bitsmith tests: each array saved as <name>.npy, its little-endian
// C-order bytes as <name>.raw and a manifest line; plus two .npz files of the same arrays.
constexpr const char* kNumpyWriter = R"PY(
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
names = {'float32': 'f32', 'float64': 'f64', 'float16': 'f16', 'int8': 'i8', 'int16': 'i16',
         'int32': 'i32', 'int64': 'i64', 'uint8': 'u8', 'uint16': 'u16', 'uint32': 'u32',
         'uint64': 'u64', 'bool': 'bool', 'complex64': 'c64', 'complex128': 'c128'}
arrays = {
    'f32': rng.standard_normal((2, 3, 4)).astype(np.float32),
    'f64': rng.standard_normal(5),
    'f16': np.array([[0, -0.0, 1e-7], [65504, np.inf, -np.inf], [np.nan, 0.333, -2]], np.float16),
    'i8': np.array([-128, -1, 0, 127], np.int8),
    'i16': np.array([-32768, 32767, 5], np.int16),
    'i32': rng.integers(-2**31, 2**31, (3, 5), dtype=np.int32),
    'i64': np.array([-2**63, 2**63 - 1, 0], np.int64),
    'u8': rng.integers(0, 256, (7, 11, 13), dtype=np.uint8),
    'u16': np.array([0, 65535], np.uint16),
    'u32': np.array([0, 2**32 - 1, 12345], np.uint32),
    'u64': np.array([2**64 - 1, 1], np.uint64),
    'boolean': np.array([[True, False, True]]),
    'c64': np.array([1 + 2j, -3.5j], np.complex64),
    'scalar': np.float32(3.25) * np.ones((), np.float32),
    'empty': np.zeros((0, 3), np.float32),
    'one': np.array([42], np.int16),
    'be_f32': np.arange(6, dtype='>f4').reshape(2, 3) / 3,
    'be_i64': np.array([-5, 2**40, 7], dtype='>i8'),
    'be_f16': np.array([1.5, -0.25, 65504], dtype='>f2'),
    'be_u16': np.array([1, 256, 65535], dtype='>u2'),
    'be_c128': np.array([1 - 1j, 2.5 + 0.5j], dtype='>c16'),
}
with open(d + '/manifest.txt', 'w') as m:
    for k, a in arrays.items():
        np.save(d + '/' + k + '.npy', a)
        a.astype(a.dtype.newbyteorder('<')).tofile(d + '/' + k + '.raw')
        m.write(' '.join([k, names[a.dtype.name]] + [str(x) for x in a.shape]) + '\n')
# Format versions 2.0 and 3.0 (written explicitly; np.save picks 1.0 for small headers).
for v in (2, 3):
    a = np.arange(10, dtype=np.int32).reshape(2, 5) * v
    with open(d + '/v%d.npy' % v, 'wb') as f:
        np.lib.format.write_array(f, a, version=(v, 0))
    a.tofile(d + '/v%d.raw' % v)
with open(d + '/versions.txt', 'w') as m:
    m.write('v2 i32 2 5\nv3 i32 2 5\n')
np.save(d + '/fortran.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
members = {k: arrays[k] for k in ('f32', 'u8', 'scalar', 'empty', 'be_i64', 'boolean')}
np.savez(d + '/plain.npz', **members)
np.savez_compressed(d + '/compressed.npz', **members)
with open(d + '/npz_manifest.txt', 'w') as m:
    for k, a in members.items():
        m.write(' '.join([k, names[a.dtype.name]] + [str(x) for x in a.shape]) + '\n')
)PY";

void expect_matches_raw(const Tensor& t, const Entry& e, const TempDir& dir) {
  EXPECT_EQ(dtype_name(t.dtype()), e.dtype) << e.name;
  EXPECT_EQ(t.shape(), e.shape) << e.name;
  EXPECT_EQ(bytes_of(t), read_file(dir / (e.name + ".raw"))) << e.name;
}

TEST(Npy, ReadsWhatNumpyWrites) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  TempDir dir;
  ASSERT_EQ(run_python(dir, kNumpyWriter), 0);
  std::vector<Entry> entries = read_manifest(dir / "manifest.txt");
  for (const Entry& e : read_manifest(dir / "versions.txt")) entries.push_back(e);
  ASSERT_EQ(entries.size(), 23u);
  for (const Entry& e : entries) {
    auto t = read_npy(dir / (e.name + ".npy"));
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_EQ(t->name(), e.name);
    expect_matches_raw(*t, e, dir);
    // Little-endian payloads are views into the mapped file (np.save aligns data to 64 bytes).
    if (e.name.rfind("be_", 0) != 0 && t->nbytes() > 0) {
      EXPECT_TRUE(t->is_mapped()) << e.name;
    }
  }
}

TEST(Npy, FortranOrderIsRefusedNamingTheFile) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  TempDir dir;
  ASSERT_EQ(run_python(dir, kNumpyWriter), 0);
  auto t = read_npy(dir / "fortran.npy");
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), StatusCode::kDataError);
  EXPECT_NE(t.status().message().find(dir / "fortran.npy"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("fortran_order"), std::string::npos) << t.status().message();
}

TEST(Npz, ReadsNumpySavezAndSavezCompressed) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  TempDir dir;
  ASSERT_EQ(run_python(dir, kNumpyWriter), 0);
  const std::vector<Entry> entries = read_manifest(dir / "npz_manifest.txt");
  ASSERT_EQ(entries.size(), 6u);
  for (const char* file : {"plain.npz", "compressed.npz"}) {
    auto members = read_npz(dir / file);
    ASSERT_TRUE(members.is_ok()) << members.status().message();
    ASSERT_EQ(members->size(), entries.size()) << file;
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ((*members)[i].name(), entries[i].name) << file;
      expect_matches_raw((*members)[i], entries[i], dir);
    }
    auto one = read_array(dir / file + ":be_i64");
    ASSERT_TRUE(one.is_ok()) << one.status().message();
    EXPECT_EQ(bytes_of(*one), read_file(dir / "be_i64.raw"));
  }
}

// bitsmith -> numpy: arrays of every .npy dtype, as .npy files and as one .npz.
TEST(Npy, NumpyReadsWhatBitsmithWrites) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  TempDir dir;
  std::vector<Tensor> tensors;
  std::ofstream manifest(dir / "manifest.txt");
  uint32_t state = 12345;
  for (int i = 1; i < static_cast<int>(DType::kCount); ++i) {
    const DType dt = static_cast<DType>(i);
    if (!npy_supports(dt)) continue;
    const Shape shape = dt == DType::kI16 ? Shape{} : dt == DType::kU16 ? Shape{0, 4} : Shape{3, 5, 2};
    Tensor t(dt, shape, "a_" + std::string(dtype_name(dt)));
    for (size_t k = 0; k < t.nbytes(); ++k) {
      state = state * 1664525u + 1013904223u;
      t.mutable_bytes()[k] = static_cast<std::byte>(state >> 24);
    }
    if (dt == DType::kBool)
      for (size_t k = 0; k < t.nbytes(); ++k) t.mutable_bytes()[k] &= std::byte{1};
    if (dt == DType::kF16 || dt == DType::kF32 || dt == DType::kF64 || dt == DType::kC64 || dt == DType::kC128)
      for (size_t k = 0; k < t.nbytes(); k += 2) t.mutable_bytes()[k + 1] &= std::byte{0x3f};  // no NaNs
    ASSERT_TRUE(write_npy(t, dir / (t.name() + ".npy")).is_ok());
    write_file(dir / (t.name() + ".raw"), bytes_of(t));
    manifest << t.name() << " " << dtype_name(dt);
    for (int64_t d : shape) manifest << " " << d;
    manifest << "\n";
    tensors.push_back(t);
  }
  manifest.close();
  ASSERT_EQ(tensors.size(), 14u);
  tensors.push_back(Tensor::from_vector<float>({1.f, 2.f}, {2}));  // unnamed: "arr_14"
  ASSERT_TRUE(write_npz(tensors, dir / "all.npz").is_ok());
  const int rc = run_python(dir, R"PY(
import sys, zipfile, numpy as np
d = sys.argv[1]
np_names = {'f16': '<f2', 'f32': '<f4', 'f64': '<f8', 'i8': '|i1', 'i16': '<i2', 'i32': '<i4',
            'i64': '<i8', 'u8': '|u1', 'u16': '<u2', 'u32': '<u4', 'u64': '<u8', 'bool': '|b1',
            'c64': '<c8', 'c128': '<c16'}
bad = 0
z = np.load(d + '/all.npz')
assert zipfile.ZipFile(d + '/all.npz').testzip() is None, 'CRC error'
assert list(z.keys())[-1] == 'arr_14' and list(z['arr_14']) == [1.0, 2.0]
for line in open(d + '/manifest.txt'):
    f = line.split()
    name, dt, shape = f[0], np_names[f[1]], tuple(int(x) for x in f[2:])
    ref = np.fromfile(d + '/' + name + '.raw', dtype=dt).reshape(shape)
    for a in (np.load(d + '/' + name + '.npy'), z[name]):
        if a.dtype.str != dt or a.shape != shape or a.tobytes() != ref.tobytes():
            print('mismatch', name, a.dtype.str, dt, a.shape, shape); bad += 1
sys.exit(1 if bad else 0)
)PY");
  EXPECT_EQ(rc, 0);
}

TEST(Npy, SerializeParseRoundTrip) {
  for (int i = 1; i < static_cast<int>(DType::kCount); ++i) {
    const DType dt = static_cast<DType>(i);
    if (!npy_supports(dt)) {
      const Tensor t = dt == DType::kString ? Tensor::strings({1}, {"s"}) : Tensor(dt, {1});
      EXPECT_TRUE(serialize_npy(t).empty()) << dtype_name(dt);
      continue;
    }
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{7}, Shape{2, 0, 3}, Shape{3, 1, 4, 1}}) {
      Tensor t(dt, shape);
      for (size_t k = 0; k < t.nbytes(); ++k) t.mutable_bytes()[k] = static_cast<std::byte>(k * 37 % 2);
      const std::string image = serialize_npy(t);
      ASSERT_FALSE(image.empty());
      EXPECT_EQ((image.size() - t.nbytes()) % 64, 0u) << "data must start 64-byte aligned";
      auto back = parse_npy(reinterpret_cast<const std::byte*>(image.data()), image.size(), "mem");
      ASSERT_TRUE(back.is_ok()) << back.status().message();
      EXPECT_TRUE(back->same_content(t)) << dtype_name(dt) << shape_str(shape);
    }
  }
}

TEST(Npy, UnsupportedDtypesAreRefusedOnWrite) {
  TempDir dir;
  const Status s = write_npy(Tensor(DType::kBF16, {2}), dir / "x.npy");
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("bf16"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "x.npy"));
  EXPECT_EQ(write_npz({Tensor(DType::kI4, {2}, "q")}, dir / "x.npz").code(), StatusCode::kUnsupported);
  EXPECT_TRUE(serialize_npy(Tensor(DType::kU4, {2})).empty());
}

TEST(Npz, WriteReadRoundTripAndNames) {
  TempDir dir;
  std::vector<Tensor> in = {Tensor::from_vector<int32_t>({1, -2, 3}, {3}, "ids"),
                            Tensor::from_vector<double>({0.5}, {}), Tensor(DType::kF32, {0, 2}, "empty")};
  ASSERT_TRUE(write_npz(in, dir / "x.npz").is_ok());
  auto out = read_npz(dir / "x.npz");
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0].name(), "ids");
  EXPECT_EQ((*out)[1].name(), "arr_1");
  EXPECT_EQ((*out)[2].name(), "empty");
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE((*out)[i].same_content(in[i])) << i;
  // Same input, same bytes.
  ASSERT_TRUE(write_npz(in, dir / "y.npz").is_ok());
  EXPECT_EQ(read_file(dir / "x.npz"), read_file(dir / "y.npz"));

  auto dup = write_npz({in[0], in[0]}, dir / "dup.npz");
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.message().find("'ids'"), std::string::npos) << dup.message();
}

TEST(Npz, ReadArraySelectsMembers) {
  TempDir dir;
  ASSERT_TRUE(write_npz({Tensor::from_vector<float>({1.f}, {1}, "only")}, dir / "one.npz").is_ok());
  ASSERT_TRUE(write_npz({Tensor::from_vector<float>({1.f}, {1}, "a"), Tensor::from_vector<float>({2.f}, {1}, "b")},
                        dir / "two.npz").is_ok());
  ASSERT_TRUE(write_npy(Tensor::from_vector<int8_t>({5}, {1}), dir / "p.npy").is_ok());
  auto only = read_array(dir / "one.npz");
  ASSERT_TRUE(only.is_ok()) << only.status().message();
  EXPECT_EQ(only->name(), "only");
  auto b = read_array(dir / "two.npz:b");
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_EQ(b->data<float>()[0], 2.f);
  auto ambiguous = read_array(dir / "two.npz");
  ASSERT_FALSE(ambiguous.is_ok());
  EXPECT_NE(ambiguous.status().message().find("a, b"), std::string::npos) << ambiguous.status().message();
  auto missing = read_array(dir / "two.npz:c");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("no array 'c'"), std::string::npos) << missing.status().message();
  auto npy = read_array(dir / "p.npy");
  ASSERT_TRUE(npy.is_ok()) << npy.status().message();
  EXPECT_EQ(npy->data<int8_t>()[0], 5);
}

// --- malformed input ---

// A .npy image with the given header dict (padded to 64 bytes) and payload.
std::string make_npy(const std::string& dict, const std::string& payload, int major = 1) {
  std::string h = dict;
  const size_t prelude = major == 1 ? 10 : 12;
  while ((prelude + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < prelude - 8; ++i) out += static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + payload;
}

// Expects reading `image` from a file to fail with `code` and a message naming the file and
// containing `fragment`.
void expect_bad_npy(const std::string& image, StatusCode code, const std::string& fragment) {
  TempDir dir;
  const std::string path = dir / "bad.npy";
  write_file(path, image);
  auto t = read_npy(path);
  ASSERT_FALSE(t.is_ok()) << "expected: " << fragment;
  EXPECT_EQ(t.status().code(), code) << t.status().message();
  EXPECT_EQ(t.status().message().rfind(path + ": ", 0), 0u) << t.status().message();
  EXPECT_NE(t.status().message().find(fragment), std::string::npos) << t.status().message();
}

TEST(Npy, MalformedFilesGiveClearErrors) {
  const std::string f4x3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  const std::string ok = make_npy(f4x3, std::string(12, '\0'));
  ASSERT_TRUE(parse_npy(reinterpret_cast<const std::byte*>(ok.data()), ok.size(), "ok").is_ok());
  expect_bad_npy("", StatusCode::kDataError, "not a .npy file");
  expect_bad_npy("PK\x03\x04 not npy at all", StatusCode::kDataError, "not a .npy file");
  expect_bad_npy(make_npy(f4x3, std::string(8, '\0')), StatusCode::kDataError, "truncated");
  expect_bad_npy(make_npy(f4x3, "").substr(0, 40), StatusCode::kDataError, "runs past the end of the file");
  expect_bad_npy(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", std::string(12, '\0')),
                 StatusCode::kDataError, "fortran_order is True");
  expect_bad_npy(make_npy("{'descr': '<U3', 'fortran_order': False, 'shape': (3,), }", std::string(36, '\0')),
                 StatusCode::kUnsupported, "'<U3'");
  expect_bad_npy(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", ""),
                 StatusCode::kUnsupported, "structured");
  expect_bad_npy(make_npy("{'descr': '<f4', 'shape': (3,), }", std::string(12, '\0')), StatusCode::kDataError,
                 "missing key 'fortran_order'");
  expect_bad_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", ""),
                 StatusCode::kDataError, "unexpected key 'x'");
  expect_bad_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1), }", ""),
                 StatusCode::kDataError, "non-negative integer dimension");
  expect_bad_npy(make_npy(f4x3, std::string(12, '\0'), 4), StatusCode::kUnsupported, "version 4.0");
}

TEST(Npy, AbsurdShapesFailBeforeAllocating) {
  // Each would need terabytes or overflow; the check runs against the bytes present.
  expect_bad_npy(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
                          std::string(64, '\0')),
                 StatusCode::kDataError, "more than 2^63 elements");
  expect_bad_npy(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }",
                          std::string(64, '\0')),
                 StatusCode::kDataError, "the file holds 64 data bytes");
  expect_bad_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""),
                 StatusCode::kDataError, "below 2^63");
}

TEST(Npy, MissingFileIsAnIoError) {
  auto t = read_npy("/nonexistent/dir/x.npy");
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), StatusCode::kIoError);
  EXPECT_NE(t.status().message().find("/nonexistent/dir/x.npy"), std::string::npos);
}

TEST(Npz, CorruptArchivesGiveClearErrors) {
  TempDir dir;
  const std::string path = dir / "x.npz";
  ASSERT_TRUE(write_npz({Tensor::from_vector<float>({1.f, 2.f, 3.f}, {3}, "v")}, path).is_ok());
  const std::string good = read_file(path);

  std::string flipped = good;
  flipped[good.find("\x93NUMPY") + 64 + 4] ^= 0x40;  // inside the payload
  write_file(path, flipped);
  auto crc = read_npz(path);
  ASSERT_FALSE(crc.is_ok());
  EXPECT_NE(crc.status().message().find(path + ":v.npy: CRC-32 mismatch"), std::string::npos)
      << crc.status().message();

  write_file(path, good.substr(0, good.size() - 10));
  auto cut = read_npz(path);
  ASSERT_FALSE(cut.is_ok());
  EXPECT_NE(cut.status().message().find("no end-of-central-directory record"), std::string::npos)
      << cut.status().message();

  std::string bad_offset = good;
  bad_offset[good.size() - 4] = '\x7f';  // central directory offset (bytes 16..19 of the EOCD) past the end
  write_file(path, bad_offset);
  auto off = read_npz(path);
  ASSERT_FALSE(off.is_ok());
  EXPECT_NE(off.status().message().find("runs past the end of the file"), std::string::npos)
      << off.status().message();

  std::string bad_method = good;
  bad_method[good.find("PK\x01\x02") + 10] = 12;
  write_file(path, bad_method);
  auto method = read_npz(path);
  ASSERT_FALSE(method.is_ok());
  EXPECT_EQ(method.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(method.status().message().find("compression method 12"), std::string::npos)
      << method.status().message();
}

// numpy.savez to a pipe cannot seek back, so zipfile writes data descriptors (flag bit 3).
TEST(Npz, ReadsMembersWithDataDescriptors) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  TempDir dir;
  std::ofstream(dir / "stream.py") << R"PY(
import sys, numpy as np
np.savez_compressed(sys.stdout.buffer, x=np.arange(1000, dtype=np.int64), y=np.ones((2, 2), np.float32))
np.arange(1000, dtype=np.int64).tofile(sys.argv[1] + '/x.raw')
)PY";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "stream.py") + " " + dir.path + " | cat > " +
                         (dir / "stream.npz")).c_str()),
            0);
  const std::string image = read_file(dir / "stream.npz");
  ASSERT_GE(image.size(), 8u);
  ASSERT_TRUE(static_cast<uint8_t>(image[6]) & 0x08) << "expected a data descriptor flag in the first member";
  auto members = read_npz(dir / "stream.npz");
  ASSERT_TRUE(members.is_ok()) << members.status().message();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ(bytes_of((*members)[0]), read_file(dir / "x.raw"));
  EXPECT_EQ((*members)[1].shape(), (Shape{2, 2}));
}

// More than 65535 members need the zip64 end-of-central-directory record, in both directions.
TEST(Npz, Zip64EndRecordBothWays) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  constexpr int kMembers = 70000;
  TempDir dir;
  ASSERT_EQ(run_python(dir, R"PY(
import sys, io, zipfile, numpy as np
buf = io.BytesIO()
np.save(buf, np.array([7], np.int16))
with zipfile.ZipFile(sys.argv[1] + '/many.npz', 'w') as z:
    for i in range(70000):
        z.writestr('m%d.npy' % i, buf.getvalue())
)PY"),
            0);
  auto many = read_npz(dir / "many.npz");
  ASSERT_TRUE(many.is_ok()) << many.status().message();
  ASSERT_EQ(many->size(), static_cast<size_t>(kMembers));
  EXPECT_EQ(many->back().name(), "m69999");
  EXPECT_EQ(many->back().data<int16_t>()[0], 7);

  std::vector<Tensor> out;
  for (int i = 0; i < kMembers; ++i) {
    // (not "t" + std::to_string(i): GCC 12 -O3 reports a false -Wrestrict on it)
    out.push_back(Tensor::from_vector<int32_t>({i}, {1}, std::string("t").append(std::to_string(i))));
  }
  ASSERT_TRUE(write_npz(out, dir / "ours.npz").is_ok());
  EXPECT_EQ(run_python(dir, R"PY(
import sys, numpy as np
z = np.load(sys.argv[1] + '/ours.npz')
assert len(z.files) == 70000, len(z.files)
assert all(int(z['t%d' % i][0]) == i for i in (0, 1, 65535, 65536, 69999))
)PY"),
            0);
}

// Every truncation and many random byte changes of valid files: an error or a value, never a
// crash or an out-of-bounds read (run under BITSMITH_SANITIZE to make the latter visible).
TEST(Npz, MutatedFilesNeverCrash) {
  TempDir dir;
  std::vector<std::string> images;
  ASSERT_TRUE(write_npz({Tensor::from_vector<float>({1.f, 2.f, 3.f}, {3}, "a"), Tensor(DType::kI64, {2, 2}, "b")},
                        dir / "ours.npz").is_ok());
  images.push_back(read_file(dir / "ours.npz"));
  if (python_has_numpy()) {
    ASSERT_EQ(run_python(dir, "import sys, numpy as np\nnp.savez_compressed(sys.argv[1] + '/c.npz', "
                              "a=np.arange(300, dtype=np.float32), b=np.ones((2, 3), '>i2'))\n"),
              0);
    images.push_back(read_file(dir / "c.npz"));
  }
  const std::string path = dir / "m.npz";
  uint32_t state = 99;
  size_t ok_count = 0, error_count = 0;
  for (const std::string& good : images) {
    std::vector<std::string> variants;
    for (size_t n = 0; n < good.size(); ++n) variants.push_back(good.substr(0, n));
    for (int k = 0; k < 600; ++k) {
      std::string m = good;
      for (int flips = 0; flips < 1 + k % 3; ++flips) {
        state = state * 1664525u + 1013904223u;
        m[(state >> 8) % m.size()] = static_cast<char>(state >> 24);
      }
      variants.push_back(m);
    }
    for (const std::string& v : variants) {
      write_file(path, v);
      auto r = read_npz(path);
      ++(r.is_ok() ? ok_count : error_count);
      const size_t at = std::min(v.find("\x93NUMPY"), v.size());  // the first member's .npy image
      (void)parse_npy(reinterpret_cast<const std::byte*>(v.data()) + at, v.size() - at, "m");
    }
  }
  EXPECT_GT(error_count, 0u);
  EXPECT_GT(ok_count, 0u);  // changes inside unchecked fields (times, names) still read
}

TEST(Npz, ReadsTheMnistSampleData) {
  auto members = read_npz(kMnistNpz);
  ASSERT_TRUE(members.is_ok()) << members.status().message();
  ASSERT_EQ(members->size(), 2u);
  std::map<std::string, Tensor> by_name;
  for (const Tensor& t : *members) by_name[t.name()] = t;
  ASSERT_TRUE(by_name.count("inputs") && by_name.count("outputs"));
  EXPECT_EQ(by_name["inputs"].dtype(), DType::kI32);
  EXPECT_EQ(by_name["inputs"].shape(), (Shape{1, 784}));
  EXPECT_EQ(by_name["outputs"].shape(), (Shape{1, 10}));
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy: values not compared";
  TempDir dir;
  ASSERT_EQ(run_python(dir, "import sys, numpy as np\nz = np.load('" + kMnistNpz +
                                "')\nfor k in z: z[k].astype('<i4').tofile(sys.argv[1] + '/' + k + '.raw')\n"),
            0);
  EXPECT_EQ(bytes_of(by_name["inputs"]), read_file(dir / "inputs.raw"));
  EXPECT_EQ(bytes_of(by_name["outputs"]), read_file(dir / "outputs.raw"));
}

}  // namespace
}  // namespace bitsmith
