// ONNX reader/writer throughput on a ~1 GiB model: 16 Gemm layers of 4096x4096 f32 (+ bias).
//
// Measures write_onnx with inline raw_data and with external data, then read_onnx of each file
// in a fresh child process (so peak RSS is the reader's own), with the page cache warm (file just
// written) and cold (the file's pages dropped with posix_fadvise). "touch" sums every weight
// byte after reading, which pages in views. Prints one JSON object.
//
// Usage: onnx_io_bench [DIR]   (DIR: where the ~2 GiB of files go; default the temp dir)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "bitsmith/io/onnx.h"

namespace fs = std::filesystem;
using namespace bitsmith;

namespace {

constexpr int kLayers = 16;
constexpr int64_t kDim = 4096;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// VmHWM / VmRSS from /proc/self/status, in MB.
double proc_status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + std::strlen(key), nullptr) / 1024.0;
  return -1;
}

ValueInfo f32_value(const std::string& name) {
  ValueInfo v;
  v.name = name;
  v.type = TypeInfo::tensor(DType::kF32, {1, kDim});
  return v;
}

Model make_model() {
  Model m;
  m.ir_version = 8;
  m.opset_imports = {{"", 17}};
  m.producer_name = "onnx_io_bench";
  m.graph.name = "gemm_stack";
  m.graph.inputs.push_back(f32_value("x0"));
  uint32_t state = 12345;
  for (int l = 0; l < kLayers; ++l) {
    const std::string i = std::to_string(l);
    Tensor w(DType::kF32, {kDim, kDim}, "W" + i);
    float* p = w.mutable_data<float>();
    for (int64_t k = 0; k < kDim * kDim; ++k) {
      state = state * 1664525u + 1013904223u;
      p[k] = static_cast<float>(state >> 8) * 1e-7f;
    }
    Tensor b(DType::kF32, {kDim}, "B" + i);
    m.graph.initializers.push_back(w);
    m.graph.initializers.push_back(b);
    Node n;
    n.op_type = "Gemm";
    n.name = "gemm" + i;
    n.inputs = {"x" + i, "W" + i, "B" + i};
    n.outputs = {"x" + std::to_string(l + 1)};
    n.attributes.push_back(Attribute::make_int("transB", 1));
    m.graph.nodes.push_back(n);
  }
  m.graph.outputs.push_back(f32_value("x" + std::to_string(kLayers)));
  return m;
}

uint64_t files_bytes(const std::string& path) {
  uint64_t n = fs::file_size(path);
  if (fs::exists(path + ".data")) n += fs::file_size(path + ".data");
  return n;
}

void drop_from_page_cache(const std::string& path) {
  for (const std::string& p : {path, path + ".data"}) {
    const int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// Child mode: read `path`, print a JSON object with the timings and memory.
int read_mode(const std::string& path) {
  const double t0 = now_s();
  Expected<Model> m = read_onnx(path);
  const double t1 = now_s();
  if (!m) {
    std::fprintf(stderr, "%s\n", m.status().message().c_str());
    return 1;
  }
  const double rss_after_read = proc_status_mb("VmRSS:"), hwm_after_read = proc_status_mb("VmHWM:");
  int mapped = 0, copied = 0;
  uint64_t sum = 0, bytes = 0;
  for (const Tensor& t : m->graph.initializers) {
    (t.is_mapped() ? mapped : copied) += 1;
    const auto* p = reinterpret_cast<const uint64_t*>(t.bytes());
    for (size_t k = 0; k < t.nbytes() / 8; ++k) sum += p[k];
    bytes += t.nbytes();
  }
  const double t2 = now_s();
  std::printf("{\"read_s\": %.4f, \"read_mb_per_s\": %.1f, \"read_and_touch_s\": %.4f, "
              "\"read_and_touch_mb_per_s\": %.1f, \"rss_mb_after_read\": %.1f, \"peak_rss_mb_after_read\": %.1f, "
              "\"peak_rss_mb_after_touch\": %.1f, \"tensors_mapped\": %d, \"tensors_copied\": %d, "
              "\"checksum\": %llu}",
              t1 - t0, static_cast<double>(bytes) / 1e6 / (t1 - t0), t2 - t0,
              static_cast<double>(bytes) / 1e6 / (t2 - t0), rss_after_read, hwm_after_read,
              proc_status_mb("VmHWM:"), mapped, copied, static_cast<unsigned long long>(sum));
  return 0;
}

// Runs this program in read mode on `path`; returns its JSON ("null" on failure).
std::string measure_read(const std::string& self, const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return "null";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::execl(self.c_str(), self.c_str(), "--read", path.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && !out.empty() ? out : "null";
}

std::string timed_write(const Model& m, const std::string& path, ExternalDataMode mode) {
  OnnxWriteOptions o;
  o.external_data = mode;
  const double t0 = now_s();
  Status st = write_onnx(m, path, o);
  const double t1 = now_s();
  if (!st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return "null";
  }
  const uint64_t bytes = files_bytes(path);
  char buf[256];
  std::snprintf(buf, sizeof buf, "{\"seconds\": %.4f, \"bytes\": %llu, \"mb_per_s\": %.1f}", t1 - t0,
                static_cast<unsigned long long>(bytes), static_cast<double>(bytes) / 1e6 / (t1 - t0));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--read") return read_mode(argv[2]);
  const fs::path base = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path();
  const fs::path dir = base / ("onnx_io_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string inline_path = (dir / "inline.onnx").string();
  const std::string external_path = (dir / "external.onnx").string();

  std::string write_inline, write_external;
  {
    const Model m = make_model();
    write_inline = timed_write(m, inline_path, ExternalDataMode::kNever);
    write_external = timed_write(m, external_path, ExternalDataMode::kAlways);
  }  // the model's 1 GiB is freed before the reads run
  const std::string read_inline_warm = measure_read(self, inline_path);
  const std::string read_external_warm = measure_read(self, external_path);
  drop_from_page_cache(inline_path);
  const std::string read_inline_cold = measure_read(self, inline_path);
  drop_from_page_cache(external_path);
  const std::string read_external_cold = measure_read(self, external_path);

  std::printf("{\n  \"model\": \"%d x Gemm %lldx%lld f32\",\n  \"write_inline\": %s,\n  \"write_external\": %s,\n"
              "  \"read_inline_warm\": %s,\n  \"read_external_warm\": %s,\n  \"read_inline_cold\": %s,\n"
              "  \"read_external_cold\": %s\n}\n",
              kLayers, static_cast<long long>(kDim), static_cast<long long>(kDim), write_inline.c_str(),
              write_external.c_str(), read_inline_warm.c_str(), read_external_warm.c_str(),
              read_inline_cold.c_str(), read_external_cold.c_str());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
