// hare-netdelay: one-way network latency for the test bed, in user space.
//
// tc netem is missing from this kernel, so the test bed delays packets the
// way a router would, one level up: an iptables rule in a host's namespace
// hands every packet arriving from another test bed host to NFQUEUE, and
// this program holds each one for the link's one-way latency before
// accepting it. Packets from one sender are delivered in the order they came
// (constant delay, FIFO). Delaying on arrival rather than on departure
// matters: a packet held on its way out still belongs to its socket, and TCP
// small queues would throttle the sender to a few packets per round trip.
//
//   hare-netdelay --queue N --delay MS [--from ADDRESS=MS ...]
//
// Exits on SIGTERM/SIGINT; packets still held are released by the kernel
// when the queue is unbound.

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <queue>
#include <string>
#include <vector>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace {

volatile sig_atomic_t stop_requested = 0;

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

struct Held {
  int64_t due_ns;
  uint64_t order;  // arrival order breaks ties, so equal delays stay FIFO
  uint32_t id;
  bool operator>(const Held& other) const { return due_ns != other.due_ns ? due_ns > other.due_ns : order > other.order; }
};

struct State {
  int64_t default_delay_ns = 0;
  std::map<uint32_t, int64_t> delay_from;  // sender (network order) -> ns
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  uint64_t arrivals = 0;
};

int on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* packet, void* data) {
  auto& state = *static_cast<State*>(data);
  const nfqnl_msg_packet_hdr* header = nfq_get_msg_packet_hdr(packet);
  if (header == nullptr) return 0;
  int64_t delay = state.default_delay_ns;
  unsigned char* payload = nullptr;
  if (nfq_get_payload(packet, &payload) >= static_cast<int>(sizeof(iphdr))) {
    iphdr ip{};
    std::memcpy(&ip, payload, sizeof ip);
    if (auto it = state.delay_from.find(ip.saddr); it != state.delay_from.end()) delay = it->second;
  }
  state.held.push({now_ns() + delay, state.arrivals++, ntohl(header->packet_id)});
  return 0;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "hare-netdelay: %s\nusage: hare-netdelay --queue N --delay MS [--from ADDRESS=MS ...]\n", why);
  std::exit(2);
}

int64_t parse_ms(const std::string& text) {
  char* end = nullptr;
  const double ms = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || ms < 0 || ms > 10'000) usage(("not a delay in ms: '" + text + "'").c_str());
  return static_cast<int64_t>(ms * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  State state;
  int queue = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--queue") {
      queue = std::atoi(value.c_str());
    } else if (arg == "--delay") {
      state.default_delay_ns = parse_ms(value);
    } else if (arg == "--from") {
      const auto eq = value.find('=');
      in_addr address{};
      if (eq == std::string::npos || inet_pton(AF_INET, value.substr(0, eq).c_str(), &address) != 1) {
        usage(("--from wants ADDRESS=MS, got '" + value + "'").c_str());
      }
      state.delay_from[address.s_addr] = parse_ms(value.substr(eq + 1));
    } else {
      usage(("unknown option " + arg).c_str());
    }
  }
  if (queue < 0 || queue > 65535) usage("--queue N (0-65535) is required");

  struct sigaction action{};
  action.sa_handler = [](int) { stop_requested = 1; };
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  nfq_handle* handle = nfq_open();
  if (handle == nullptr) {
    std::perror("hare-netdelay: nfq_open (needs root or CAP_NET_ADMIN)");
    return 1;
  }
  nfq_q_handle* queue_handle = nfq_create_queue(handle, static_cast<uint16_t>(queue), &on_packet, &state);
  if (queue_handle == nullptr) {
    std::fprintf(stderr, "hare-netdelay: cannot bind queue %d (is another hare-netdelay running in this namespace?)\n", queue);
    return 1;
  }
  // Only the IPv4 header is needed (the sender); GSO packets stay whole.
  if (nfq_set_mode(queue_handle, NFQNL_COPY_PACKET, sizeof(iphdr)) < 0 ||
      nfq_set_queue_maxlen(queue_handle, 65536) < 0 ||
      nfq_set_queue_flags(queue_handle, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0) {
    std::perror("hare-netdelay: configuring the queue");
    return 1;
  }
  nfnl_rcvbufsiz(nfq_nfnlh(handle), 8 << 20);
  const int fd = nfq_fd(handle);
  std::vector<char> buffer(64 * 1024);
  while (stop_requested == 0) {
    const int64_t now = now_ns();
    while (!state.held.empty() && state.held.top().due_ns <= now) {
      nfq_set_verdict(queue_handle, state.held.top().id, NF_ACCEPT, 0, nullptr);
      state.held.pop();
    }
    timespec timeout{1, 0};
    if (!state.held.empty()) {
      const int64_t wait = state.held.top().due_ns - now;
      timeout = {static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    }
    pollfd item{fd, POLLIN, 0};
    if (ppoll(&item, 1, &timeout, nullptr) > 0) {
      for (;;) {
        const ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0) {
          if (errno == ENOBUFS) {
            std::fprintf(stderr, "hare-netdelay: the kernel dropped queue messages (ENOBUFS); delays may be short\n");
            continue;
          }
          break;  // EAGAIN: drained
        }
        nfq_handle_packet(handle, buffer.data(), static_cast<int>(n));
      }
    }
  }
  nfq_destroy_queue(queue_handle);
  nfq_close(handle);
  return 0;
}
