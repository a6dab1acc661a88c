#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"

namespace hare {

namespace {

// In the child, before anything else.
void prepare_child(pid_t parent, bool new_process_group, bool die_with_parent) {
  if (new_process_group) setpgid(0, 0);
  if (die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have exited before prctl took effect.
    if (getppid() != parent) _exit(1);
  }
}

}  // namespace

pid_t spawn_process(const SpawnOptions& options) {
  if (options.argv.empty()) throw failure("spawn_process: no program given");
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw failure("cannot start {}: fork: {}", options.argv[0], std::strerror(errno));
  if (pid == 0) {
    prepare_child(parent, options.new_process_group, options.die_with_parent);
    if (!options.log_path.empty()) {
      const int fd = open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Also in the parent: the group exists before anyone signals it.
  if (options.new_process_group) setpgid(pid, pid);
  return pid;
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
