#include "common/error.h"

namespace hare {

std::string Location::str() const {
  if (file.empty()) return {};
  if (line <= 0) return file;
  if (column <= 0) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{}:{}", file, line, column);
}

namespace {
std::string compose(const Location& location, const std::string& message) {
  const std::string where = location.str();
  return where.empty() ? message : where + ": " + message;
}
}  // namespace

Error::Error(Kind kind, std::string message, Location location, std::string hint)
    : std::runtime_error(compose(location, message)),
      kind_(kind),
      message_(std::move(message)),
      location_(std::move(location)),
      hint_(std::move(hint)) {}

Error& Error::with_source_line(std::string line) {
  source_line_ = std::move(line);
  return *this;
}

Error& Error::with_hint(std::string hint) {
  hint_ = std::move(hint);
  return *this;
}

Error& Error::with_more(std::vector<Error> more) {
  more_ = std::move(more);
  return *this;
}

void ErrorList::throw_if_any() {
  if (errors_.empty()) return;
  Error first = errors_.front();
  std::vector<Error> rest(errors_.begin() + 1, errors_.end());
  errors_.clear();
  first.with_more(std::move(rest));
  throw first;
}

ExitCode Error::exit_code() const {
  switch (kind_) {
    case Kind::failure: return ExitCode::failure;
    case Kind::input: return ExitCode::usage;
    case Kind::interrupted: return ExitCode::interrupted;
  }
  return ExitCode::failure;
}

}  // namespace hare
