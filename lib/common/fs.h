#pragma once

// File helpers. Writes are atomic (temporary file in the same directory, then
// rename), so an interrupted or failed run never leaves a half-written file
// where a good one was.

#include <string>

namespace hare {

std::string read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace hare
