#!/usr/bin/python3
"""Runs ONNX's own checker on model files (interop check for bitsmith's ONNX writer).

Usage:
  onnx_check.py FILE...              every FILE must pass
  onnx_check.py --pairs-file LIST    LIST holds lines "ORIGINAL<TAB>WRITTEN": WRITTEN must pass,
                                     unless the checker rejects ORIGINAL too (then it is skipped
                                     and counted: this onnx version does not know that op/opset)

Each file is loaded with its external data (onnx.load, paths relative to the file's folder) and
checked with onnx.checker.check_model(path, full_check=False). In --pairs-file mode ONNX must
also decode the same tensors from WRITTEN as from ORIGINAL (every initializer and tensor
attribute, subgraphs included: name, dtype, dims and numpy_helper.to_array bytes). Prints one
line per failure and a summary line; exit status 0 when nothing failed, 1 otherwise, 2 on usage
errors, 3 when the onnx package is missing.
"""
import sys

try:
    import onnx
    import onnx.checker
    from onnx import numpy_helper
except ImportError:
    print("onnx_check.py: the python 'onnx' package is not installed", file=sys.stderr)
    sys.exit(3)


def check(path):
    """None when `path` passes, else the checker's message (one line)."""
    try:
        onnx.load(path, load_external_data=True)  # parses the file and reads its external data
        onnx.checker.check_model(path, full_check=False)
    except Exception as e:  # noqa: BLE001 - any failure is a rejection
        return f"{type(e).__name__}: {e}".replace("\n", " ")
    return None


def graph_tensors(graph, out):
    """Appends every TensorProto of `graph` (initializers, attribute tensors, subgraphs)."""
    out.extend(graph.initializer)
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                out.append(a.t)
            out.extend(a.tensors)
            if a.HasField("g"):
                graph_tensors(a.g, out)
            for g in a.graphs:
                graph_tensors(g, out)
    return out


def tensor_key(t):
    """What ONNX decodes from a TensorProto; None when this onnx version cannot decode it."""
    try:
        arr = numpy_helper.to_array(t)
    except Exception:  # noqa: BLE001 - e.g. typed complex data in onnx 1.12
        return None
    data = arr.tolist() if arr.dtype == object else arr.tobytes()
    return (t.name, t.data_type, tuple(t.dims), data)


def compare_tensors(original, written):
    """None when ONNX decodes the same tensors from both files, else what differs."""
    a = graph_tensors(onnx.load(original, load_external_data=True).graph, [])
    b = graph_tensors(onnx.load(written, load_external_data=True).graph, [])
    if len(a) != len(b):
        return f"{len(a)} tensors in the original, {len(b)} written"
    for ta, tb in zip(a, b):
        ka = tensor_key(ta)
        if ka is not None and ka != tensor_key(tb):
            return f"tensor '{ta.name}' decodes differently"
    return None


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2 if not argv else 0
    pairs = []
    if argv[0] == "--pairs-file":
        if len(argv) != 2:
            print("onnx_check.py: --pairs-file takes one LIST file", file=sys.stderr)
            return 2
        with open(argv[1], encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                parts = line.split("\t")
                if len(parts) != 2:
                    print(f"{argv[1]}:{n}: expected ORIGINAL<TAB>WRITTEN", file=sys.stderr)
                    return 2
                pairs.append((parts[0], parts[1]))
    else:
        pairs = [(None, p) for p in argv]

    checked = skipped = failed = 0
    for original, written in pairs:
        if original is not None and check(original) is not None:
            skipped += 1
            continue
        checked += 1
        err = check(written)
        if err is None and original is not None:
            err = compare_tensors(original, written)
        if err is not None:
            failed += 1
            origin = f" (from {original})" if original else ""
            print(f"FAIL {written}{origin}: {err}")
    print(f"onnx_check: onnx {onnx.__version__}: {checked} checked, {failed} failed, "
          f"{skipped} skipped (original rejected by this checker)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
