// ONNX backend conformance runner: runs ONNX's own operator test cases through the Executor.
//
// For every case folder under <data>/node and <data>/simple (default data: the shared
// onnx-node-tests folder): read model.onnx; if any op type it uses has no kernel
// (kernel_registry.h) the case is "skipped (op not claimed)". Otherwise every test_data_set_N is
// run: input_K.pb fed to the K-th runtime input, each output compared with output_K.pb
// (tensor_compare.h). A claimed case may be skipped only when skips.txt lists it with a reason.
//
// Prints FAIL lines, a per-operator table (op, pass, fail, skip) and a last line
// "N passed, M failed, K skipped". Exit status: 0 when no claimed case failed, 1 otherwise,
// 2 on a usage or skip-list error, 77 when the data folder is missing (ctest SKIP_RETURN_CODE).
//
// Usage: onnx_node_tests [--filter SUBSTR] [--verbose] [--threads N] [--run-skipped]
//                        [--data DIR] [--skips FILE]
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/shape_inference.h"
#include "bitsmith/runtime/executor.h"
#include "bitsmith/runtime/kernel_registry.h"
#include "tensor_compare.h"

namespace fs = std::filesystem;

namespace bitsmith::conformance {
namespace {

struct Options {
  std::string filter;
  bool verbose = false;
  bool run_skipped = false;
  int threads = 0;
  std::string data_dir = BITSMITH_SOURCE_DIR "/../shared/onnx-node-tests";
  std::string skips_file = BITSMITH_SOURCE_DIR "/tests/conformance/skips.txt";
};

enum class Outcome { kPass, kFail, kSkipped };

struct CaseResult {
  Outcome outcome = Outcome::kSkipped;
  std::string op;      // the row of the per-operator table
  std::string reason;  // why it failed or was skipped
};

bool parse_args(int argc, char** argv, Options& opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--verbose" || a == "-v") opt.verbose = true;
    else if (a == "--run-skipped") opt.run_skipped = true;
    else if (a == "--filter") { if (!value(opt.filter)) return false; }
    else if (a == "--data") { if (!value(opt.data_dir)) return false; }
    else if (a == "--skips") { if (!value(opt.skips_file)) return false; }
    else if (a == "--threads") {
      if (!value(v)) return false;
      opt.threads = std::atoi(v.c_str());
    } else {
      return false;
    }
  }
  return true;
}

// skips.txt: "case_name  reason" per line; '#' starts a comment line. Error on a line with no reason.
bool read_skips(const std::string& path, std::map<std::string, std::string>& skips) {
  std::ifstream in(path);
  if (!in) return true;  // no file: nothing skipped
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t end_name = line.find_first_of(" \t", start);
    const size_t reason_at = end_name == std::string::npos ? end_name : line.find_first_not_of(" \t", end_name);
    if (reason_at == std::string::npos) {
      std::fprintf(stderr, "%s:%d: expected 'case_name  reason'\n", path.c_str(), line_no);
      return false;
    }
    skips[line.substr(start, end_name - start)] = line.substr(reason_at);
  }
  return true;
}

void collect_ops(const Graph& g, std::set<std::pair<std::string, std::string>>& ops) {
  for (const Node& n : g.nodes) {
    ops.insert({n.domain == "ai.onnx" ? "" : n.domain, n.op_type});
    for (const Attribute& a : n.attributes) {
      if (a.g) collect_ops(*a.g, ops);
      for (const auto& sub : a.graphs)
        if (sub) collect_ops(*sub, ops);
    }
  }
}

bool op_claimed(const std::string& domain, const std::string& op) {
  for (const KernelEntry& e : kernel_table())
    if (domain == e.domain && op == e.op_type) return true;
  return false;
}

// "LayerNormalization" -> "layer_normalization" (how ONNX names its test cases).
std::string snake(const std::string& op) {
  std::string s;
  for (size_t i = 0; i < op.size(); ++i) {
    const char c = op[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      const bool after_lower = i > 0 && !std::isupper(static_cast<unsigned char>(op[i - 1]));
      const bool before_lower = i + 1 < op.size() && std::islower(static_cast<unsigned char>(op[i + 1]));
      if (i > 0 && (after_lower || before_lower)) s += '_';
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      s += c;
    }
  }
  return s;
}

// The table row of a case: the model's op whose snake name best prefixes the case name, else
// the first node's op.
std::string primary_op(const std::string& case_name, const Model& model,
                       const std::set<std::pair<std::string, std::string>>& ops) {
  std::string best;
  size_t best_len = 0;
  const std::string stem = case_name.rfind("test_", 0) == 0 ? case_name.substr(5) : case_name;
  for (const auto& [domain, op] : ops) {
    const std::string s = snake(op);
    if (stem.rfind(s, 0) == 0 && s.size() > best_len) {
      best = op;
      best_len = s.size();
    }
  }
  if (!best.empty()) return best;
  return model.graph.nodes.empty() ? "(no nodes)" : model.graph.nodes[0].op_type;
}

std::vector<fs::path> data_sets(const fs::path& case_dir) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(case_dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

size_t count_files(const fs::path& dir, const std::string& prefix) {
  size_t n = 0;
  while (fs::exists(dir / (prefix + std::to_string(n) + ".pb"))) ++n;
  return n;
}

// ONNX stores bfloat16 test data as uint16 tensors holding the bf16 bits (numpy has no bfloat16).
// Returns `t` reinterpreted as bf16 when it is such a tensor and `declared` is bf16.
Tensor bf16_from_u16_bits(Tensor t, DType declared) {
  if (declared != DType::kBF16 || t.dtype() != DType::kU16 || !t.storage()) return t;
  std::byte* data = t.mutable_bytes();
  return Tensor::view(DType::kBF16, t.shape(), t.storage(), data, t.name());
}

// Outputs whose inferred dtype and shape were checked against the run (see below).
int64_t g_shape_checks = 0;

// Static shape inference, given the feeds' shapes, must agree with every output it claims to
// know (dtype and every dim). "" when it does.
std::string check_inferred_shapes(const Model& model, const NamedTensors& feeds, const std::vector<Tensor>& outs) {
  ShapeInferenceOptions sopt;
  for (const auto& [name, t] : feeds) sopt.input_shapes.emplace_back(name, t.shape());
  auto inferred = infer_shapes(model, sopt);
  if (!inferred.is_ok()) return "shape inference: " + inferred.status().message();
  for (size_t k = 0; k < outs.size() && k < model.graph.outputs.size(); ++k) {
    auto it = inferred->types.find(model.graph.outputs[k].name);
    if (it == inferred->types.end()) continue;
    const TypeInfo& t = it->second;
    if (t.elem_type != DType::kUndefined && t.elem_type != outs[k].dtype())
      return "shape inference: output " + std::to_string(k) + " inferred dtype " + std::string(dtype_name(t.elem_type)) +
             ", ran " + std::string(dtype_name(outs[k].dtype()));
    if (!t.has_shape) continue;
    bool mismatch = t.dims.size() != outs[k].shape().size();
    for (size_t d = 0; !mismatch && d < t.dims.size(); ++d)
      mismatch = t.dims[d].has_value() && t.dims[d].value != outs[k].shape()[d];
    if (mismatch) {
      std::string dims;
      for (const Dim& d : t.dims) dims += (dims.empty() ? "" : ",") + (d.has_value() ? std::to_string(d.value) : "?");
      return "shape inference: output " + std::to_string(k) + " inferred [" + dims + "], ran " +
             shape_str(outs[k].shape());
    }
    ++g_shape_checks;
  }
  return "";
}

// Runs one data set; "" when it matches, else the failure reason.
std::string run_data_set(const Model& model, Executor& exec, const fs::path& set_dir, const Options& opt) {
  const std::string set_name = set_dir.filename().string();
  const size_t n_in = count_files(set_dir, "input_");
  if (n_in != exec.inputs().size())
    return set_name + ": " + std::to_string(n_in) + " input files for " + std::to_string(exec.inputs().size()) +
           " runtime inputs";
  NamedTensors feeds;
  for (size_t k = 0; k < n_in; ++k) {
    auto t = read_tensor_proto_file((set_dir / ("input_" + std::to_string(k) + ".pb")).string());
    if (!t.is_ok()) return set_name + ": " + t.status().message();
    feeds.emplace_back(exec.inputs()[k].name, bf16_from_u16_bits(std::move(*t), exec.inputs()[k].type.elem_type));
  }
  auto outs = exec.run(feeds);
  if (!outs.is_ok()) return set_name + ": run: " + outs.status().message();
  if (std::string bad = check_inferred_shapes(model, feeds, *outs); !bad.empty()) return set_name + ": " + bad;
  const size_t n_out = count_files(set_dir, "output_");
  if (n_out != outs->size())
    return set_name + ": " + std::to_string(outs->size()) + " outputs, " + std::to_string(n_out) + " expected";
  for (size_t k = 0; k < n_out; ++k) {
    auto want = read_tensor_proto_file((set_dir / ("output_" + std::to_string(k) + ".pb")).string());
    if (!want.is_ok()) return set_name + ": " + want.status().message();
    const Tensor expected = bf16_from_u16_bits(std::move(*want), (*outs)[k].dtype());
    const CompareResult r = compare_tensors((*outs)[k], expected, Tolerance{});
    if (r.equal) continue;
    std::string msg = set_name + ": output " + std::to_string(k) + " '" + (*outs)[k].name() + "': " + r.summary;
    if (opt.verbose && !r.first_detail.empty()) msg += "; " + r.first_detail;
    return msg;
  }
  return "";
}

CaseResult run_case(const fs::path& case_dir, const Options& opt, const std::map<std::string, std::string>& skips) {
  CaseResult res;
  const std::string name = case_dir.filename().string();
  OnnxReadOptions ropt;
  ropt.verify_graph = false;  // unclaimed cases may hold constructs the verifier refuses
  auto model = read_onnx((case_dir / "model.onnx").string(), ropt);
  if (!model.is_ok()) {
    res.op = "(unreadable)";
    res.outcome = Outcome::kFail;
    res.reason = model.status().message();
    return res;
  }
  std::set<std::pair<std::string, std::string>> ops;
  collect_ops(model->graph, ops);
  res.op = primary_op(name, *model, ops);
  for (const auto& [domain, op] : ops)
    if (!op_claimed(domain, op)) {
      res.reason = "op not claimed: " + (domain.empty() ? op : domain + "." + op);
      return res;
    }
  if (auto it = skips.find(name); it != skips.end() && !opt.run_skipped) {
    res.reason = "skips.txt: " + it->second;
    return res;
  }
  res.outcome = Outcome::kFail;
  ExecutorOptions eopt;
  eopt.num_threads = opt.threads;
  eopt.check_finite_inputs = false;  // NaN and Inf are legitimate test inputs
  auto exec = Executor::create(*model, eopt);
  if (!exec.is_ok()) {
    res.reason = "load: " + exec.status().message();
    return res;
  }
  for (const fs::path& set : data_sets(case_dir)) {
    res.reason = run_data_set(*model, **exec, set, opt);
    if (!res.reason.empty()) return res;
  }
  res.outcome = Outcome::kPass;
  return res;
}

struct Row {
  int pass = 0, fail = 0, skip = 0;
};

void print_table(const std::map<std::string, Row>& table) {
  std::printf("\n%-32s %6s %6s %6s\n", "op", "pass", "fail", "skip");
  Row total;
  for (const auto& [op, row] : table) {
    std::printf("%-32s %6d %6d %6d\n", op.c_str(), row.pass, row.fail, row.skip);
    total.pass += row.pass;
    total.fail += row.fail;
    total.skip += row.skip;
  }
  std::printf("%-32s %6d %6d %6d\n", "total", total.pass, total.fail, total.skip);
  std::printf("%d passed, %d failed, %d skipped\n", total.pass, total.fail, total.skip);
}

int run_all(const Options& opt) {
  std::map<std::string, std::string> skips;
  if (!read_skips(opt.skips_file, skips)) return 2;
  if (!fs::is_directory(opt.data_dir + "/node")) {
    std::printf("conformance data not found at %s; nothing run\n", opt.data_dir.c_str());
    return 77;
  }
  std::vector<fs::path> cases;
  for (const char* sub : {"node", "simple"}) {
    const fs::path dir = fs::path(opt.data_dir) / sub;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().find(opt.filter) != std::string::npos)
        cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  std::map<std::string, Row> table;
  std::set<std::string> seen;
  std::map<std::string, std::string> op_of_case;
  for (const fs::path& c : cases) {
    const std::string name = c.filename().string();
    seen.insert(name);
    const auto t0 = std::chrono::steady_clock::now();
    CaseResult r = run_case(c, opt, skips);
    // "test_x_expanded" is test_x's op written as a function body: count it under test_x's op.
    const std::string kExpanded = "_expanded";
    if (name.size() > kExpanded.size() && name.ends_with(kExpanded)) {
      auto base = op_of_case.find(name.substr(0, name.size() - kExpanded.size()));
      if (base != op_of_case.end()) r.op = base->second;
    }
    op_of_case[name] = r.op;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    Row& row = table[r.op];
    if (r.outcome == Outcome::kPass) ++row.pass;
    if (r.outcome == Outcome::kFail) ++row.fail;
    if (r.outcome == Outcome::kSkipped) ++row.skip;
    if (r.outcome == Outcome::kFail) std::printf("FAIL %s: %s\n", name.c_str(), r.reason.c_str());
    else if (opt.verbose)
      std::printf("%s %s (%.1f ms)%s%s\n", r.outcome == Outcome::kPass ? "pass" : "skip", name.c_str(), ms,
                  r.reason.empty() ? "" : ": ", r.reason.c_str());
  }
  if (opt.filter.empty())
    for (const auto& [name, reason] : skips)
      if (!seen.count(name)) std::printf("note: skips.txt names '%s', which is not a case\n", name.c_str());
  print_table(table);
  std::printf("shape inference agreed with the run on %lld outputs\n", static_cast<long long>(g_shape_checks));
  int failed = 0;
  for (const auto& [op, row] : table) failed += row.fail;
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace bitsmith::conformance

int main(int argc, char** argv) {
  bitsmith::conformance::Options opt;
  if (!bitsmith::conformance::parse_args(argc, argv, opt)) {
    std::fprintf(stderr,
                 "usage: onnx_node_tests [--filter SUBSTR] [--verbose] [--threads N] [--run-skipped] "
                 "[--data DIR] [--skips FILE]\n");
    return 2;
  }
  return bitsmith::conformance::run_all(opt);
}
