// What `bitsmith inspect` shows: a model's interface, op histogram, parameters and bytes.
//
// Parameters are the elements of all initializers (dense and sparse: values counted) and of
// Constant-node tensors, in the main graph and in subgraphs. Bytes are storage bytes
// (storage_nbytes), by dtype.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct TensorSummary {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  int64_t numel = 0;
  size_t nbytes = 0;
};

struct ModelSummary {
  std::string producer;          // "name version"
  int64_t ir_version = 0;
  std::vector<OpsetImport> opsets;
  std::vector<ValueInfo> inputs;   // runtime inputs (initializers excluded)
  std::vector<ValueInfo> outputs;
  int64_t node_count = 0;
  std::map<std::string, int64_t> ops;            // op type (domain-qualified if not default) -> count
  int64_t params = 0;
  std::map<std::string, int64_t> bytes_by_dtype;  // dtype name -> bytes
  std::map<std::string, int64_t> params_by_dtype;
  std::vector<TensorSummary> largest;             // up to 10, by bytes, ties by name
};

ModelSummary summarize(const Model& model);

// "float32[batch, 3, 224, 224]"-style type text: dtype name then dims (params by name, '?' unknown).
std::string type_str(const TypeInfo& type);

// Stable JSON (keys documented in the README): params, bytes_by_dtype, ops, inputs, outputs,
// plus producer, ir_version, opsets, node_count, params_by_dtype, largest.
nlohmann::json to_json(const ModelSummary& summary);
// Human-readable text for the terminal.
std::string to_text(const ModelSummary& summary);

}  // namespace bitsmith
