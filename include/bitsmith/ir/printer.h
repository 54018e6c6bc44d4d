// Deterministic text dump of a model, for golden tests and `bitsmith inspect --graph`.
//
// Storage location (inline, external file, mmap) is NOT part of the text, so a model written
// with or without external data prints the same. Tensor contents appear as dtype, shape and a
// 64-bit FNV-1a hash of their bytes (strings: of each string), so equal text means equal bytes.
#pragma once

#include <string>

#include "bitsmith/ir/graph.h"

namespace bitsmith {

std::string print_model(const Model& model);
std::string print_graph(const Graph& graph, int indent = 0);

}  // namespace bitsmith
