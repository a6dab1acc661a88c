#include "runtime/control.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"

namespace hare::runtime {

namespace {

constexpr std::string_view kIpcScheme = "ipc://";

// One request and its reply; nothing when the node does not answer in time,
// or when a signal interrupts the wait (the caller's loop then sees it).
std::optional<std::string> round_trip(const std::string& endpoint, const std::string& request, int timeout_ms) try {
  // ZeroMQ retries a refused ipc connect in silence: another user's node
  // (its socket is 0600) would look like a node that does not answer.
  if (endpoint.rfind(kIpcScheme, 0) == 0) {
    const std::string path = endpoint.substr(kIpcScheme.size());
    if (::access(path.c_str(), W_OK) != 0 && errno == EACCES) {
      throw failure("control socket {}: permission denied: the node runs as another user; ask as that user", path);
    }
  }
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
  socket.set(zmq::sockopt::sndtimeo, timeout_ms);
  socket.connect(endpoint);
  if (!socket.send(zmq::buffer(request), zmq::send_flags::none)) return std::nullopt;
  zmq::message_t reply;
  if (!socket.recv(reply, zmq::recv_flags::none)) return std::nullopt;
  return reply.to_string();
} catch (const zmq::error_t& e) {
  if (e.num() == EINTR) return std::nullopt;
  throw failure("control socket {}: {}", endpoint, e.what());
}

}  // namespace

std::string run_file(const std::string& run_dir, const std::string& node, const std::string& suffix) {
  return run_dir + "/" + node + suffix;
}

std::string ipc_endpoint(const std::string& run_dir, const std::string& node, const std::string& suffix) {
  const std::string path = run_file(run_dir, node, suffix);
  // sun_path holds 108 bytes with the terminating NUL (unix(7)).
  constexpr size_t kMaxSocketPath = 107;
  if (path.size() > kMaxSocketPath) {
    throw input_error(Location{}, "run directory {} is too deep: the socket {} has {} characters, and Unix sockets "
                      "allow {}; give a shorter --run-dir",
                      run_dir, path, path.size(), kMaxSocketPath);
  }
  return "ipc://" + path;
}

std::string control_endpoint(const std::string& run_dir, const std::string& node) {
  return ipc_endpoint(run_dir, node, ".ctl");
}

void bind_private_ipc(zmq::socket_t& socket, const std::string& endpoint) {
  if (endpoint.rfind(kIpcScheme, 0) != 0) throw failure("{}: not an ipc:// endpoint", endpoint);
  // Created private, not made private after: a peer that connects between
  // bind and chmod keeps its connection (the mode is checked at connect),
  // and an existing run directory of ours may be 0755. ZeroMQ binds ipc
  // sockets in this thread; other threads' files have explicit modes.
  const mode_t umask_before = ::umask(077);
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    ::umask(umask_before);
    throw failure("cannot bind {}: {}", endpoint, e.what());
  }
  ::umask(umask_before);
  const std::string path = endpoint.substr(kIpcScheme.size());
  if (::chmod(path.c_str(), kPrivateFileMode) != 0) {
    throw failure("{}: cannot make the socket private: {}", path, std::strerror(errno));
  }
}

ControlServer::ControlServer(zmq::context_t& context, const std::string& endpoint, Handlers handlers)
    : socket_(context, zmq::socket_type::rep), handlers_(std::move(handlers)) {
  socket_.set(zmq::sockopt::linger, 0);
  bind_private_ipc(socket_, endpoint);
}

SinkAck sink_ack(const SinkSummary& sink) {
  SinkAck ack;
  ack.next_sequence = static_cast<uint64_t>(std::max(0LL, sink.next_sequence));
  for (long long missing : sink.missing) {
    if (missing >= 0) ack.missing.push_back(static_cast<uint64_t>(missing));
  }
  return ack;
}

std::optional<SinkAck> parse_ack(std::string_view text) {
  SinkAck ack;
  bool first_number = true;
  while (true) {
    uint64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (end == text.data() || error != std::errc()) return std::nullopt;
    if (first_number) {
      ack.next_sequence = number;
    } else {
      if (number >= ack.next_sequence || (!ack.missing.empty() && number <= ack.missing.back())) return std::nullopt;
      if (ack.missing.size() == kMaxAckMissing) return std::nullopt;
      ack.missing.push_back(number);
    }
    first_number = false;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    if (text.empty()) return ack;
    if (text.size() < 2 || text[0] != ' ') return std::nullopt;
    text.remove_prefix(1);
  }
}

std::string ack_request(const SinkAck& ack) {
  std::string request = fmt::format("ack {}", ack.next_sequence);
  for (uint64_t missing : ack.missing) request += fmt::format(" {}", missing);
  return request;
}

std::string ControlServer::answer(const std::string& request) const {
  if (request == "status" || request == "footprint") return record_line(handlers_.status(request == "footprint"));
  ControlReply reply;
  const auto argument_of = [&](const std::string& verb) -> std::optional<std::string> {
    if (request.rfind(verb + " ", 0) != 0) return std::nullopt;
    return request.substr(verb.size() + 1);
  };
  if (request == "start") {
    handlers_.start();
    reply.ok = true;
  } else if (request == "stop") {
    handlers_.stop();
    reply.ok = true;
  } else if (const auto plan_dir = argument_of("switch")) {
    reply.error = plan_dir->empty()            ? "switch: give the plan directory: switch <plan_dir>"
                  : !handlers_.switch_plan     ? "this node does not switch plans"
                                               : handlers_.switch_plan(*plan_dir);
    reply.ok = reply.error.empty();
  } else if (request == "pause" || request == "resume") {
    reply.error = handlers_.pause ? handlers_.pause(request == "pause") : "this node has no source to pause";
    reply.ok = reply.error.empty();
  } else if (const auto arguments = argument_of("ack")) {
    const auto ack = parse_ack(*arguments);
    if (!ack) {
      reply.error = fmt::format(
          "ack: '{}' is not a sequence number and the missing ones below it, ascending (ack <sequence> [<missing> "
          "...])",
          *arguments);
    } else {
      reply.error = handlers_.ack ? handlers_.ack(*ack) : "this node takes no acks";
    }
    reply.ok = reply.error.empty();
  } else {
    reply.error =
        "unknown request (status, footprint, start, stop, switch <plan_dir>, ack <sequence> [<missing> ...], pause or "
        "resume)";
  }
  return record_line(reply);
}

void ControlServer::serve_pending() {
  zmq::message_t request;
  if (!socket_.recv(request, zmq::recv_flags::dontwait)) return;
  // A request in several parts is not one of ours: take the rest, answer
  // with an error (a REP socket must answer before it can receive again).
  bool multipart = false;
  while (request.more()) {
    multipart = true;
    zmq::message_t rest;
    if (!socket_.recv(rest, zmq::recv_flags::dontwait)) break;
    request.swap(rest);
  }
  const std::string reply = multipart ? record_line(ControlReply{false, "a request is one message: status, start, stop, switch <plan_dir>, "
                                                                   "ack <sequence> [<missing> ...], pause or resume"})
                                      : answer(request.to_string());
  socket_.send(zmq::buffer(reply), zmq::send_flags::none);
}

std::optional<NodeStatus> request_status(const std::string& endpoint, int timeout_ms, bool footprint) {
  const auto reply = round_trip(endpoint, footprint ? "footprint" : "status", timeout_ms);
  if (!reply) return std::nullopt;
  return parse_record<NodeStatus>(*reply, endpoint);
}

std::optional<ControlReply> request_control(const std::string& endpoint, const std::string& request, int timeout_ms) {
  const auto reply = round_trip(endpoint, request, timeout_ms);
  if (!reply) return std::nullopt;
  return parse_record<ControlReply>(*reply, endpoint);
}

std::string format_node_memory(const NodeMemory& memory) {
  const auto mb = [](int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; };
  const auto row = [&](const std::string& process, const std::string& pid, const std::string& replicas,
                       const ProcessMemory& m) {
    return fmt::format("{:<12} {:>8} {:<9} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f}\n", process, pid, replicas,
                       mb(m.rss_bytes), mb(m.pss_bytes), mb(m.uss_bytes), mb(m.anon_bytes), mb(m.file_bytes));
  };
  std::string out = fmt::format("{:<12} {:>8} {:<9} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "process", "pid", "replicas",
                                "RSS MB", "PSS MB", "USS MB", "anon MB", "file MB");
  out += row("supervisor", "", "", memory.supervisor);
  for (const WorkerProcessMemory& w : memory.workers) {
    out += row("worker", std::to_string(w.pid), fmt::format("{}", fmt::join(w.replicas, ",")), w.memory);
  }
  out += row("node (sum)", "", "", memory.total);
  out += fmt::format("node PSS {:.1f} MB: what its {} processes take together\n", mb(memory.total.pss_bytes),
                     memory.workers.size() + 1);
  if (memory.alone_bytes) {
    out += fmt::format("on a machine of their own: {:.1f} MB (each library's pages once, none shared with other "
                       "processes)\n",
                       mb(*memory.alone_bytes));
  }
  return out;
}

}  // namespace hare::runtime
