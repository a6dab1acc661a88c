#pragma once

// Building the solver's Problem from a cluster config, the profiles of the
// nodes' device types, and the model card's window rate.

#include <map>
#include <string>

#include "data/model_card.h"
#include "partition/cluster.h"
#include "partition/cost_model.h"
#include "profile/profile.h"

namespace hare::partition {

// Replaces `device: local` by this machine's device id (as hare-profile names it).
void resolve_local_devices(ClusterConfig& cluster);

// Reads <profiles_dir>/<device>/<card.name>.yaml for every device the
// cluster names; errors name the node and the missing file (with the devices
// that do have a profile of this model). Each profile must name the model's
// SHA-256 and describe what its card (read from `card_path`) says: the same
// top-level layers in order (when the card lists them), the card's input
// shape, and a last output of [1, classes]; else an input Error naming the
// profile.
std::map<std::string, profile::Profile> load_profiles(const ClusterConfig& cluster, const std::string& profiles_dir,
                                                      const data::ModelCard& card, const std::string& card_path,
                                                      const std::string& model_sha256);

// λ = streams × rate_hz / step_samples unless the config sets window_rate_hz.
double window_rate(const ClusterConfig& cluster, double sample_rate_hz, int step_samples);

// Checks that the profiles describe the same layers, resolves pins to layer
// indices, and fills in the problem. An input Error if the cluster's source
// or sink is not among its nodes (a measured cluster without a lost node).
Problem build_problem(const ClusterConfig& cluster, const std::map<std::string, profile::Profile>& profiles,
                      double window_rate);

// What planning a model on a cluster starts from, read and checked in one
// place for hare-partition and bench/edge_vs_cloud: the model card (its
// model_sha256 must match the model file), the cluster with `device: local`
// resolved, the profiles of its devices, and the problem at `speed` times
// the workload's window rate (hare-deploy --speed). card_path "" = <model>.yaml.
struct PlanningInputs {
  data::ModelCard card;
  ClusterConfig cluster;
  std::map<std::string, profile::Profile> profiles;
  Problem problem;
};
PlanningInputs load_planning_inputs(const std::string& model_path, const std::string& card_path,
                                    const std::string& cluster_path, const std::string& profiles_dir, double speed);

}  // namespace hare::partition
