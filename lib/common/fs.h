#pragma once

// File helpers. Writes are atomic (temporary file in the same directory, then
// rename), so an interrupted or failed run never leaves a half-written file
// where a good one was.

#include <optional>
#include <string>
#include <string_view>

namespace hare {

std::string read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::string& content);

// Paths hare derives from input (a plan's slice, a manifest's entry, the
// remote directory) stay inside their root. Two checks, one lexical and
// one on the filesystem:
//
// Why `path` is not a relative path that stays inside whatever it is
// joined to: empty, absolute, or with a ".." component (or a NUL byte).
// Nothing if it is one. Needs no filesystem: readers check it where they
// read the value, with its file:line:col.
std::optional<std::string> relative_path_problem(std::string_view path);

// root/relative as an absolute path with every symlink resolved, checked
// to be inside root (resolved too): refuses what relative_path_problem
// refuses, and a symlink on the way that leads out of root. The file need
// not exist. Throws an input Error at `root` naming `what` (e.g. "stage 2's
// slice") and the path.
std::string resolve_inside(const std::string& root, const std::string& relative, const std::string& what);

}  // namespace hare
