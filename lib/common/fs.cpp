#include "common/fs.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace hare {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(Location{path}, "cannot open file (does it exist?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw failure("{}: cannot create directory: {}", target.parent_path().string(), ec.message());
  }
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw failure("{}: cannot write: {}", temp, std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw failure("{}: write failed (disk full?)", temp);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw failure("{}: cannot rename into place: {}", path, reason);
  }
}

std::optional<std::string> relative_path_problem(std::string_view path) {
  if (path.empty()) return "it is empty";
  if (path.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  const std::filesystem::path p{std::string(path)};
  if (p.is_absolute()) return "it is absolute";
  for (const auto& part : p) {
    if (part == "..") return "it goes up with '..'";
  }
  return std::nullopt;
}

std::string resolve_inside(const std::string& root, const std::string& relative, const std::string& what) {
  namespace fs = std::filesystem;
  if (const auto problem = relative_path_problem(relative)) {
    throw input_error(Location{root}, "{} '{}' must be a path inside this directory: {}", what, relative, *problem);
  }
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::absolute(root), ec);
  if (ec) throw input_error(Location{root}, "cannot resolve the directory: {}", ec.message());
  const fs::path resolved = fs::weakly_canonical(base / relative, ec);
  if (ec) throw input_error(Location{root}, "{} '{}': cannot resolve it: {}", what, relative, ec.message());
  // Component by component: "/plan-x" is not inside "/plan".
  auto inside = resolved.begin();
  for (auto part = base.begin(); part != base.end(); ++part, ++inside) {
    if (inside == resolved.end() || *inside != *part) {
      throw input_error(Location{root}, "{} '{}' leads outside this directory (to {})", what, relative, resolved.string())
          .with_hint("a symlink on the way points elsewhere; keep every file of the directory inside it");
    }
  }
  return resolved.string();
}

}  // namespace hare
