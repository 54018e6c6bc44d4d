// Graph verifier, run by tests after every mutation and by readers after loading.
//
// Checks: every value is defined once (graph input, initializer or node output; initializers
// may also be listed as graph inputs, as ONNX IR < 4 requires); every node input is defined
// before use in node order (or by an enclosing graph, for subgraphs); graph outputs are defined;
// node output names are non-empty-unique; op arity is within the bounds the op schema table
// knows (unknown ops are not arity-checked). Subgraphs (If/Loop/Scan bodies) are verified with
// the enclosing scope's names visible.
#pragma once

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

// Error message names the node ("node 'conv3' (Conv): input 'x' is not defined before use").
Status verify(const Model& model);
Status verify(const Graph& graph);

}  // namespace bitsmith
