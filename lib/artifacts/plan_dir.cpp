#include "artifacts/plan_dir.h"

#include <unistd.h>

#include <filesystem>
#include <random>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "common/yaml_util.h"

namespace hare::artifacts {
namespace fs = std::filesystem;

Manifest scan_files(const std::string& dir) {
  Manifest files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string relative = fs::relative(entry.path(), dir).generic_string();
    if (entry.is_symlink()) {
      throw input_error(Location{entry.path().string()}, "is a symlink; a plan directory holds regular files only")
          .with_hint("copy the file into the plan directory, or write the plan again with hare-partition --out");
    }
    if (!entry.is_regular_file()) continue;
    if (relative == "manifest.yaml") continue;
    files[relative] = ManifestEntry{sha256_file(entry.path().string()), static_cast<int64_t>(entry.file_size())};
  }
  return files;
}

std::string manifest_to_yaml(const Manifest& files) {
  const char* const comment = "SHA-256 and size of every file of this plan directory";
  return yaml::write_document("hare-manifest/1", comment, [&](YAML::Emitter& out) {
    out << YAML::Key << "files" << YAML::Value << YAML::BeginMap;
    for (const auto& [path, entry] : files) {
      out << YAML::Key << path << YAML::Value << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "sha256" << YAML::Value << entry.sha256;
      out << YAML::Key << "bytes" << YAML::Value << entry.bytes;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  });
}

void write_manifest(const std::string& path, const Manifest& manifest) {
  write_file_atomic(path, manifest_to_yaml(manifest));
}

Manifest parse_manifest(const std::string& text, const std::string& origin) {
  yaml::Reader r(text, origin, "hare-manifest/1", "manifest");
  r.keys(r.root(), {"format", "files"});
  Manifest manifest;
  r.required(r.root(), "files", [&](const YAML::Node& files) {
    if (!files.IsMap()) throw r.error(files, "'files' must map paths to {sha256, bytes}");
    for (const auto& file : files) {
      ManifestEntry entry;
      r.keys(file.second, {"sha256", "bytes"});
      r.required(file.second, "sha256", [&](const YAML::Node& n) { entry.sha256 = r.str(n, "sha256"); });
      r.required(file.second, "bytes", [&](const YAML::Node& n) { entry.bytes = r.at_least(n, "bytes", 0); });
      if (!file.second.IsMap()) r.add(file.second, "each file needs {sha256, bytes}");
      r.guard([&] { manifest[r.relative_path(file.first, "file")] = entry; });
    }
  });
  r.finish();
  return manifest;
}

Manifest read_manifest(const std::string& path) { return parse_manifest(read_file(path), path); }

void seal_plan_dir(const std::string& dir) {
  write_manifest((fs::path(dir) / "manifest.yaml").string(), scan_files(dir));
}

Manifest verify_plan_dir(const std::string& dir, bool require_all) {
  const std::string path = (fs::path(dir) / "manifest.yaml").string();
  if (!fs::exists(path)) {
    throw input_error(Location{dir}, "not a plan directory (no manifest.yaml)")
        .with_hint("write one with hare-partition --out DIR");
  }
  const Manifest listed = read_manifest(path);
  const auto actual = scan_files(dir);
  for (const auto& [file, entry] : listed) {
    const auto it = actual.find(file);
    if (it == actual.end()) {
      if (!require_all) continue;
      throw input_error(Location{dir}, "file {} listed in the manifest is missing", file);
    }
    if (it->second.sha256 != entry.sha256) {
      throw input_error(Location{(fs::path(dir) / file).string()}, "checksum mismatch: manifest says {}, file has {}",
                        entry.sha256.substr(0, 16), it->second.sha256.substr(0, 16))
          .with_hint("the plan directory was modified or corrupted; write it again with hare-partition --out");
    }
  }
  for (const auto& [file, entry] : actual) {
    if (listed.count(file) == 0) throw input_error(Location{dir}, "file {} is not in the manifest", file);
  }
  return listed;
}

PlanDir load_plan_dir(const std::string& dir, bool require_all) {
  PlanDir loaded;
  loaded.manifest = verify_plan_dir(dir, require_all);
  const std::string plan_path = (fs::path(dir) / "plan.yaml").string();
  loaded.plan = read_plan(plan_path);
  for (const PlanStage& stage : loaded.plan.stages) {
    if (loaded.manifest.count(stage.slice) == 0) {
      throw input_error(Location{plan_path}, "stage {}'s slice {} is not in the plan's manifest", stage.index, stage.slice)
          .with_hint("a slice must be a file of the plan directory; write the plan again with hare-partition --out");
    }
    slice_path(dir, stage);
  }
  return loaded;
}

std::string slice_path(const std::string& dir, const PlanStage& stage) {
  return resolve_inside(dir, stage.slice, fmt::format("stage {}'s slice", stage.index));
}

std::string make_staging_dir(const std::string& out) {
  const fs::path target = fs::absolute(out);
  make_dirs(target.parent_path().string());
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const fs::path candidate =
        target.parent_path() / fmt::format(".{}.staging-{}-{:x}", target.filename().string(), ::getpid(), random());
    std::error_code ec;
    if (fs::create_directory(candidate, ec)) return candidate.string();
  }
  throw failure("{}: cannot create a staging directory next to it", out);
}

CommitResult commit_plan_dir(const std::string& staging, const std::string& out, bool force) {
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ec;
      if (!path.empty()) fs::remove_all(path, ec);
    }
  } cleanup{staging};
  std::error_code ec;
  if (!fs::exists(out, ec)) {
    fs::rename(staging, out, ec);
    if (ec) throw failure("{}: cannot move the plan into place: {}", out, ec.message());
    cleanup.path.clear();
    return CommitResult::created;
  }
  if (!fs::is_directory(out) || !fs::exists(fs::path(out) / "manifest.yaml")) {
    const bool empty = fs::is_directory(out) && fs::is_empty(out);
    if (!empty) {
      throw input_error(Location{out}, "exists and is not a plan directory; refusing to touch it")
          .with_hint("choose another --out");
    }
    fs::remove(out, ec);
    fs::rename(staging, out, ec);
    if (ec) throw failure("{}: cannot move the plan into place: {}", out, ec.message());
    cleanup.path.clear();
    return CommitResult::created;
  }
  if (read_file((fs::path(out) / "manifest.yaml").string()) == read_file((fs::path(staging) / "manifest.yaml").string())) {
    return CommitResult::unchanged;
  }
  if (!force) {
    throw input_error(Location{out}, "holds a different plan; not overwriting it")
        .with_hint("pass --force to replace it, or choose another --out");
  }
  // Swap: the old plan moves aside, the new one in, then the old one goes.
  const std::string old = staging + ".old";
  fs::rename(out, old, ec);
  if (ec) throw failure("{}: cannot move the old plan aside: {}", out, ec.message());
  fs::rename(staging, out, ec);
  if (ec) {
    fs::rename(old, out);  // put the old plan back
    throw failure("{}: cannot move the plan into place: {}", out, ec.message());
  }
  cleanup.path = old;
  return CommitResult::replaced;
}

}  // namespace hare::artifacts
