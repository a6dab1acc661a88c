#pragma once

// SSH to edge nodes, with libssh: host keys checked against known_hosts
// (strictly by default; accept-new like OpenSSH's, never a changed key),
// key or agent authentication, TCP_NODELAY (uploads crawl without it),
// connect and command timeouts, commands with their output and exit status,
// and file transfer over SFTP (SCP is deprecated in libssh 0.10).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace hare::deploy {

enum class HostKeyPolicy {
  strict,      // the host must be in known_hosts with this key
  accept_new,  // an unknown host is added; a changed key is still refused
};

struct SshTarget {
  std::string name;            // for messages: the node's name
  std::string host;
  int port = 22;
  std::string user;            // "" = from ~/.ssh/config or the local user
  std::string identity_file;   // "" = the agent, then the default keys
  std::string known_hosts;     // "" = ~/.ssh/known_hosts
  std::string ssh_config;      // "" = ~/.ssh/config
  HostKeyPolicy policy = HostKeyPolicy::strict;
  long connect_timeout_s = 10;
};

struct CommandResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

class SshSession {
 public:
  // Connects, verifies the host key and authenticates; throws a failure
  // Error naming the node, the host and what to do.
  explicit SshSession(const SshTarget& target);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  CommandResult run(const std::string& command, long timeout_s = 60);
  // run(), but a non-zero exit is a failure Error naming the node and `step`.
  CommandResult run_checked(const std::string& step, const std::string& command, long timeout_s = 60);
  // Uploads a local file by SFTP (mode 0644, or 0755 when executable).
  void upload(const std::string& local_path, const std::string& remote_path, bool executable = false);
  // Writes `content` to `remote_path` (mode 0644). With `private_file`, any
  // file or symlink already at the path is removed first and the file is
  // created anew, exclusively, with mode 0600 set explicitly (not left to the
  // node's umask): a secret is never readable by others, not for a moment,
  // and never written through a link someone planted.
  void upload_bytes(const std::string& content, const std::string& remote_path, bool private_file = false);
  const SshTarget& target() const { return target_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SshTarget target_;
};

// The SSH target for a node of a cluster config: its address, and its ssh
// settings (user, port, identity file; "~/" expanded).
SshTarget ssh_target(const std::string& name, const std::string& address, const std::string& user, int port,
                     const std::string& identity_file, const std::string& known_hosts, const std::string& ssh_config,
                     HostKeyPolicy policy);

// The process id a pid file on the node holds (`path`: shell text, e.g. a
// home_path()), when it is one: the file's text is the node's, so it becomes
// a number here and only that number ever goes back into a command.
std::optional<int> read_remote_pid(SshSession& session, const std::string& path, long timeout_s = 60);

// "SHA256:..." of a public key file's key (for tests and messages).
std::string fingerprint_of_public_key_file(const std::string& path);

}  // namespace hare::deploy
