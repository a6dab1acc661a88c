#include <catch2/catch.hpp>

#include <vector>

#include "common/error.h"
#include "runtime/fanout.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

namespace {

// How many of `n` choices went to each destination, and the largest gap
// between count and n * share after any prefix.
struct Spread {
  std::vector<long long> counts;
  double worst_lag = 0.0;
};
Spread spread(const std::vector<double>& shares, int n) {
  WeightedRoundRobin order(shares);
  Spread s;
  s.counts.assign(shares.size(), 0);
  for (int i = 1; i <= n; ++i) {
    ++s.counts[order.next()];
    for (size_t d = 0; d < shares.size(); ++d) {
      s.worst_lag = std::max(s.worst_lag, std::abs(static_cast<double>(s.counts[d]) - i * shares[d]));
    }
  }
  return s;
}

}  // namespace

TEST_CASE("smooth weighted round robin: 1000 windows split by the shares within one window each, at every point",
          "[runtime]") {
  const std::vector<std::vector<double>> cases = {
      {1.0}, {0.5, 0.5}, {0.6, 0.4}, {0.7, 0.2, 0.1}, {0.45, 0.3, 0.25}, {0.123, 0.456, 0.421}, {0.9, 0.05, 0.05}};
  for (const auto& shares : cases) {
    INFO("shares " << Catch::Detail::stringify(shares));
    const Spread s = spread(shares, 1000);
    for (size_t d = 0; d < shares.size(); ++d) CHECK(std::abs(static_cast<double>(s.counts[d]) - 1000 * shares[d]) <= 1.0);
    CHECK(s.worst_lag < 1.0 + 1e-9);  // smooth: never a burst to one member
  }
}

TEST_CASE("smooth weighted round robin is deterministic, and spreads 3:2 as A B A B A", "[runtime]") {
  WeightedRoundRobin first({0.6, 0.4});
  WeightedRoundRobin second({0.6, 0.4});
  std::vector<size_t> a, b;
  for (int i = 0; i < 50; ++i) {
    a.push_back(first.next());
    b.push_back(second.next());
  }
  CHECK(a == b);
  CHECK(std::vector<size_t>(a.begin(), a.begin() + 10) == std::vector<size_t>{0, 1, 0, 1, 0, 0, 1, 0, 1, 0});
  CHECK_THROWS_WITH(WeightedRoundRobin({}), Catch::Contains("at least one destination"));
  CHECK_THROWS_WITH(WeightedRoundRobin({1.0, 0.0}), Catch::Contains("must be positive"));
}

TEST_CASE("a worker's destinations go through its command line as parallel lists and back", "[runtime]") {
  const std::vector<Destination> group = {Destination{"tcp://10.0.0.2:5551", "e1", 0.6, Codec::float16},
                                          Destination{"tcp://10.0.0.3:5552", "e2", 0.4, Codec::int8}};
  const std::vector<Destination> back = from_lists(to_lists(group));
  REQUIRE(back.size() == 2);
  CHECK(back[1].endpoint == "tcp://10.0.0.3:5552");
  CHECK(back[1].node == "e2");
  CHECK(back[1].share == 0.4);
  CHECK(back[1].codec == Codec::int8);
  // One destination, as before groups: no shares, no codec, no node needed.
  const std::vector<Destination> one = from_lists({{"tcp://10.0.0.2:5551"}, {}, {}, {}});
  REQUIRE(one.size() == 1);
  CHECK(one[0].share == 1.0);
  CHECK(one[0].codec == Codec::float32);
  CHECK(test::error_messages([] { from_lists({{"tcp://a:1", "tcp://b:2"}, {}, {0.5}, {}}); }) ==
        std::vector<std::string>{"--shares names 1 value(s) for 2 --downstream endpoint(s)"});
  CHECK(test::error_messages([] { from_lists({{"tcp://a:1", "tcp://b:2"}, {}, {}, {}}); }) ==
        std::vector<std::string>{"--shares: give each of the 2 destinations its share"});
  CHECK(test::error_messages([] { from_lists({{"tcp://a:1", "tcp://b:2"}, {}, {0.5, 0.6}, {}}); }) ==
        std::vector<std::string>{"--shares sum to 1.1; they must sum to 1"});
}
