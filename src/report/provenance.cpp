#include "bitsmith/report/provenance.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include <openssl/evp.h>

namespace bitsmith {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string to_hex(const unsigned char* digest, unsigned int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

// A fresh SHA-256 context; null only when OpenSSL cannot allocate or initialise one.
MdCtx new_sha256() {
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

Expected<std::string> finish(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &n) != 1) return internal_error("sha256: EVP_DigestFinal_ex failed");
  return to_hex(digest, n);
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || trim(line.substr(0, colon)) != "model name") continue;
    std::string name = trim(line.substr(colon + 1));
    if (!name.empty()) return name;
  }
  return "unknown";
}

}  // namespace

Expected<std::string> sha256_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return io_error(path + ": cannot open for hashing: " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(f, &std::fclose);
  MdCtx ctx = new_sha256();
  if (!ctx) return internal_error(path + ": sha256: cannot create an OpenSSL digest context");
  std::unique_ptr<unsigned char[]> buf(new unsigned char[1 << 20]);
  for (;;) {
    const size_t n = std::fread(buf.get(), 1, 1 << 20, file.get());
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buf.get(), n) != 1)
      return internal_error(path + ": sha256: EVP_DigestUpdate failed");
    if (n < (1 << 20)) break;
  }
  if (std::ferror(file.get())) return io_error(path + ": read error while hashing: " + std::strerror(errno));
  Expected<std::string> hex = finish(ctx.get());
  if (!hex) return hex.status().with_context(path);
  return hex;
}

std::string sha256_hex(std::string_view bytes) {
  MdCtx ctx = new_sha256();
  // Hashing memory can only fail when OpenSSL is unusable (a broken installation): a bug-level
  // condition, reported as an empty string rather than a wrong digest.
  if (!ctx || EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1) return "";
  Expected<std::string> hex = finish(ctx.get());
  return hex ? hex.value() : std::string();
}

MachineInfo machine_info() {
  MachineInfo info;
  info.cpu = cpu_model_name();
  info.cores = static_cast<int>(std::thread::hardware_concurrency());
  if (info.cores < 1) info.cores = 1;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports needs string literals, hence one line per feature.
  if (__builtin_cpu_supports("sse4.2")) info.isa.emplace_back("sse4.2");
  if (__builtin_cpu_supports("avx")) info.isa.emplace_back("avx");
  if (__builtin_cpu_supports("avx2")) info.isa.emplace_back("avx2");
  if (__builtin_cpu_supports("fma")) info.isa.emplace_back("fma");
  if (__builtin_cpu_supports("f16c")) info.isa.emplace_back("f16c");
  if (__builtin_cpu_supports("avx512f")) info.isa.emplace_back("avx512f");
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
  if (__builtin_cpu_supports("avx512vnni")) info.isa.emplace_back("avx512vnni");
  if (__builtin_cpu_supports("avxvnni")) info.isa.emplace_back("avxvnni");
#endif
#endif
  return info;
}

nlohmann::json to_json(const MachineInfo& info) {
  return nlohmann::json{{"cpu", info.cpu}, {"cores", info.cores}, {"isa", info.isa}};
}

}  // namespace bitsmith
