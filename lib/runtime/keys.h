#pragma once

// The keys of one deployment run: CurveZMQ (libzmq's CURVE, Curve25519 with
// libsodium) authenticates and encrypts every frame between nodes. Each run
// (`hare-deploy local`, `hare-deploy start`, or `hare-node keys` for nodes
// run by hand) makes a fresh keypair per plan node; each node gets one file
// with its own secret key and every plan node's public key, and nothing
// else. Keys are never in the plan: plans stay shareable, and the same
// inputs still give the same plan directory.
//
// Who uses which key:
//   a node's public socket   CURVE server, the node's secret key; its ZAP
//                            handler (data_port.h) admits the client keys
//                            of this deployment only
//   every sender             CURVE client, its node's keypair and the
//                            receiving node's public key (the source
//                            thread, the stage's workers)
// A peer without the deployment's keys fails the handshake, before any
// frame of it is read.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/json.h"

namespace hare::runtime {

constexpr const char* kKeysFormat = "hare-keys/1";

// One node's key file (<run-dir>/<node>.keys, mode 0600). Keys are Z85
// text, 40 characters (zmq_z85_encode of 32 bytes).
struct DeploymentKeys {
  std::string format = kKeysFormat;
  std::string node;
  std::string public_key;
  std::string secret_key;                    // never leaves this file and the node's memory
  std::map<std::string, std::string> peers;  // every plan node (this one too) -> its public key
};
HARE_DEFINE_RECORD(DeploymentKeys, format, node, public_key, secret_key, peers)

// A fresh keypair for every node (zmq_curve_keypair), each node's record
// listing every node's public key. Throws a failure if libzmq was built
// without CURVE.
std::map<std::string, DeploymentKeys> generate_deployment_keys(const std::vector<std::string>& nodes);

// The file's text: one JSON document.
std::string keys_to_text(const DeploymentKeys& keys);

// Writes the file with mode 0600, set explicitly (not left to the umask),
// without following a symlink at `path`, replacing it atomically
// (write_file_atomic, FileAccess::owner_only).
void write_keys_file(const std::string& path, const DeploymentKeys& keys);

// Reads a node's key file and checks it: the format, that it is `node`'s,
// every key well-formed, a public key for every name in `plan_nodes`, and
// that no one but its owner may read it (as ssh does for private keys).
// Errors name the file and what to do (exit 2).
DeploymentKeys read_keys_file(const std::string& path, const std::string& node,
                              const std::vector<std::string>& plan_nodes);

// `socket` as a CURVE client of `server_node`, with `keys`' own keypair.
// Call before connect.
void make_curve_client(zmq::socket_t& socket, const DeploymentKeys& keys, const std::string& server_node);

// `socket` as a CURVE server with `keys`' secret key. Call before bind.
void make_curve_server(zmq::socket_t& socket, const DeploymentKeys& keys);

// The 32 bytes a Z85 key stands for; nullopt if it is not one.
std::optional<std::string> decode_key(const std::string& z85);

}  // namespace hare::runtime
