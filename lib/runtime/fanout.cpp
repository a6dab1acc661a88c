#include "runtime/fanout.h"

#include <cmath>

#include "common/error.h"

namespace hare::runtime {

WeightedRoundRobin::WeightedRoundRobin(std::vector<double> weights)
    : weights_(std::move(weights)), credit_(weights_.size(), 0.0) {
  if (weights_.empty()) throw failure("a sender needs at least one destination");
  for (double w : weights_) {
    if (!(w > 0.0)) throw failure("a destination's share must be positive, not {}", w);
    total_ += w;
  }
}

size_t WeightedRoundRobin::next() {
  size_t best = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    credit_[i] += weights_[i];
    if (credit_[i] > credit_[best]) best = i;
  }
  credit_[best] -= total_;
  return best;
}

std::vector<double> shares_of(const std::vector<Destination>& destinations) {
  std::vector<double> shares;
  for (const Destination& d : destinations) shares.push_back(d.share);
  return shares;
}

DestinationLists to_lists(const std::vector<Destination>& destinations) {
  DestinationLists lists;
  for (const Destination& d : destinations) {
    lists.endpoints.push_back(d.endpoint);
    lists.nodes.push_back(d.node);
    lists.shares.push_back(d.share);
    lists.codecs.push_back(codec_name(d.codec));
  }
  return lists;
}

std::vector<Destination> from_lists(const DestinationLists& lists) {
  const size_t n = lists.endpoints.size();
  const auto check = [n](size_t given, const char* flag) {
    if (given != 0 && given != n) {
      throw input_error(Location{}, "{} names {} value(s) for {} --downstream endpoint(s)", flag, given, n);
    }
  };
  check(lists.nodes.size(), "--downstream-node");
  check(lists.shares.size(), "--shares");
  check(lists.codecs.size(), "--codec");
  if (n > 1 && lists.shares.empty()) throw input_error(Location{}, "--shares: give each of the {} destinations its share", n);
  std::vector<Destination> out(n);
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    out[i].endpoint = lists.endpoints[i];
    if (!lists.nodes.empty()) out[i].node = lists.nodes[i];
    if (!lists.shares.empty()) out[i].share = lists.shares[i];
    if (!lists.codecs.empty()) {
      const auto codec = parse_codec(lists.codecs[i]);
      if (!codec) throw input_error(Location{}, "--codec: unknown codec '{}' (float32, float16, int8)", lists.codecs[i]);
      out[i].codec = *codec;
    }
    total += out[i].share;
  }
  if (std::abs(total - 1.0) > 1e-6) throw input_error(Location{}, "--shares sum to {:.6g}; they must sum to 1", total);
  return out;
}

Fanout::Fanout(zmq::context_t& context, const std::vector<Destination>& destinations, const DeploymentKeys* keys,
               int send_hwm, int linger_ms)
    : destinations_(destinations), order_(shares_of(destinations)) {
  for (const Destination& d : destinations_) {
    zmq::socket_t socket(context, zmq::socket_type::push);
    socket.set(zmq::sockopt::sndhwm, send_hwm);
    socket.set(zmq::sockopt::linger, linger_ms);
    if (keys != nullptr) make_curve_client(socket, *keys, d.node);
    try {
      socket.connect(d.endpoint);
    } catch (const zmq::error_t& error) {
      throw input_error(Location{}, "destination '{}' (node {}): {}", d.endpoint, d.node, error.what());
    }
    sockets_.push_back(std::move(socket));
  }
}

}  // namespace hare::runtime
