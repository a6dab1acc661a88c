#pragma once

// The plan directory written by hare-partition --out and read by hare-deploy
// and hare-node:
//
//   plan.yaml          what was decided and every prediction (hare-plan/1)
//   model.yaml         the model card (window, step, normalization, classes)
//   slices/stage-K.pt  standalone TorchScript of stage K's layers
//   manifest.yaml      SHA-256 and size of every other file (hare-manifest/1)
//
// A plan directory is built in a temporary sibling and renamed into place,
// so a reader never sees half a plan. Torch-free.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "artifacts/plan.h"

namespace hare::artifacts {

struct ManifestEntry {
  std::string sha256;
  int64_t bytes = 0;
};

// manifest.yaml (hare-manifest/1): relative path -> entry, for every file of
// the plan directory but the manifest itself. Read and written in the idiom
// of common/yaml_util.h.
using Manifest = std::map<std::string, ManifestEntry>;
Manifest parse_manifest(const std::string& text, const std::string& origin);
Manifest read_manifest(const std::string& path);
std::string manifest_to_yaml(const Manifest& manifest);
void write_manifest(const std::string& path, const Manifest& manifest);

// Every regular file under `dir` except manifest.yaml. A symlink is an
// input Error: a plan directory holds its own files, and a link could make
// a file of the plan any file of the machine.
Manifest scan_files(const std::string& dir);
// Writes dir/manifest.yaml for the files `dir` holds now.
void seal_plan_dir(const std::string& dir);
// Reads manifest.yaml and checks every file against it; throws an input
// Error naming the first file that is missing, extra, or differs.
// With require_all = false, files the manifest lists may be missing (a node
// holds only its own files), but every file present must match.
Manifest verify_plan_dir(const std::string& dir, bool require_all = true);

// A plan directory as hare-node and hare-deploy use it: verified
// (verify_plan_dir), its plan.yaml read, and every stage's slice a file
// inside the directory that the manifest lists, so that no slice is ever
// loaded unverified. Throws an input Error naming plan.yaml and the stage.
struct PlanDir {
  Manifest manifest;
  PlanDoc plan;
};
PlanDir load_plan_dir(const std::string& dir, bool require_all = true);

// The absolute path of a stage's slice, symlinks resolved, refused if it
// leads outside `dir` (common/fs.h: resolve_inside).
std::string slice_path(const std::string& dir, const PlanStage& stage);

// A fresh temporary directory next to `out` (same filesystem, so the final
// rename is atomic).
std::string make_staging_dir(const std::string& out);

enum class CommitResult { created, replaced, unchanged };

// Moves the finished staging directory to `out`. An existing `out` that holds
// the same plan (same manifest) is left alone (unchanged); a different plan
// is replaced only with `force`; a directory that is not a plan is never
// touched. The staging directory is removed in every case.
CommitResult commit_plan_dir(const std::string& staging, const std::string& out, bool force);

}  // namespace hare::artifacts
