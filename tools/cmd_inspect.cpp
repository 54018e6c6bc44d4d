// bitsmith inspect MODEL [--json] [--graph]
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bitsmith/io/bsm.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/ir/printer.h"
#include "bitsmith/report/model_summary.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  bool graph = false;
};

bool is_bsm_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".bsm";
}

// Extra "bsm" key of the JSON output for a .bsm file (the summary's keys are unchanged).
nlohmann::json bsm_json(const BsmInfo& info) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const BsmTensorInfo& t : info.tensors)
    tensors.push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"encoding", t.encoding},
                       {"coder", t.coder}, {"tensor_bytes", t.tensor_bytes}, {"stored_bytes", t.stored_bytes}});
  return {{"version", std::to_string(info.major) + "." + std::to_string(info.minor)},
          {"file_bytes", info.file_bytes},
          {"graph_stored_bytes", info.graph_stored_bytes},
          {"graph_decoded_bytes", info.graph_decoded_bytes},
          {"tensors", tensors}};
}

// How each tensor is stored in a .bsm file, after the summary text.
std::string bsm_text(const BsmInfo& info) {
  std::string out = "bsm container: version " + std::to_string(info.major) + "." + std::to_string(info.minor) + ", " +
                    std::to_string(info.file_bytes) + " bytes; graph section " +
                    std::to_string(info.graph_stored_bytes) + " bytes (" + std::to_string(info.graph_decoded_bytes) +
                    " decoded)\n";
  out += "tensor storage (bytes in memory -> bytes in file):\n";
  for (const BsmTensorInfo& t : info.tensors) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.1fx", t.stored_bytes ? static_cast<double>(t.tensor_bytes) / static_cast<double>(t.stored_bytes) : 0.0);
    out += "  " + t.name + ": " + t.dtype + shape_str(t.shape) + " " + t.encoding + " + " + t.coder + ", " +
           std::to_string(t.tensor_bytes) + " -> " + std::to_string(t.stored_bytes) + " (" + ratio + ")\n";
  }
  return out;
}

int run_inspect(const InspectArgs& args) {
  const bool is_bsm = is_bsm_path(args.model);
  BsmInfo bsm_info;
  Expected<Model> model = is_bsm ? read_bsm(args.model, {}, &bsm_info) : load_model(args.model);
  if (!model) return report_error(model.status());
  if (args.graph) {
    std::cout << print_model(*model);
    return 0;
  }
  const ModelSummary summary = summarize(*model);
  if (args.json) {
    nlohmann::json j = to_json(summary);
    if (is_bsm) j["bsm"] = bsm_json(bsm_info);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << to_text(summary);
    if (is_bsm) std::cout << bsm_text(bsm_info);
  }
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model's inputs, outputs, ops, parameters and sizes");
  cmd->add_option("model", args->model, "Model file (.onnx or .bsm)")->required();
  cmd->add_flag("--json", args->json, "Print JSON (stable keys: params, bytes_by_dtype, ops, inputs, outputs)");
  cmd->add_flag("--graph", args->graph, "Print the whole graph as text (the IR printer)");
  cmd->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace bitsmith::tools
