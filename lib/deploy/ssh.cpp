#include "deploy/ssh.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"
#include "common/strings.h"

namespace hare::deploy {

namespace {

std::string fingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK) return "?";
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
  std::string out = text != nullptr ? text : "?";
  ssh_string_free_char(text);
  ssh_clean_pubkey_hash(&hash);
  return out;
}

// The fingerprint known_hosts records for host (plain, unhashed entries).
std::string known_fingerprint(const std::string& known_hosts, const std::string& host, int port) {
  std::ifstream in(known_hosts);
  std::string line;
  const std::string bracketed = fmt::format("[{}]:{}", host, port);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string hosts, type, base64;
    if (!(fields >> hosts >> type >> base64) || hosts.empty() || hosts[0] == '#') continue;
    bool match = false;
    std::istringstream names(hosts);
    std::string name;
    while (std::getline(names, name, ',')) match = match || name == host || name == bracketed;
    if (!match) continue;
    ssh_key key = nullptr;
    if (ssh_pki_import_pubkey_base64(base64.c_str(), ssh_key_type_from_name(type.c_str()), &key) != SSH_OK) continue;
    const std::string out = fingerprint(key);
    ssh_key_free(key);
    return out;
  }
  return "?";
}

}  // namespace

struct SshSession::Impl {
  ssh_session session = nullptr;
  sftp_session sftp = nullptr;
  ~Impl() {
    if (sftp != nullptr) sftp_free(sftp);
    if (session != nullptr) {
      ssh_disconnect(session);
      ssh_free(session);
    }
  }
};

SshSession::SshSession(const SshTarget& target) : impl_(std::make_unique<Impl>()), target_(target) {
  const std::string who = fmt::format("node {} ({}:{})", target.name, target.host, target.port);
  ssh_session s = ssh_new();
  if (s == nullptr) throw failure("{}: cannot create an SSH session", who);
  impl_->session = s;
  // ~/.ssh/config first (or the given file), then what the cluster config says wins.
  ssh_options_set(s, SSH_OPTIONS_HOST, target.host.c_str());
  if (!target.ssh_config.empty()) ssh_options_parse_config(s, target.ssh_config.c_str());
  else ssh_options_parse_config(s, nullptr);
  ssh_options_set(s, SSH_OPTIONS_HOST, target.host.c_str());
  const unsigned int port = static_cast<unsigned int>(target.port);
  ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  if (!target.user.empty()) ssh_options_set(s, SSH_OPTIONS_USER, target.user.c_str());
  if (!target.known_hosts.empty()) ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, target.known_hosts.c_str());
  long timeout = target.connect_timeout_s;
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
  int nodelay = 1;
  ssh_options_set(s, SSH_OPTIONS_NODELAY, &nodelay);

  if (ssh_connect(s) != SSH_OK) {
    throw failure("{}: cannot connect: {}", who, ssh_get_error(s))
        .with_hint("check that the host is up, its address and port, and that sshd runs there");
  }

  // Host key.
  ssh_key server_key = nullptr;
  if (ssh_get_server_publickey(s, &server_key) != SSH_OK) throw failure("{}: no host key: {}", who, ssh_get_error(s));
  const std::string offered = fingerprint(server_key);
  ssh_key_free(server_key);
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
      std::string known = "?";
      struct ssh_knownhosts_entry* entry = nullptr;
      if (ssh_session_get_known_hosts_entry(s, &entry) != SSH_KNOWN_HOSTS_UNKNOWN && entry != nullptr) {
        if (entry->publickey != nullptr) known = fingerprint(entry->publickey);
        ssh_knownhosts_entry_free(entry);
      }
      if (known == "?") {
        const char* home = std::getenv("HOME");
        const std::string file = !target.known_hosts.empty() ? target.known_hosts
                                 : home != nullptr ? std::string(home) + "/.ssh/known_hosts" : std::string();
        known = known_fingerprint(file, target.host, target.port);
      }
      throw failure("{}: HOST KEY CHANGED: known_hosts has {}, the host offers {}; refusing to connect", who, known,
                    offered)
          .with_hint("if the host was reinstalled, remove its old entry from known_hosts (ssh-keygen -R); "
                     "otherwise someone may be intercepting the connection");
    }
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (target.policy != HostKeyPolicy::accept_new) {
        throw failure("{}: unknown host key {} (not in known_hosts)", who, offered)
            .with_hint("verify the fingerprint and add it with ssh-keyscan, or pass --accept-new-host-keys");
      }
      if (ssh_session_update_known_hosts(s) != SSH_OK) {
        throw failure("{}: cannot record the new host key: {}", who, ssh_get_error(s));
      }
      break;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      throw failure("{}: cannot check the host key: {}", who, ssh_get_error(s));
  }

  // Authentication: the given key, or the agent and default keys.
  int auth = SSH_AUTH_DENIED;
  if (!target.identity_file.empty()) {
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(target.identity_file.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      throw failure("{}: cannot read the identity file {}", who, target.identity_file);
    }
    auth = ssh_userauth_publickey(s, nullptr, key);
    ssh_key_free(key);
  } else {
    auth = ssh_userauth_publickey_auto(s, nullptr, nullptr);
  }
  if (auth != SSH_AUTH_SUCCESS) {
    throw failure("{}: authentication failed: {}", who, ssh_get_error(s))
        .with_hint("install your public key in the user's ~/.ssh/authorized_keys, or set ssh.identity_file");
  }
}

SshSession::~SshSession() = default;

CommandResult SshSession::run(const std::string& command, long timeout_s) {
  const std::string who = fmt::format("node {} ({})", target_.name, target_.host);
  ssh_channel channel = ssh_channel_new(impl_->session);
  if (channel == nullptr || ssh_channel_open_session(channel) != SSH_OK ||
      ssh_channel_request_exec(channel, command.c_str()) != SSH_OK) {
    if (channel != nullptr) ssh_channel_free(channel);
    throw failure("{}: cannot run a command: {}", who, ssh_get_error(impl_->session));
  }
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buffer[16384];
  while (!ssh_channel_is_eof(channel)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ssh_channel_close(channel);
      ssh_channel_free(channel);
      throw failure("{}: command timed out after {} s: {}", who, timeout_s, command);
    }
    for (int is_stderr : {0, 1}) {
      const int n = ssh_channel_read_timeout(channel, buffer, sizeof buffer, is_stderr, 100);
      if (n > 0) (is_stderr ? result.err : result.out).append(buffer, static_cast<size_t>(n));
      if (n == SSH_ERROR) break;
    }
  }
  for (int is_stderr : {0, 1}) {
    int n;
    while ((n = ssh_channel_read_nonblocking(channel, buffer, sizeof buffer, is_stderr)) > 0) {
      (is_stderr ? result.err : result.out).append(buffer, static_cast<size_t>(n));
    }
  }
  ssh_channel_send_eof(channel);
  ssh_channel_close(channel);
  result.exit_status = ssh_channel_get_exit_status(channel);
  ssh_channel_free(channel);
  return result;
}

CommandResult SshSession::run_checked(const std::string& step, const std::string& command, long timeout_s) {
  CommandResult r = run(command, timeout_s);
  if (r.exit_status != 0) {
    const std::string why(trim(r.err.empty() ? r.out : r.err));
    throw failure("node {}: {} failed (exit {}): {}", target_.name, step, r.exit_status, why);
  }
  return r;
}

void SshSession::upload_bytes(const std::string& content, const std::string& remote_path, bool private_file) {
  const std::string who = fmt::format("node {} ({})", target_.name, target_.host);
  if (impl_->sftp == nullptr) {
    impl_->sftp = sftp_new(impl_->session);
    if (impl_->sftp == nullptr || sftp_init(impl_->sftp) != SSH_OK) {
      throw failure("{}: cannot start SFTP: {}", who, ssh_get_error(impl_->session));
    }
  }
  // Fault injection for the deploy tests: corrupt uploads whose path contains
  // $HARE_FAULT_CORRUPT_UPLOAD, to prove that the checksum on the node catches it.
  const char* corrupt = std::getenv("HARE_FAULT_CORRUPT_UPLOAD");
  const bool flip = corrupt != nullptr && *corrupt != '\0' && remote_path.find(corrupt) != std::string::npos && !content.empty();
  if (private_file) sftp_unlink(impl_->sftp, remote_path.c_str());  // absent is fine: O_EXCL below decides
  sftp_file file = private_file ? sftp_open(impl_->sftp, remote_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600)
                                : sftp_open(impl_->sftp, remote_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (file == nullptr) throw failure("{}: cannot create {}: {}", who, remote_path, ssh_get_error(impl_->session));
  if (private_file && sftp_chmod(impl_->sftp, remote_path.c_str(), 0600) != SSH_OK) {
    sftp_close(file);
    throw failure("{}: cannot make {} private (mode 0600): {}", who, remote_path, ssh_get_error(impl_->session));
  }
  size_t offset = 0;
  while (offset < content.size()) {
    const size_t chunk = std::min<size_t>(32768, content.size() - offset);
    std::string piece = content.substr(offset, chunk);
    if (flip && offset == 0) piece[0] = static_cast<char>(piece[0] ^ 0x5a);
    const ssize_t written = sftp_write(file, piece.data(), piece.size());
    if (written <= 0) {
      sftp_close(file);
      throw failure("{}: writing {} failed: {}", who, remote_path, ssh_get_error(impl_->session));
    }
    offset += static_cast<size_t>(written);
  }
  sftp_close(file);
}

void SshSession::upload(const std::string& local_path, const std::string& remote_path, bool executable) {
  std::ifstream in(local_path, std::ios::binary);
  if (!in) throw input_error(Location{local_path}, "cannot read the file to upload");
  const std::string content((std::istreambuf_iterator<char>(in)), {});
  upload_bytes(content, remote_path);
  if (executable) sftp_chmod(impl_->sftp, remote_path.c_str(), 0755);
}

std::optional<int> read_remote_pid(SshSession& session, const std::string& path, long timeout_s) {
  const CommandResult r = session.run("cat " + path + " 2>/dev/null", timeout_s);
  const long long pid = parse_int(r.out).value_or(0);
  if (r.exit_status != 0 || pid <= 1 || pid > std::numeric_limits<int>::max()) return std::nullopt;
  return static_cast<int>(pid);
}

SshTarget ssh_target(const std::string& name, const std::string& address, const std::string& user, int port,
                     const std::string& identity_file, const std::string& known_hosts, const std::string& ssh_config,
                     HostKeyPolicy policy) {
  SshTarget t;
  t.name = name;
  t.host = address;
  t.port = port;
  t.user = user;
  t.identity_file = identity_file;
  if (!t.identity_file.empty() && t.identity_file[0] == '~') {
    const char* home = std::getenv("HOME");
    t.identity_file = std::string(home ? home : "") + t.identity_file.substr(1);
  }
  t.known_hosts = known_hosts;
  t.ssh_config = ssh_config;
  t.policy = policy;
  return t;
}

std::string fingerprint_of_public_key_file(const std::string& path) {
  ssh_key key = nullptr;
  if (ssh_pki_import_pubkey_file(path.c_str(), &key) != SSH_OK) return "?";
  const std::string out = fingerprint(key);
  ssh_key_free(key);
  return out;
}

}  // namespace hare::deploy
