#include "data/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace hare::data {

LineReader::LineReader(const std::string& path) : path_(path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw input_error(Location{path}, "is a directory, expected a recording file");
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw input_error(Location{path}, "cannot open file: {}", std::strerror(errno));
  }
  gzbuffer(file, 1 << 17);
  file_ = file;
}

LineReader::~LineReader() {
  if (file_ != nullptr) gzclose(static_cast<gzFile>(file_));
}

bool LineReader::fill() {
  if (eof_) return false;
  buffer_.erase(0, position_);
  position_ = 0;
  char chunk[1 << 16];
  const int got = gzread(static_cast<gzFile>(file_), chunk, sizeof chunk);
  if (got < 0) {
    int code = 0;
    const char* message = gzerror(static_cast<gzFile>(file_), &code);
    throw input_error(Location{path_, line_number_ + 1}, "corrupt compressed data ({})", message);
  }
  if (got == 0) {
    int code = 0;
    gzerror(static_cast<gzFile>(file_), &code);
    // zlib reports a truncated gzip stream as Z_BUF_ERROR at the end.
    if (code == Z_BUF_ERROR || code == Z_DATA_ERROR) {
      throw input_error(Location{path_, line_number_ + 1}, "the compressed file is truncated");
    }
    eof_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<size_t>(got));
  return true;
}

bool LineReader::next(std::string_view& line) {
  while (true) {
    const size_t newline = buffer_.find('\n', position_);
    if (newline != std::string::npos) {
      line_.assign(buffer_, position_, newline - position_);
      position_ = newline + 1;
      break;
    }
    if (!fill()) {
      if (position_ >= buffer_.size()) return false;
      line_.assign(buffer_, position_, std::string::npos);  // last line without '\n'
      position_ = buffer_.size();
      break;
    }
  }
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  ++line_number_;
  line = line_;
  return true;
}

}  // namespace hare::data
