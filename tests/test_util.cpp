#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/error.h"

namespace hare::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "hare-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
  gzclose(file);
}

std::string source_path(const std::string& relative) { return std::string(HARE_SOURCE_DIR) + "/" + relative; }
std::string tool_path(const std::string& tool) { return std::string(HARE_BIN_DIR) + "/" + tool; }

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}
}  // namespace

RunResult run(const std::string& command) {
  TempDir dir;
  const std::string out = dir.file("out");
  const std::string err = dir.file("err");
  const std::string line = command + " >" + out + " 2>" + err;
  const int status = std::system(line.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' is not in the text");
  return text.replace(at, from.size(), to);
}

std::vector<std::string> error_messages(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    std::vector<std::string> all = {error.what()};
    for (const auto& more : error.more()) all.push_back(more.what());
    return all;
  }
  return {};
}

const std::string& python_fixtures() {
  static TempDir dir;
  static const bool made = [] {
    const auto result = run("/usr/bin/python3 " + source_path("tests/fixtures/make_fixtures.py") + " " + dir.path());
    if (result.exit_code != 0) throw std::runtime_error("making the Python fixtures failed: " + result.err);
    return true;
  }();
  (void)made;
  return dir.path();
}

std::string shell_payload_traces() {
  return run("find /home/haretest /tmp -xdev -name 'hareprobe-PWNED*' 2>/dev/null").out;
}

}  // namespace hare::test
