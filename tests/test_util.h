#pragma once

// Helpers shared by the tests: a temporary directory that removes itself,
// file writers (plain and gzip), running a tool and capturing its output.

#include <functional>
#include <string>
#include <vector>

namespace hare::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A directory on a small disk of its own (a tmpfs of `kib` KiB, root only),
// to run out of space on purpose; unmounted and removed at the end.
class SmallDisk {
 public:
  explicit SmallDisk(int kib);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  const std::string& path() const { return dir_.path(); }
  std::string file(const std::string& name) const { return dir_.file(name); }
  // Fills it up, leaving about `kib_left` KiB free.
  void fill(int kib_left) const;
  // Remounts it read-only.
  void make_read_only() const;

 private:
  TempDir dir_;
};

void write_text(const std::string& path, const std::string& text);
void write_gzip(const std::string& path, const std::string& text);

// Absolute paths into the source tree and the build's bin/.
std::string source_path(const std::string& relative);
std::string tool_path(const std::string& tool);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Text that would create a file named hareprobe-PWNED in the working
// directory if a shell command spliced it instead of quoting it (short: run
// directories must keep their sockets within 107 characters).
constexpr const char* kShellPayload = "x'\";touch hareprobe-PWNED;$(touch hareprobe-PWNED)`id` \\ *";
// Every such file under the test bed user's home and /tmp (empty: none).
std::string shell_payload_traces();

// Runs a shell command line, capturing stdout and stderr separately.
RunResult run(const std::string& command);

// `text` with the first `from` replaced by `to`; throws if `from` is not there.
std::string replaced(std::string text, const std::string& from, const std::string& to);

// Every message of the Error that `body` throws (the first, then those that
// ride along), in order; empty if it does not throw.
std::vector<std::string> error_messages(const std::function<void()>& body);

// The process's umask while it lives (restored after): for tests that modes
// are set explicitly, not left to it. Not for tests that run threads which
// create files meanwhile.
class ScopedUmask {
 public:
  explicit ScopedUmask(unsigned mask);
  ~ScopedUmask();
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  unsigned previous_;
};

// "Another local user" for tests that run as root: nobody.
constexpr unsigned kOtherUid = 65534;

// Runs `body` in a forked child as kOtherUid (group too) and returns its exit
// code (1 if it throws, -1 if it does not end within 10 s or is killed).
int run_as_other_user(const std::function<int()>& body);

// Makes the directory `path` with exactly `mode`, whatever the umask;
// throws if it cannot.
void make_dir(const std::string& path, unsigned mode);

// connect(2) to the Unix socket at `path`: 0, or the errno it failed with.
int unix_connect_error(const std::string& path);

// The first of `count` consecutive loopback TCP ports that this process
// may listen on, so tests that deploy can run in parallel: chosen by the
// pid, below the kernel's ephemeral range (/proc/sys/net/ipv4/
// ip_local_port_range, where any outgoing connection may take a port), and
// checked free when chosen. The same block for the whole process.
int free_port_block(int count = 10);

// hare-partition with the shipped hare-cnn and its profiles, on the cluster
// config `cluster` (YAML text), its slices checked on subject 08: writes
// <dir>/<name>.cluster.yaml and the plan directory <dir>/<name>, returned.
// Plans of one deployment (for a switch between them) share `port`; 0 = this
// process's free_port_block(). Throws, with hare-partition's stderr, if it fails.
std::string partition_plan(const TempDir& dir, const std::string& cluster, const std::string& name = "plan",
                           int port = 0);

// A cluster config of three amd-epyc-2c nodes (gw, e1, e2; 2 GiB each), gw
// the source, links of 1000 Mbit/s and 0.5 ms with `codec`, whose pins force
// hare-cnn into three stages: conv1..conv2 on gw, conv3..pool on e1 (with
// `e1_cores` cores, room for as many replicas), fc1..out on e2.
std::string three_stage_cluster(const std::string& codec = "float32", int e1_cores = 1);

// A file's permission bits (mode & 07777), not following a link; -1 if it
// is not there.
int mode_of(const std::string& path);

// The shipped card of models/hare-cnn.pt, told that the model takes only
// its first `channels` channels: a card that lies about its model.
void write_lying_card(const std::string& path, int channels);

// Python-exported TorchScript fixtures (tests/fixtures/make_fixtures.py,
// run with Debian's python3-torch), made once per test process.
const std::string& python_fixtures();

// The model zoo (tests/fixtures/make_zoo.py: HAR architectures that are not
// layer chains, each scripted and traced), exported once per test process:
// the directory, and the models' names ("deepconvlstm.scripted", ...).
const std::string& python_zoo();
std::vector<std::string> python_zoo_names();

}  // namespace hare::test
