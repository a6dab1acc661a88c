#pragma once

// Building the solver's Problem from a cluster config, the profiles of the
// nodes' device types, and the model card's window rate.

#include <map>
#include <string>

#include "partition/cluster.h"
#include "partition/cost_model.h"
#include "profile/profile.h"

namespace hare::partition {

// Replaces `device: local` by this machine's device id (as hare-profile names it).
void resolve_local_devices(ClusterConfig& cluster);

// Reads <profiles_dir>/<device>/<model_name>.yaml for every device the
// cluster names; errors name the node and the missing file (with the devices
// that do have a profile of this model).
std::map<std::string, profile::Profile> load_profiles(const ClusterConfig& cluster, const std::string& profiles_dir,
                                                      const std::string& model_name, const std::string& model_sha256);

// λ = streams × rate_hz / step_samples unless the config sets window_rate_hz.
double window_rate(const ClusterConfig& cluster, double sample_rate_hz, int step_samples);

// Checks that the profiles describe the same layers, resolves pins to layer
// indices, and fills in the problem.
Problem build_problem(const ClusterConfig& cluster, const std::map<std::string, profile::Profile>& profiles,
                      double window_rate);

}  // namespace hare::partition
