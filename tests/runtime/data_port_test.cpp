// The public socket against peers without the run's keys: refused unread,
// oversized messages dropped, connections capped without touching the ones
// open, running out of descriptors survived.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "runtime/data_port.h"

using namespace hare;
using namespace hare::runtime;

namespace {

// Serves the port for `ms`, returning the messages it received.
// Serves the port for `ms` milliseconds, or until a message equal to
// `stop_on` arrives when it is not empty; returns what arrived.
std::vector<std::string> serve_for(DataPort& port, int ms, const std::string& stop_on = "") {
  std::vector<std::string> received;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (!stop_on.empty() && std::find(received.begin(), received.end(), stop_on) != received.end()) break;
    std::vector<zmq::pollitem_t> items = {{port.socket().handle(), 0, ZMQ_POLLIN, 0}};
    port.append_poll_items(items);
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(10));
    port.serve();
    zmq::message_t message;
    while (port.socket().recv(message, zmq::recv_flags::dontwait)) received.push_back(message.to_string());
  }
  return received;
}

int port_of(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

// A TCP connection that says nothing, as a stranger's; -1 if none.
int raw_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  return fd;
}

// True when a non-blocking connect completed within `ms`.
bool connected_within(int fd, int ms) {
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, ms) != 1) return false;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error == 0;
}

DataPortOptions options_for(const DeploymentKeys& keys) {
  DataPortOptions options;
  options.node = "node";
  options.endpoint = "tcp://127.0.0.1:*";
  options.keys = &keys;
  options.max_frame_bytes = 1000;
  options.handshake_ms = 500;
  return options;
}

}  // namespace

TEST_CASE("only a peer with the run's keys gets a frame through", "[runtime]") {
  const auto keys = generate_deployment_keys({"node", "peer"});
  zmq::context_t context(1);
  DataPort port(context, options_for(keys.at("node")));
  const std::string endpoint = port.socket().get(zmq::sockopt::last_endpoint);

  zmq::context_t others(1);
  zmq::socket_t plain(others, zmq::socket_type::push);  // no CURVE at all
  zmq::socket_t stranger(others, zmq::socket_type::push);  // CURVE, the server's public key, a key of its own
  zmq::socket_t peer(others, zmq::socket_type::push);
  for (zmq::socket_t* s : {&plain, &stranger, &peer}) s->set(zmq::sockopt::linger, 0);
  DeploymentKeys outsider = generate_deployment_keys({"x"}).at("x");
  outsider.peers["node"] = keys.at("node").public_key;  // leaked: public keys are not secret
  make_curve_client(stranger, outsider, "node");
  make_curve_client(peer, keys.at("peer"), "node");
  for (zmq::socket_t* s : {&plain, &stranger, &peer}) s->connect(endpoint);
  plain.send(zmq::str_buffer("plain"), zmq::send_flags::dontwait);
  stranger.send(zmq::str_buffer("stranger"), zmq::send_flags::dontwait);
  peer.send(zmq::str_buffer("peer"), zmq::send_flags::dontwait);

  CHECK(serve_for(port, 1500) == std::vector<std::string>{"peer"});
  CHECK(port.status().authenticated);
  CHECK(port.status().refused_peers >= 1);
  CHECK(port.status().failed_handshakes >= 1);
}

TEST_CASE("a message larger than the plan's largest frame is dropped unread", "[runtime]") {
  const auto keys = generate_deployment_keys({"node", "peer"});
  zmq::context_t context(1);
  DataPort port(context, options_for(keys.at("node")));
  CHECK(port.status().max_message_bytes == kMinMaxMessageBytes);
  zmq::context_t others(1);
  zmq::socket_t peer(others, zmq::socket_type::push);
  peer.set(zmq::sockopt::linger, 0);
  make_curve_client(peer, keys.at("peer"), "node");
  peer.connect(port.socket().get(zmq::sockopt::last_endpoint));
  const std::string big(64 * 1024, 'x');
  peer.send(zmq::buffer(big), zmq::send_flags::none);
  CHECK(serve_for(port, 800).empty());
  // The connection it came on was closed; the sender's next one gets through.
  peer.send(zmq::str_buffer("small"), zmq::send_flags::none);
  CHECK(serve_for(port, 2500) == std::vector<std::string>{"small"});
}

TEST_CASE("at the connection cap new connections wait, and the open ones keep working", "[runtime]") {
  const auto keys = generate_deployment_keys({"node", "peer"});
  zmq::context_t context(1);
  DataPortOptions options = options_for(keys.at("node"));
  options.max_connections = 4;
  DataPort port(context, options);
  const int tcp_port = port_of(port.socket().get(zmq::sockopt::last_endpoint));
  zmq::context_t others(1);
  zmq::socket_t peer(others, zmq::socket_type::push);
  peer.set(zmq::sockopt::linger, 0);
  make_curve_client(peer, keys.at("peer"), "node");
  peer.connect(port.socket().get(zmq::sockopt::last_endpoint));
  peer.send(zmq::str_buffer("before"), zmq::send_flags::none);
  REQUIRE(serve_for(port, 500) == std::vector<std::string>{"before"});

  std::vector<int> strangers;
  for (int i = 0; i < 6; ++i) strangers.push_back(raw_connect(tcp_port));
  serve_for(port, 200);
  CHECK(port.status().cap_reached >= 1);
  const int late = raw_connect(tcp_port);
  CHECK_FALSE(connected_within(late, 300));  // its SYN is dropped while the cap holds
  peer.send(zmq::str_buffer("during"), zmq::send_flags::none);
  CHECK(serve_for(port, 300) == std::vector<std::string>{"during"});
  // The strangers are dropped after the handshake interval; the door opens
  // and the waiting connection completes on its SYN's retry.
  serve_for(port, 2500);
  CHECK(connected_within(late, 0));
  CHECK(port.status().connections <= 3);
  for (int fd : strangers) ::close(fd);
  ::close(late);
  CHECK(port.status().peak_connections <= 4 + 6);
}

// The CPU the node spends meanwhile is printed, not bounded: libzmq's
// listener retries a failed accept at once until the node shuts its door,
// in some runs for the whole episode (0.05 to 3.0 s of CPU over about 4 s,
// on this 2-core machine; docs/design.md, Known limits). The node serves
// until the late peer's message arrives (at most 30 s): under ASan the
// episode runs slower than a fixed 4 s allowed for.
TEST_CASE("running out of descriptors is survived and reported", "[runtime][serial]") {
  const auto keys = generate_deployment_keys({"node", "peer"});
  int to_parent[2];
  REQUIRE(::pipe(to_parent) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A node with few descriptors to spare, and a cap above them.
    int open_now = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++open_now;
    zmq::context_t context(1);
    DataPortOptions options = options_for(keys.at("node"));
    options.max_connections = 1000;
    DataPort port(context, options);
    const rlimit few{static_cast<rlim_t>(open_now + 24), static_cast<rlim_t>(open_now + 24)};
    setrlimit(RLIMIT_NOFILE, &few);
    const int tcp_port = port_of(port.socket().get(zmq::sockopt::last_endpoint));
    if (::write(to_parent[1], &tcp_port, sizeof tcp_port) != sizeof tcp_port) ::_exit(3);
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    const auto started = std::chrono::steady_clock::now();
    const std::vector<std::string> received = serve_for(port, 30000, "alive");
    const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    getrusage(RUSAGE_SELF, &after);
    const double cpu_s = static_cast<double>(after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec -
                                             before.ru_stime.tv_sec) +
                         static_cast<double>(after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec -
                                             before.ru_stime.tv_usec) / 1e6;
    const bool served = std::find(received.begin(), received.end(), "alive") != received.end();
    const double figures[2] = {cpu_s, elapsed_s};
    if (::write(to_parent[1], figures, sizeof figures) != sizeof figures) ::_exit(3);
    ::_exit(port.status().accept_failures == 0 ? 10 : !served ? 11 : 0);
  }
  int tcp_port = 0;
  REQUIRE(::read(to_parent[0], &tcp_port, sizeof tcp_port) == sizeof tcp_port);
  std::vector<int> strangers;
  for (int i = 0; i < 200; ++i) strangers.push_back(raw_connect(tcp_port));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (int fd : strangers) ::close(fd);
  zmq::context_t others(1);
  zmq::socket_t peer(others, zmq::socket_type::push);
  peer.set(zmq::sockopt::linger, 2000);
  make_curve_client(peer, keys.at("peer"), "node");
  peer.connect("tcp://127.0.0.1:" + std::to_string(tcp_port));
  peer.send(zmq::str_buffer("alive"), zmq::send_flags::none);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  double figures[2] = {-1.0, -1.0};
  if (::read(to_parent[0], figures, sizeof figures) == sizeof figures)
    WARN("the node spent " << figures[0] << " s of CPU in " << figures[1] << " s");
  ::close(to_parent[0]);
  ::close(to_parent[1]);
  INFO("child exit: 10 = no accept failure seen, 11 = not serving afterwards");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
