#include "bitsmith/core/status.h"

namespace bitsmith {

Status Status::with_context(const std::string& prefix) const {
  if (is_ok() || prefix.empty()) return *this;
  return Status(code_, prefix + ": " + message_);
}

int Status::exit_code() const {
  switch (code_) {
    case StatusCode::kOk: return 0;
    case StatusCode::kInvalidArgument: return 1;
    case StatusCode::kGateFailed: return 3;
    case StatusCode::kInvalidModel:
    case StatusCode::kIoError:
    case StatusCode::kUnsupported:
    case StatusCode::kDataError:
    case StatusCode::kInternal: return 2;
  }
  return 2;
}

Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
Status invalid_model(std::string m) { return {StatusCode::kInvalidModel, std::move(m)}; }
Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
Status data_error(std::string m) { return {StatusCode::kDataError, std::move(m)}; }
Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

}  // namespace bitsmith
