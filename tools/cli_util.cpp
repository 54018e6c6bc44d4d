#include "cli_util.h"

#include <omp.h>

#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"

namespace bitsmith::tools {

Expected<NamedTensors> load_feeds(const std::vector<std::string>& flags, const std::vector<ValueInfo>& inputs) {
  NamedTensors feeds;
  for (const std::string& flag : flags) {
    std::string name, file;
    const auto eq = flag.find('=');
    if (eq == std::string::npos) {
      if (inputs.size() != 1)
        return invalid_argument("--input " + flag + ": the model has " + std::to_string(inputs.size()) +
                                " inputs; use --input NAME=FILE.npy");
      name = inputs[0].name;
      file = flag;
    } else {
      name = flag.substr(0, eq);
      file = flag.substr(eq + 1);
    }
    bool known = false;
    for (const ValueInfo& v : inputs) known = known || v.name == name;
    if (!known) {
      std::string names;
      for (const ValueInfo& v : inputs) names += (names.empty() ? "" : ", ") + v.name;
      return invalid_argument("--input " + flag + ": the model has no input '" + name + "' (inputs: " + names + ")");
    }
    Expected<Tensor> t = read_array(file);
    if (!t) return t.status();
    Tensor tensor = std::move(t).value();
    tensor.set_name(name);
    feeds.emplace_back(name, std::move(tensor));
  }
  return feeds;
}

std::string safe_file_name(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  if (out.empty() || out == "." || out == "..") out = "output";
  return out;
}

Expected<std::unique_ptr<Executor>> load_executor(const std::string& path, int threads) {
  Expected<Model> model = load_model(path);
  if (!model) return model.status();
  ExecutorOptions options;
  options.num_threads = resolve_threads(threads);
  auto exec = Executor::create(*model, options);
  if (!exec) return exec.status().with_context(path);
  return exec;
}

int resolve_threads(int threads_flag) { return threads_flag > 0 ? threads_flag : omp_get_max_threads(); }

}  // namespace bitsmith::tools
