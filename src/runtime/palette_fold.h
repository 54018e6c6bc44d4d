// Executor load-time decoding of palettized weights (what the `cluster` pass writes):
//
//   W_indices (uint8 initializer) -> Cast(to=INT32) [-> Add(., int32 initializer)]
//                                 -> Gather(codebook f32 initializer, ., axis) -> consumers
//
// The chain is evaluated once, at load, with the runtime's own kernels, and its Gather output
// becomes an f32 initializer; the chain's nodes are removed. Outputs are therefore identical to
// running the chain every time, and a run no longer pays for the decode. A chain is folded only
// when its intermediate values (Cast / Add outputs) have exactly one reader and none of them,
// nor the Gather output, is a graph output.
#pragma once

#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

// Rewrites `graph` in place; returns the names of the Gather outputs turned into initializers.
// `opsets` gives each node's opset (for the kernel lookup). Errors: a kernel that fails (naming
// the node), which means a malformed chain (an index out of the codebook's range).
Expected<std::vector<std::string>> fold_palette_weights(Graph& graph, const std::vector<OpsetImport>& opsets,
                                                        int num_threads);

}  // namespace bitsmith
