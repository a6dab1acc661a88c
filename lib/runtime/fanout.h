#pragma once

// Sending into a stage group: a sender (the source, or a worker replica of
// the stage before) holds one socket per member of the group it sends to
// and gives each window to ONE member, chosen by smooth weighted round
// robin with the members' shares as weights (nginx's upstream balancing):
// every step each member's credit grows by its weight, the member with the
// most credit (the first on ties) is chosen and pays the total weight back.
// Deterministic, and after n windows each member has had n * share of them
// within one window, spread evenly rather than in bursts (shares 0.6/0.4
// give A B A B A, A B A B A, ...). A window waits for its chosen member
// while that member's queue is full (transport.h send_with_backpressure),
// so back-pressure works per member as it did with one.
//
// Not thread-safe: each sending thread owns its Fanout.

#include <cstddef>
#include <vector>

#include <zmq.hpp>

#include "runtime/keys.h"
#include "runtime/node_spec.h"

namespace hare::runtime {

class WeightedRoundRobin {
 public:
  // weights > 0, at least one.
  explicit WeightedRoundRobin(std::vector<double> weights);
  // The index of the next choice.
  size_t next();

 private:
  std::vector<double> weights_;
  std::vector<double> credit_;
  double total_ = 0.0;
};

class Fanout {
 public:
  // One PUSH socket per destination, connected now; with `keys`, each a
  // CURVE client of its destination's node.
  Fanout(zmq::context_t& context, const std::vector<Destination>& destinations, const DeploymentKeys* keys, int send_hwm,
         int linger_ms);

  // The destination of the next window.
  size_t choose() { return order_.next(); }
  const Destination& destination(size_t i) const { return destinations_[i]; }
  zmq::socket_t& socket(size_t i) { return sockets_[i]; }
  size_t size() const { return sockets_.size(); }

 private:
  std::vector<Destination> destinations_;
  std::vector<zmq::socket_t> sockets_;
  WeightedRoundRobin order_;
};

// The shares of `destinations`, as weights.
std::vector<double> shares_of(const std::vector<Destination>& destinations);

// A worker's command line carries its destinations as parallel lists
// (hare-worker --downstream, --downstream-node, --shares, --codec; no
// secrets), which ProcessLauncher writes and hare-worker reads with these.
struct DestinationLists {
  std::vector<std::string> endpoints;
  std::vector<std::string> nodes;   // empty: not needed (--insecure)
  std::vector<double> shares;       // empty: 1 for a single destination
  std::vector<std::string> codecs;  // codec names; empty: float32 for all
};
DestinationLists to_lists(const std::vector<Destination>& destinations);
// Throws an input Error when the lists' lengths disagree or the shares do
// not sum to 1.
std::vector<Destination> from_lists(const DestinationLists& lists);

}  // namespace hare::runtime
