// Renderers for the `bitsmith compress` report (schema "bitsmith.report/1", see the README).
//
// Contract for all three: pure functions of the JSON; deterministic (same JSON -> same bytes);
// never throw, whatever is null, missing or of an unexpected type (shown as "—", or the section
// says it was not run). Names from models are escaped for the output format.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace bitsmith {

// The Markdown summary `compress` prints to stdout: a `| metric | before | after | change |`
// table (file size, top-1/top-5 accuracy when measured, fidelity when measured, latency p50/p90),
// then one "PASS|FAIL gate: value vs limit" line per gate and the overall status line.
std::string render_summary_table(const nlohmann::json& report);

// report.md: title with status, summary, gates, passes (skips grouped by reason), per-tensor
// table, sensitivity, mixed precision, provenance and the canonical recipe as a ```json block.
std::string render_markdown(const nlohmann::json& report);

// report.html: one self-contained file (inline CSS, no JavaScript, no external URLs) with the
// same content as the Markdown plus inline SVG charts (bytes per tensor, SQNR per tensor, layer
// sensitivity); a chart without data is replaced by a sentence. Well-formed XML (XHTML syntax).
std::string render_html(const nlohmann::json& report);

}  // namespace bitsmith
