#include "common/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace hare {

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& defaults) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const auto& entry : defaults) {
    if (std::getenv(entry.substr(0, entry.find('=')).c_str()) == nullptr) env.push_back(const_cast<char*>(entry.c_str()));
  }
  env.push_back(nullptr);

  // `out` carries the child's stdout; `exec_errno` is closed by a successful
  // exec (O_CLOEXEC), or carries errno when exec fails.
  int out[2] = {-1, -1};
  int exec_errno[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(exec_errno, O_CLOEXEC) != 0) {
    close_fd(out[0]);
    close_fd(out[1]);
    throw failure("cannot start {}: {}", argv.front(), std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    for (int* fd : {&out[0], &out[1], &exec_errno[0], &exec_errno[1]}) close_fd(*fd);
    throw failure("cannot start {}: {}", argv.front(), std::strerror(error));
  }
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execve(args[0], args.data(), env.data());
    const int error = errno;
    [[maybe_unused]] const ssize_t written = ::write(exec_errno[1], &error, sizeof error);
    ::_exit(127);
  }
  close_fd(out[1]);
  close_fd(exec_errno[1]);
  int child_errno = 0;
  const ssize_t got = ::read(exec_errno[0], &child_errno, sizeof child_errno);
  close_fd(exec_errno[0]);

  ProcessResult result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n > 0) {
      result.out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close_fd(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    throw failure("cannot run {}: {}", argv.front(), std::strerror(child_errno));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

}  // namespace hare
