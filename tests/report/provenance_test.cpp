#include "bitsmith/report/provenance.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace bitsmith {
namespace {

TEST(Provenance, Sha256KnownVectors) {
  // FIPS 180-2 / NIST test vectors.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Provenance, Sha256FileMatchesBytesAcrossChunks) {
  // 2.5 MiB: spans several 1 MiB read chunks and ends in a partial one.
  std::string bytes(5 << 19, '\0');
  std::mt19937 rng(7);
  for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
  const auto path = std::filesystem::temp_directory_path() / ("bitsmith_sha_" + std::to_string(::getpid()) + ".bin");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  Expected<std::string> hex = sha256_file(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(hex.is_ok()) << hex.status().message();
  EXPECT_EQ(*hex, sha256_hex(bytes));
  EXPECT_EQ(hex->size(), 64u);
  EXPECT_TRUE(std::all_of(hex->begin(), hex->end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  EXPECT_NE(*hex, sha256_hex(bytes.substr(1)));
}

TEST(Provenance, Sha256MissingFileNamesIt) {
  const std::string path = "/nonexistent_dir_bitsmith/model.onnx";
  Expected<std::string> hex = sha256_file(path);
  ASSERT_FALSE(hex.is_ok());
  EXPECT_EQ(hex.status().code(), StatusCode::kIoError);
  EXPECT_NE(hex.status().message().find(path), std::string::npos) << hex.status().message();
}

TEST(Provenance, MachineInfo) {
  const MachineInfo m = machine_info();
  EXPECT_FALSE(m.cpu.empty());
  EXPECT_GE(m.cores, 1);
  const std::vector<std::string> known = {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512vnni", "avxvnni"};
  for (const std::string& isa : m.isa) EXPECT_NE(std::find(known.begin(), known.end(), isa), known.end()) << isa;
#if defined(__AVX2__)
  // This binary uses AVX2 instructions, so the machine running it must report them.
  EXPECT_NE(std::find(m.isa.begin(), m.isa.end(), "avx2"), m.isa.end());
#endif
  const nlohmann::json j = to_json(m);
  EXPECT_EQ(j.at("cpu"), m.cpu);
  EXPECT_EQ(j.at("cores"), m.cores);
  EXPECT_EQ(j.at("isa").size(), m.isa.size());
}

}  // namespace
}  // namespace bitsmith
