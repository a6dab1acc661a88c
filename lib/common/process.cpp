#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"

namespace hare {

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// In the child, before exec: only async-signal-safe calls.
void prepare_child(pid_t parent, bool new_process_group, bool die_with_parent) {
  if (new_process_group) setpgid(0, 0);
  if (die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have exited before prctl took effect.
    if (getppid() != parent) _exit(1);
  }
}

// Forks and execs `options.argv`, with the child's stdout on `stdout_fd`
// when >= 0 (else the log file, else ours). Everything the child needs is
// prepared before the fork. An exec failure comes back through a
// close-on-exec pipe and is thrown here, naming the program.
pid_t start_child(const SpawnOptions& options, int stdout_fd) {
  if (options.argv.empty()) throw failure("cannot start a process: no program given");
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> defaults = options.env_defaults;
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (auto& entry : defaults) {
    if (std::getenv(entry.substr(0, entry.find('=')).c_str()) == nullptr) env.push_back(entry.data());
  }
  env.push_back(nullptr);
  int log_fd = -1;
  if (stdout_fd < 0 && !options.log_path.empty()) {
    log_fd = open_private_file(options.log_path, O_WRONLY | O_TRUNC);  // run state: 0600, no links
  }
  int exec_errno[2] = {-1, -1};
  if (::pipe2(exec_errno, O_CLOEXEC) != 0) {
    close_fd(log_fd);
    throw failure("cannot start {}: {}", options.argv[0], std::strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    for (int* fd : {&exec_errno[0], &exec_errno[1], &log_fd}) close_fd(*fd);
    throw failure("cannot start {}: fork: {}", options.argv[0], std::strerror(error));
  }
  if (pid == 0) {
    prepare_child(parent, options.new_process_group, options.die_with_parent);
    if (stdout_fd >= 0) {
      dup2(stdout_fd, STDOUT_FILENO);
    } else if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    execve(argv[0], argv.data(), env.data());
    const int error = errno;
    [[maybe_unused]] const ssize_t written = ::write(exec_errno[1], &error, sizeof error);
    _exit(127);
  }
  // Also in the parent: the group exists before anyone signals it.
  if (options.new_process_group) setpgid(pid, pid);
  close_fd(log_fd);
  close_fd(exec_errno[1]);
  int child_errno = 0;
  ssize_t got;
  while ((got = ::read(exec_errno[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  close_fd(exec_errno[0]);
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw failure("cannot run {}: {}", options.argv[0], std::strerror(child_errno));
  }
  return pid;
}

}  // namespace

pid_t spawn_process(const SpawnOptions& options) { return start_child(options, -1); }

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env_defaults) {
  int out[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) throw failure("cannot start {}: {}", argv.empty() ? "" : argv.front(), std::strerror(errno));
  SpawnOptions options;
  options.argv = argv;
  options.env_defaults = env_defaults;
  pid_t pid;
  try {
    pid = start_child(options, out[1]);
  } catch (...) {
    close_fd(out[0]);
    close_fd(out[1]);
    throw;
  }
  close_fd(out[1]);
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
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

pid_t fork_call(const std::function<int()>& body, bool die_with_parent) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw failure("cannot fork: {}", std::strerror(errno));
  if (pid == 0) {
    prepare_child(parent, false, die_with_parent);
    int code = 1;
    try {
      code = body();
    } catch (...) {
      code = 1;
    }
    _exit(code);
  }
  return pid;
}

std::optional<int> try_reap(pid_t pid) {
  int status = 0;
  const pid_t done = waitpid(pid, &status, WNOHANG);
  if (done == pid) return status;
  return std::nullopt;
}

std::string describe_exit(int wait_status) {
  if (WIFSIGNALED(wait_status)) return fmt::format("was killed by signal {}", WTERMSIG(wait_status));
  return fmt::format("exited with code {}", WEXITSTATUS(wait_status));
}

}  // namespace hare
