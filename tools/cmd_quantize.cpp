// bitsmith quantize MODEL -o OUT [--preset NAME] [--calib X.npy] [--calib-samples N] [--weights T]
//   [--granularity G] [--block-size N] [--activations M] [--observer O] [--format F]
//   [--exclude GLOB ...] [--seed N] [--threads N] [--json]
// Runs a preset's pipeline (passes/presets.h) through the PassManager; flags override the options
// of its quantize step. Default preset: int8-static with --calib, int8-dynamic without.
// Calibration: --calib holds rows for the model's single input ([N, ...], f32); --calib-samples
// picks that many rows (seeded by --seed, in file order) and they are fed in batches of 32.
// Writes OUT atomically (nothing is written on error). Prints a summary on stdout (--json: one
// JSON object). Exit: 0 ok, 1 bad flags/options, 2 bad model or data.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "bitsmith/compress/data.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/passes/presets.h"
#include "cli_util.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

constexpr int64_t kCalibrationBatch = 32;

struct QuantizeArgs {
  std::string input, output, preset, calib;
  int64_t calib_samples = 0;  // 0: every row
  std::string weights, granularity, activations, observer, format;
  int64_t block_size = 0;     // 0: the preset's
  std::vector<std::string> exclude;
  uint64_t seed = 0;
  int threads = 0;
  bool json = false;
};

// Flags that set quantize options; empty when none was given.
nlohmann::json flag_overrides(const QuantizeArgs& a) {
  nlohmann::json o = nlohmann::json::object();
  if (!a.weights.empty()) o["weights"]["dtype"] = a.weights;
  if (!a.granularity.empty()) o["weights"]["granularity"] = a.granularity;
  if (a.block_size > 0) o["weights"]["block_size"] = a.block_size;
  if (!a.activations.empty()) o["activations"]["mode"] = a.activations;
  if (!a.observer.empty()) o["activations"]["observer"] = a.observer;
  if (!a.format.empty()) o["format"] = a.format;
  // 4-bit or per-block weights imply weight-only when the activations were not chosen.
  if ((a.weights == "int4" || a.weights == "uint4" || a.granularity == "per-block") && a.activations.empty())
    o["activations"]["mode"] = "none";
  return o;
}

// Merges `patch` into `target` object by object (values replace).
void merge(nlohmann::json& target, const nlohmann::json& patch) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->is_object() && target.contains(it.key()) && target[it.key()].is_object()) merge(target[it.key()], *it);
    else target[it.key()] = *it;
  }
}

// The pipeline: the preset's, with the flags applied to its quantize step.
Expected<nlohmann::json> build_pipeline(const QuantizeArgs& a, std::string& preset) {
  preset = !a.preset.empty() ? a.preset : !a.calib.empty() ? "int8-static" : "int8-dynamic";
  BS_ASSIGN_OR_RETURN(nlohmann::json pipeline, preset_pipeline(preset));
  const nlohmann::json flags = flag_overrides(a);
  nlohmann::json* step = nullptr;
  for (nlohmann::json& s : pipeline)
    if (s.value("pass", "") == "quantize") step = &s;
  if (!step) {
    if (!flags.empty() || !a.exclude.empty())
      return invalid_argument("--preset " + preset + " has no quantize step, so --weights, --granularity, --block-size, "
                              "--activations, --observer, --format and --exclude do not apply");
    return pipeline;
  }
  if (!step->contains("options")) (*step)["options"] = nlohmann::json::object();
  merge((*step)["options"], flags);
  if (!a.exclude.empty()) (*step)["scope"]["exclude"]["names"] = a.exclude;
  return pipeline;
}

// Calibration batches from a .npy of rows for the model's single input.
Expected<CalibrationData> load_calibration(const QuantizeArgs& a, const Model& model) {
  BS_ASSIGN_OR_RETURN(Tensor rows, load_input_rows(a.calib, model, "--calib"));
  const std::string name = model.graph.runtime_inputs()[0]->name;
  return calibration_batches(rows, name, a.calib_samples, a.seed, kCalibrationBatch);
}

int64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

int run_quantize(const QuantizeArgs& a) {
  std::string preset;
  Expected<nlohmann::json> pipeline = build_pipeline(a, preset);
  if (!pipeline) return report_error(pipeline.status());
  Expected<PassManager> pm = PassManager::from_json(*pipeline, "/pipeline");
  if (!pm) return report_error(pm.status().with_context("--preset " + preset + " with the flags given"));
  Expected<Model> model = load_model(a.input);
  if (!model) return report_error(model.status());
  PassManagerOptions po;
  po.seed = a.seed;
  po.num_threads = resolve_threads(a.threads);
  if (!a.calib.empty()) {
    Expected<CalibrationData> calib = load_calibration(a, *model);
    if (!calib) return report_error(calib.status());
    po.calibration = std::move(calib).value();
  }
  if (Status s = pm->run(*model, po); !s) return report_error(s.with_context(a.input));
  model->set_metadata("bitsmith.preset", preset);
  model->set_metadata("bitsmith.pipeline", pm->to_json().dump());
  if (Status s = save_model(*model, a.output); !s) return report_error(s);

  int64_t nodes = 0, before = 0, after = 0;
  for (const PassRecord& r : pm->records()) {
    nodes += r.counter("nodes_quantized");
    before += r.counter("bytes_before");
    after += r.counter("bytes_after");
  }
  if (a.json) {
    nlohmann::json j = {{"input", a.input},
                        {"output", a.output},
                        {"preset", preset},
                        {"pipeline", pm->to_json()},
                        {"file_bytes_before", file_size(a.input)},
                        {"file_bytes_after", file_size(a.output)},
                        {"records", pm->records_json()["passes"]}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "preset " << preset << ": wrote " << a.output << "\n";
  for (const PassRecord& r : pm->records()) {
    std::cout << "  " << r.pass << ": " << r.touched.size() << " node(s) changed, " << r.skipped.size()
              << " skipped\n";
    for (const std::string& n : r.notes) std::cout << "    note: " << n << "\n";
  }
  if (nodes > 0)
    std::cout << "  quantized " << nodes << " node(s); weights " << before << " -> " << after << " bytes\n";
  std::cout << "  file " << file_size(a.input) << " -> " << file_size(a.output) << " bytes\n";
  return 0;
}

}  // namespace

void register_quantize(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model with a preset (int8 static/dynamic, int4, fp16, bf16)");
  cmd->add_option("model", a->input, "Input model (.onnx)")->required();
  cmd->add_option("-o,--output", a->output, "Output model (.onnx)")->required();
  cmd->add_option("--preset", a->preset,
                  "One of int8-static, int8-dynamic, int4-weight-only, fp16, bf16 (default: int8-static with --calib, "
                  "int8-dynamic otherwise)");
  cmd->add_option("--calib", a->calib, "Calibration rows for the model's input (.npy, [N, ...])");
  cmd->add_option("--calib-samples", a->calib_samples, "Use N rows of --calib, chosen with --seed (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--weights", a->weights, "Weight type")->check(CLI::IsMember({"int8", "uint8", "int4", "uint4"}));
  cmd->add_option("--granularity", a->granularity, "Weight scales")
      ->check(CLI::IsMember({"per-tensor", "per-channel", "per-block"}));
  cmd->add_option("--block-size", a->block_size, "Elements per block (per-block, 16..256)");
  cmd->add_option("--activations", a->activations, "Activation quantization")
      ->check(CLI::IsMember({"none", "dynamic", "static"}));
  cmd->add_option("--observer", a->observer, "Static range observer")
      ->check(CLI::IsMember({"minmax", "moving-average", "percentile", "entropy", "mse"}));
  cmd->add_option("--format", a->format, "Static graph form")->check(CLI::IsMember({"qdq", "qoperator"}));
  cmd->add_option("--exclude", a->exclude, "Leave nodes whose name matches GLOB in float (repeatable)");
  cmd->add_option("--seed", a->seed, "Seed for sample selection and the passes");
  cmd->add_option("--threads", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "Print a JSON summary (pipeline, per-pass records, file sizes)");
  cmd->callback([a, &exit_code] { exit_code = run_quantize(*a); });
}

}  // namespace bitsmith::tools
