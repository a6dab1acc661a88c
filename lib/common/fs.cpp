#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "common/error.h"

namespace hare {
namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

// Closes a descriptor on every way out of the scope that opened it.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Writes all of `content`, through short writes and signals.
bool write_all(int fd, const std::string& content) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// A place the user chose that cannot be written (read-only, no permission,
// or a part of the path that is a file) is their input to fix (exit 2);
// anything else is a failure (exit 1).
Error cannot_write(const std::string& path, const std::string& what, int error) {
  if (error == EACCES || error == EPERM || error == EROFS) {
    return input_error(Location{path}, "{}: {}", what, std::strerror(error))
        .with_hint("choose a directory you can write to");
  }
  if (error == ENOTDIR || error == EEXIST || error == EISDIR) {
    return input_error(Location{path}, "{}: {}", what, std::strerror(error))
        .with_hint("a part of that path is a file where a directory should be: choose another path");
  }
  return failure("{}: {}: {}", path, what, std::strerror(error));
}

// Creates every missing directory above `path` with mode 0755, set after
// mkdir: a parent the umask left writable by all would let anyone rename the
// run directory away and put a link in its place.
void make_parents(const fs::path& path) {
  fs::path prefix;
  for (const fs::path& part : path.parent_path()) {
    prefix /= part;
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      if (::chmod(prefix.c_str(), 0755) != 0) throw failure("{}: cannot set its mode: {}", prefix.string(), errno_text());
      continue;
    }
    const int error = errno;
    std::error_code ec;
    if (error != EEXIST && !fs::is_directory(prefix, ec)) {
      throw cannot_write(prefix.string(), "cannot create directory", error);
    }
  }
}

Error refused_dir(const std::string& path, const std::string& reason) {
  return input_error(Location{path}, "not used as a run directory: {}; remove it or choose another directory", reason);
}

}  // namespace

void refuse_directory(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw input_error(Location{path}, "is a directory, not a file").with_hint("name the file itself");
  }
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (!ec) return;
  // create_directories reports the path it was given, not the part that
  // failed: the deepest part that exists names the file in the way.
  fs::path in_the_way = path;
  while (in_the_way.has_parent_path() && in_the_way != in_the_way.parent_path() && !fs::exists(in_the_way)) {
    in_the_way = in_the_way.parent_path();
  }
  std::error_code is_dir_ec;
  const bool blocked = fs::exists(in_the_way) && !fs::is_directory(in_the_way, is_dir_ec);
  throw cannot_write(blocked ? in_the_way.string() : path, "cannot create directory", ec.value());
}

std::string read_file(const std::string& path) {
  refuse_directory(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(Location{path}, "cannot open file (does it exist?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file_atomic(const std::string& path, const std::string& content, FileAccess access) {
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw cannot_write(target.parent_path().string(), "cannot create directory", ec.value());
  }
  // A fresh name each time, created exclusively: a file or link someone put
  // at a predictable temporary name is never written through.
  static std::atomic<unsigned> counter{0};
  const mode_t mode = access == FileAccess::owner_only ? kPrivateFileMode : 0666;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && (errno != EEXIST || attempt == 100)) throw cannot_write(path, "cannot write", errno);
  }
  FdGuard guard(fd);
  // Errors name the file the user asked for; the temporary is removed.
  const auto fail = [&](const std::string& what) {
    const int error = errno;
    std::remove(temp.c_str());
    Error e = failure("{}: {}: {}", path, what, std::strerror(error));
    if (error == ENOSPC || error == EDQUOT) e.with_hint("free some space on that disk (nothing was replaced), then run again");
    return e;
  };
  if (access == FileAccess::owner_only && ::fchmod(fd, kPrivateFileMode) != 0) throw fail("cannot set its mode");
  if (!write_all(fd, content)) throw fail("cannot write");
  // On the disk before it replaces anything: a crash leaves the old file or
  // the new one, never an empty one.
  if (::fsync(fd) != 0) throw fail("cannot write");
  if (::close(guard.release()) != 0) throw fail("cannot write");
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temp.c_str());
    throw cannot_write(path, "cannot rename into place", error);
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
  if (p.lexically_normal() == "." || p.lexically_normal() == "./") return "it names no directory of its own ('.')";
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

void make_private_dir(const std::string& given) {
  // "dir/" and "dir/." would follow a symlink at dir even with O_NOFOLLOW:
  // the last component is made a name first.
  std::string path = fs::path(given).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  make_parents(fs::path(path));
  const bool created = ::mkdir(path.c_str(), kPrivateDirMode) == 0;
  if (!created && errno != EEXIST) throw cannot_write(path, "cannot create the run directory", errno);
  // Opened without following a link, then checked and chmod'ed through the
  // descriptor: what is checked is what is used.
  FdGuard dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir.get() < 0) {
    const std::string reason = errno_text();
    struct stat link {};
    const bool exists = ::lstat(path.c_str(), &link) == 0;
    if (exists && S_ISLNK(link.st_mode)) {
      std::error_code ec;
      throw refused_dir(path, fmt::format("it is a symbolic link (to {})", fs::read_symlink(path, ec).string()));
    }
    if (exists && !S_ISDIR(link.st_mode)) throw refused_dir(path, "it is not a directory");
    throw failure("{}: cannot open the run directory: {}", path, reason);
  }
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0) throw failure("{}: cannot stat the run directory: {}", path, errno_text());
  if (st.st_uid != ::geteuid()) {
    throw refused_dir(path, fmt::format("it is owned by uid {}, not by you (uid {}): another user may have made it first",
                                        st.st_uid, ::geteuid()));
  }
  if (created) {
    if (::fchmod(dir.get(), kPrivateDirMode) != 0) throw failure("{}: cannot set its mode: {}", path, errno_text());
  } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw refused_dir(path, fmt::format("it is writable by others (mode {:04o}), who may have put files or links in it",
                                        st.st_mode & 07777));
  }
}

int open_private_file(const std::string& path, int flags) {
  FdGuard fd(::open(path.c_str(), flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, kPrivateFileMode));
  if (fd.get() < 0) {
    if (errno == ELOOP) {
      throw input_error(Location{path}, "is a symbolic link: run state is never written through a link; remove it");
    }
    throw failure("{}: cannot open for writing: {}", path, errno_text());
  }
  if (::fchmod(fd.get(), kPrivateFileMode) != 0) throw failure("{}: cannot set its mode: {}", path, errno_text());
  return fd.release();
}

}  // namespace hare
