#pragma once

// Reads a text file line by line, gzip-compressed or not (zlib detects the
// format), keeping the 1-based line number for error messages. Linear in the
// file's size whatever its lines look like; a line longer than
// kMaxLineBytes is refused (a recording's lines are a few hundred bytes: a
// longer one is not a recording, and a few KB of gzip can hold a 256 MiB
// line). An interrupt (SIGINT/SIGTERM, see common/diag.h) stops the reading
// between blocks of 64 KiB.

#include <string>
#include <string_view>

namespace hare::data {

class LineReader {
 public:
  static constexpr size_t kMaxLineBytes = 1 << 20;

  // Throws an input Error naming the file if it cannot be opened.
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its line terminator; false at end of file.
  // Throws an input Error on a truncated or corrupt gzip stream, a line over
  // kMaxLineBytes or more than INT_MAX lines (file:line); an interrupted
  // Error when interrupted.
  bool next(std::string_view& line);
  int line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();

  std::string path_;
  void* file_ = nullptr;  // gzFile
  std::string buffer_;
  size_t position_ = 0;
  bool eof_ = false;
  std::string line_;
  int line_number_ = 0;
};

}  // namespace hare::data
