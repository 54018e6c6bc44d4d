// `bitsmith compress` (compress/compress.h): recipe -> model + measured report.
#include "bitsmith/compress/compress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "bitsmith/compress/data.h"
#include "bitsmith/core/progress.h"
#include "bitsmith/io/atomic_file.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/report/provenance.h"
#include "bitsmith/report/render.h"
#include "bitsmith/runtime/bench.h"
#include "compress/compress_internal.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;
using compress_detail::make_executor;

// Bytes on disk of a model file plus the external-data files written beside it.
int64_t files_bytes(const fs::path& dir) {
  int64_t n = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) n += static_cast<int64_t>(e.file_size());
  return n;
}

int64_t file_bytes(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json fidelity_json(const FidelityMetrics& f) {
  return {{"samples", f.rows},         {"top1_agreement", f.top1_agreement}, {"cosine", num(f.cosine)},
          {"sqnr_db", num(f.sqnr_db)}, {"max_abs_err", num(f.max_abs_err)},  {"kld_mean", num(f.kld_mean)},
          {"kld_p99", num(f.kld_p99)}};
}

nlohmann::json latency_json(const LatencyStats& s) {
  return {{"p50_ms", s.p50_ms}, {"p90_ms", s.p90_ms}, {"mean_ms", s.mean_ms}, {"min_ms", s.min_ms}};
}

// One gate row; `value` null (not measurable) fails the gate.
nlohmann::json gate(const char* name, double limit, const nlohmann::json& value, bool at_most) {
  const bool passed = value.is_number() && (at_most ? value.get<double>() <= limit : value.get<double>() >= limit);
  return {{"name", name}, {"limit", limit}, {"value", value}, {"passed", passed}};
}

nlohmann::json check_gates(const RecipeGates& g, const nlohmann::json& report) {
  auto at = [&](const char* pointer) {
    const nlohmann::json::json_pointer p(pointer);
    return report.contains(p) ? report.at(p) : nlohmann::json();
  };
  nlohmann::json gates = nlohmann::json::array();
  if (g.max_top1_drop_pt) gates.push_back(gate("max_top1_drop_pt", *g.max_top1_drop_pt, at("/accuracy/top1_drop_pt"), true));
  if (g.max_kld_mean) gates.push_back(gate("max_kld_mean", *g.max_kld_mean, at("/fidelity/kld_mean"), true));
  if (g.min_size_ratio) gates.push_back(gate("min_size_ratio", *g.min_size_ratio, at("/size/ratio"), false));
  if (g.max_latency_ratio) gates.push_back(gate("max_latency_ratio", *g.max_latency_ratio, at("/latency/ratio"), true));
  if (g.min_top1_agreement)
    gates.push_back(gate("min_top1_agreement", *g.min_top1_agreement, at("/fidelity/top1_agreement"), false));
  if (g.max_kld_p99) gates.push_back(gate("max_kld_p99", *g.max_kld_p99, at("/fidelity/kld_p99"), true));
  if (g.min_bsm_size_ratio)
    gates.push_back(gate("min_bsm_size_ratio", *g.min_bsm_size_ratio, at("/size/bsm/ratio"), false));
  return gates;
}

// Feeds for timing: the first `batch` rows of the data, else seeded random rows.
Expected<NamedTensors> latency_feeds(const Executor& ex, const Tensor* data, int64_t batch, uint64_t seed) {
  if (data && data->dim(0) >= batch) return NamedTensors{{ex.inputs().at(0).name, slice_rows(*data, 0, batch)}};
  return make_random_feeds(ex.inputs(), static_cast<int>(batch), seed);
}

// A staging folder inside the output folder, removed on scope exit unless released.
class Staging {
 public:
  explicit Staging(fs::path out) : out_(std::move(out)), dir_(out_ / (".bitsmith-staging-" + std::to_string(getpid()))) {}
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (created_out_ && fs::is_empty(out_, ec)) fs::remove(out_, ec);
  }
  Status create() {
    std::error_code ec;
    created_out_ = !fs::exists(out_, ec);
    fs::create_directories(dir_, ec);
    if (ec) return io_error(out_.string() + ": cannot create the output folder: " + ec.message());
    return Status::ok();
  }
  const fs::path& dir() const { return dir_; }
  // Moves every staged file into the output folder (same file system: atomic renames).
  Status publish() {
    for (const fs::directory_entry& e : fs::directory_iterator(dir_)) {
      std::error_code ec;
      fs::rename(e.path(), out_ / e.path().filename(), ec);
      if (ec) return io_error((out_ / e.path().filename()).string() + ": cannot move into place: " + ec.message());
    }
    created_out_ = false;
    return Status::ok();
  }

 private:
  fs::path out_, dir_;
  bool created_out_ = false;
};

Status write_text(const fs::path& path, const std::string& text) {
  return write_file_atomic(path.string(), text.data(), text.size());
}

}  // namespace

nlohmann::json report_without_timing(const nlohmann::json& report) {
  nlohmann::json r = report;
  r.erase("timing");
  if (r.contains("latency") && r["latency"].is_object())
    for (const char* k : {"before", "after", "ratio"}) r["latency"].erase(k);
  if (r.contains("passes"))
    for (nlohmann::json& p : r["passes"]) p.erase("wall_ms");
  if (r.contains("gates"))
    for (nlohmann::json& g : r["gates"])
      if (g.value("name", "") == "max_latency_ratio") {
        g.erase("value");
        g.erase("passed");
      }
  r.erase("status");
  return r;
}

Expected<CompressResult> compress(const Recipe& recipe, const CompressOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& model_path = options.model_path;
  // ---- inputs (everything is checked before any work) ----
  BS_ASSIGN_OR_RETURN(std::string model_sha, sha256_file(model_path));
  BS_ASSIGN_OR_RETURN(Model original, load_model(model_path));
  std::optional<Tensor> calib, data, labels;
  if (recipe.calibration) {
    BS_ASSIGN_OR_RETURN(calib, load_input_rows(recipe.resolve(recipe.calibration->data), original, "/calibration/data"));
  }
  if (recipe.evaluation) {
    BS_ASSIGN_OR_RETURN(data, load_input_rows(recipe.resolve(recipe.evaluation->data), original, "/evaluation/data"));
    if (recipe.evaluation->samples > 0 && recipe.evaluation->samples < data->dim(0))
      data = slice_rows(*data, 0, recipe.evaluation->samples);
    if (!recipe.evaluation->labels.empty()) {
      BS_ASSIGN_OR_RETURN(labels, read_npy(recipe.resolve(recipe.evaluation->labels)));
      if (labels->rank() == 0 || labels->dim(0) < data->dim(0))
        return data_error(recipe.resolve(recipe.evaluation->labels) + ": " + std::to_string(labels->rank() ? labels->dim(0) : 0) +
                          " labels for " + std::to_string(data->dim(0)) + " evaluation rows");
      labels = slice_rows(*labels, 0, data->dim(0));
    }
  }
  const int64_t before_bytes = file_bytes(model_path);
  Staging staging(options.out_dir);
  BS_TRY(staging.create());

  // ---- compress ----
  PassManagerOptions po;
  po.seed = recipe.seed;
  po.num_threads = options.threads;
  if (calib) {
    CalibrationData batches = calibration_batches(*calib, original.graph.runtime_inputs()[0]->name,
                                                  recipe.calibration->samples, recipe.calibration->seed,
                                                  recipe.calibration->batch);
    // Progress per pass through the calibration set (a pass may read it more than once).
    const int64_t rows = recipe.calibration->samples > 0 ? std::min(recipe.calibration->samples, calib->dim(0))
                                                         : calib->dim(0);
    const int64_t total = (rows + recipe.calibration->batch - 1) / recipe.calibration->batch;
    const bool show = options.progress;
    po.calibration = [batches, total, show](const BatchVisitor& visit) -> Status {
      Progress progress("calibration", total, show);
      BS_TRY(batches([&](const NamedTensors& b) -> Status {
        BS_TRY(visit(b));
        progress.advance();
        return Status::ok();
      }));
      progress.finish();
      return Status::ok();
    };
  }
  nlohmann::json sensitivity = nullptr, mixed = nullptr;
  compress_detail::PipelineRun run;
  if (recipe.mixed_precision) {
    compress_detail::MixedPrecisionInputs mi{&recipe, &original, &*data, labels ? &*labels : nullptr, po,
                                             options.progress};
    BS_ASSIGN_OR_RETURN(compress_detail::MixedPrecisionOutcome mo, compress_detail::run_mixed_precision(mi));
    sensitivity = to_json(mo.ranking);
    mixed = std::move(mo.report);
    run = std::move(mo.run);
  } else {
    Progress progress("pipeline (" + std::to_string(recipe.pipeline.size()) + " passes)", 1, options.progress);
    BS_ASSIGN_OR_RETURN(run, compress_detail::run_pipeline(original, recipe.pipeline, po));
    progress.advance();
    progress.finish();
    if (recipe.sensitivity.enabled) {
      SensitivityInputs si;
      si.model = &original;
      si.pipeline = recipe.pipeline;
      si.data = data ? &*data : &*calib;
      si.labels = data && labels ? &*labels : nullptr;
      si.calibration = po.calibration;
      si.seed = po.seed;
      si.threads = options.threads;
      si.max_layers = recipe.sensitivity.max_layers;
      si.batch = recipe.evaluation ? recipe.evaluation->batch : 32;
      si.output = recipe.evaluation ? static_cast<int>(recipe.evaluation->output) : 0;
      si.progress = options.progress;
      BS_ASSIGN_OR_RETURN(std::vector<LayerSensitivity> ranking, analyze_sensitivity(si));
      sensitivity = to_json(ranking);
    }
  }
  run.model.set_metadata("bitsmith.recipe", recipe.to_json().dump());
  const fs::path staged_model = staging.dir() / "model.onnx";
  BS_TRY(save_model(run.model, staged_model.string()));
  const int64_t after_bytes = files_bytes(staging.dir());
  int64_t bsm_bytes = -1;
  if (recipe.output.bsm) {
    BS_TRY(save_model(run.model, (staging.dir() / "model.bsm").string()));
    bsm_bytes = file_bytes((staging.dir() / "model.bsm").string());
  }

  // ---- measure the written model against the original ----
  BS_ASSIGN_OR_RETURN(Model written, load_model(staged_model.string()));
  nlohmann::json report;
  report["schema"] = "bitsmith.report/1";
  report["model"] = {{"input", model_path}, {"output", (fs::path(options.out_dir) / "model.onnx").string()}};
  report["size"] = {{"before_bytes", before_bytes},
                    {"after_bytes", after_bytes},
                    {"ratio", after_bytes > 0 ? static_cast<double>(before_bytes) / static_cast<double>(after_bytes) : 0.0},
                    {"tensors", compress_detail::tensor_rows(original, written, run.records)}};
  report["size"]["bsm"] = nullptr;
  if (bsm_bytes > 0)
    report["size"]["bsm"] = {{"path", (fs::path(options.out_dir) / "model.bsm").string()},
                             {"bytes", bsm_bytes},
                             {"ratio", static_cast<double>(before_bytes) / static_cast<double>(bsm_bytes)}};
  report["passes"] = nlohmann::json::array();
  for (const PassRecord& r : run.records) report["passes"].push_back(r.to_json());
  report["fidelity"] = nullptr;
  report["accuracy"] = nullptr;
  {
    BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> before_ex, make_executor(original, options.threads));
    BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> after_ex, make_executor(written, options.threads));
    if (data) {
      EvalOptions eo;
      eo.batch = static_cast<int>(recipe.evaluation->batch);
      eo.output_index = static_cast<int>(recipe.evaluation->output);
      eo.progress = options.progress;
      const Tensor* l = labels ? &*labels : nullptr;
      BS_ASSIGN_OR_RETURN(EvalResult after, evaluate(*after_ex, *data, l, before_ex.get(), eo));
      report["fidelity"] = fidelity_json(*after.fidelity);
      if (l) {
        BS_ASSIGN_OR_RETURN(EvalResult before, compress_detail::evaluate_model(*before_ex, *data, l, eo.batch,
                                                                               eo.output_index, nullptr));
        const AccuracyMetrics& b = *before.accuracy;
        const AccuracyMetrics& a = *after.accuracy;
        report["accuracy"] = {{"samples", a.samples},
                              {"before", {{"top1", b.top1}, {"top5", b.top5}}},
                              {"after", {{"top1", a.top1}, {"top5", a.top5}}},
                              {"top1_drop_pt", (b.top1 - a.top1) * 100.0},
                              {"top5_drop_pt", (b.top5 - a.top5) * 100.0}};
      }
    }
  }
  {
    const int threads = static_cast<int>(recipe.latency.threads);
    BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> before_ex, make_executor(original, threads));
    BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> after_ex, make_executor(written, threads));
    const Tensor* rows = data ? &*data : calib ? &*calib : nullptr;
    BS_ASSIGN_OR_RETURN(NamedTensors feeds, latency_feeds(*before_ex, rows, recipe.latency.batch, recipe.seed));
    BenchOptions bo;
    bo.batch = static_cast<int>(recipe.latency.batch);
    bo.warmup = static_cast<int>(recipe.latency.warmup);
    bo.iters = static_cast<int>(recipe.latency.iters);
    bo.seed = recipe.seed;
    Progress progress("latency", 1, options.progress);
    BS_ASSIGN_OR_RETURN(std::vector<LatencyStats> lat,
                        bench_interleaved({before_ex.get(), after_ex.get()}, {feeds, feeds}, bo));
    progress.advance();
    progress.finish();
    report["latency"] = {{"threads", before_ex->num_threads()},
                         {"batch", recipe.latency.batch},
                         {"iters", recipe.latency.iters},
                         {"before", latency_json(lat[0])},
                         {"after", latency_json(lat[1])},
                         {"ratio", lat[0].p50_ms > 0 ? lat[1].p50_ms / lat[0].p50_ms : 0.0}};
  }
  report["sensitivity"] = sensitivity;
  report["mixed_precision"] = mixed;
  report["gates"] = check_gates(recipe.gates, report);
  CompressResult result;
  for (const nlohmann::json& g : report["gates"])
    if (!g["passed"].get<bool>())
      result.failed_gates.push_back(g["name"].get<std::string>() + ": " + g["value"].dump() + " vs limit " +
                                    g["limit"].dump());
  report["status"] = result.failed_gates.empty() ? "passed" : "failed";
  const std::string canonical = recipe.to_json().dump();
  report["provenance"] = {{"tool", "bitsmith"},
                          {"version", BITSMITH_VERSION},
                          {"recipe", recipe.to_json()},
                          {"recipe_source", recipe.source},
                          {"recipe_sha256", sha256_hex(canonical)},
                          {"model_sha256", model_sha},
                          {"seed", recipe.seed},
                          {"machine", to_json(machine_info())}};
  report["timing"] = {
      {"total_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()}};

  // ---- write ----
  BS_TRY(write_text(staging.dir() / "report.json", report.dump(2) + "\n"));
  BS_TRY(write_text(staging.dir() / "report.md", render_markdown(report)));
  BS_TRY(write_text(staging.dir() / "report.html", render_html(report)));
  BS_TRY(staging.publish());
  const fs::path out(options.out_dir);
  result.model_file = (out / "model.onnx").string();
  result.report_json = (out / "report.json").string();
  result.report_md = (out / "report.md").string();
  result.report_html = (out / "report.html").string();
  result.report = std::move(report);
  return result;
}

}  // namespace bitsmith
