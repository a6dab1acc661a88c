#include "runtime/keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"

namespace hare::runtime {

namespace {

constexpr size_t kZ85KeyChars = 40;

Location at(const std::string& path) { return Location{path}; }

}  // namespace

std::optional<std::string> decode_key(const std::string& z85) {
  if (z85.size() != kZ85KeyChars) return std::nullopt;
  std::string bytes(32, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(bytes.data()), z85.c_str()) == nullptr) return std::nullopt;
  return bytes;
}

std::map<std::string, DeploymentKeys> generate_deployment_keys(const std::vector<std::string>& nodes) {
  if (zmq_has("curve") == 0) {
    throw failure("this libzmq was built without CURVE: hare cannot authenticate its frames")
        .with_hint("install a libzmq built with libsodium (Debian's libzmq5 is)");
  }
  std::map<std::string, DeploymentKeys> out;
  for (const auto& node : nodes) {
    char public_key[kZ85KeyChars + 1];
    char secret_key[kZ85KeyChars + 1];
    if (zmq_curve_keypair(public_key, secret_key) != 0) {
      throw failure("cannot make a CURVE keypair: {}", zmq_strerror(zmq_errno()));
    }
    DeploymentKeys& keys = out[node];
    keys.node = node;
    keys.public_key = public_key;
    keys.secret_key = secret_key;
  }
  for (auto& [node, keys] : out) {
    for (const auto& [peer, peer_keys] : out) keys.peers[peer] = peer_keys.public_key;
  }
  return out;
}

std::string keys_to_text(const DeploymentKeys& keys) { return nlohmann::ordered_json(keys).dump(2) + "\n"; }

void write_keys_file(const std::string& path, const DeploymentKeys& keys) {
  write_file_atomic(path, keys_to_text(keys), FileAccess::owner_only);
}

DeploymentKeys read_keys_file(const std::string& path, const std::string& node,
                              const std::vector<std::string>& plan_nodes) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    throw input_error(at(path), "cannot read the key file: {}", std::strerror(errno))
        .with_hint("hare-deploy writes one per node and run; for a node run by hand: hare-node keys --plan DIR --out DIR");
  }
  if (!S_ISREG(st.st_mode)) throw input_error(at(path), "the key file is not a regular file");
  if ((st.st_mode & 077) != 0) {
    throw input_error(at(path), "the key file may be read by others (mode {:o}): it holds node {}'s secret key",
                      st.st_mode & 0777, node)
        .with_hint(fmt::format("chmod 600 {}", path));
  }
  if (st.st_uid != ::geteuid()) throw input_error(at(path), "the key file belongs to another user (uid {})", st.st_uid);
  DeploymentKeys keys;
  try {
    keys = Json::parse(read_file(path)).get<DeploymentKeys>();
  } catch (const Json::parse_error& e) {
    // Not e.what(): it quotes the last token read, which may be a secret key.
    throw input_error(at(path), "not a hare key file: malformed JSON at byte {}", e.byte);
  } catch (const Json::exception& e) {
    throw input_error(at(path), "not a hare key file (nlohmann-json error {})", e.id);
  }
  if (keys.format != kKeysFormat) throw input_error(at(path), "format is '{}', expected '{}'", keys.format, kKeysFormat);
  if (keys.node != node) {
    throw input_error(at(path), "these are node {}'s keys, not node {}'s", keys.node, node)
        .with_hint("give each node its own <node>.keys");
  }
  std::vector<std::string> bad;
  if (!decode_key(keys.public_key)) bad.push_back("public_key");
  if (!decode_key(keys.secret_key)) bad.push_back("secret_key");
  for (const auto& [peer, key] : keys.peers) {
    if (!decode_key(key)) bad.push_back("peers." + peer);
  }
  if (!bad.empty()) {
    throw input_error(at(path), "not a 40-character Z85 CURVE key: {}", fmt::join(bad, ", "));
  }
  // The secret key must be the public key's: derive it and compare.
  char derived[kZ85KeyChars + 1];
  if (zmq_curve_public(derived, keys.secret_key.c_str()) != 0 || keys.public_key != derived) {
    throw input_error(at(path), "public_key is not the public half of secret_key");
  }
  std::vector<std::string> missing;
  for (const auto& name : plan_nodes) {
    if (keys.peers.count(name) == 0) missing.push_back(name);
  }
  if (!missing.empty()) {
    throw input_error(at(path), "no public key for plan node(s) {}: the keys are of another plan or run",
                      fmt::join(missing, ", "))
        .with_hint("make the keys for this plan again (hare-deploy does at every run)");
  }
  return keys;
}

void make_curve_client(zmq::socket_t& socket, const DeploymentKeys& keys, const std::string& server_node) {
  const auto server = keys.peers.find(server_node);
  if (server == keys.peers.end()) throw failure("node {}: no public key for node {}", keys.node, server_node);
  socket.set(zmq::sockopt::curve_serverkey, server->second);
  socket.set(zmq::sockopt::curve_publickey, keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

void make_curve_server(zmq::socket_t& socket, const DeploymentKeys& keys) {
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

}  // namespace hare::runtime
