#include "data/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/diag.h"
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
  diag::throw_if_interrupted();
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
  if (line_number_ == std::numeric_limits<int>::max()) {
    throw input_error(Location{path_}, "has more than {} lines: not a recording hare can read", line_number_);
  }
  // Each byte is searched for '\n' once, however many blocks a line spans.
  size_t searched = position_;
  auto check_length = [this](size_t bytes) {
    if (bytes > kMaxLineBytes) {
      throw input_error(Location{path_, line_number_ + 1},
                        "the line is longer than {} bytes: not a recording of sensor samples (a binary or corrupt file?)",
                        kMaxLineBytes);
    }
  };
  while (true) {
    const size_t newline = buffer_.find('\n', searched);
    if (newline != std::string::npos) {
      check_length(newline - position_);
      line_.assign(buffer_, position_, newline - position_);
      position_ = newline + 1;
      break;
    }
    check_length(buffer_.size() - position_);
    searched = buffer_.size() - position_;  // fill() moves the unread rest to the front
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
