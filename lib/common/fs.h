#pragma once

// File helpers. Writes are atomic (temporary file in the same directory, then
// rename), so an interrupted or failed run never leaves a half-written file
// where a good one was.
//
// Run state — a node's or a local deployment's sockets, predictions, logs,
// summary and report — lives in a private directory made by
// make_private_dir and is written only through open_private_file or
// write_file_atomic(..., FileAccess::owner_only). The default run directory
// (/tmp/hare-<node>) is a name any local user can take first, and a node may
// run as root: so an existing directory is trusted only if it is this user's
// own, nobody else can add files to it, and no file in it is opened through a
// symlink. Modes are set explicitly, never left to the umask. Parent
// directories are trusted as they are (see docs/design.md, Known limits).

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace hare {

constexpr mode_t kPrivateDirMode = 0700;
constexpr mode_t kPrivateFileMode = 0600;

// A directory where a file is expected reads as empty (ifstream opens it):
// refused with an input error naming it. Nothing if it is not a directory.
void refuse_directory(const std::string& path);

std::string read_file(const std::string& path);

// mkdir -p for outputs the user names (--out): a part of the path that is a
// file, or a directory that cannot be written, is an input error naming it;
// any other error is a failure naming the path.
void make_dirs(const std::string& path);

// Who may read a file written by write_file_atomic: `shared` gets 0666 less
// the umask (plans, profiles, model cards: outputs the user hands around);
// `owner_only` gets exactly 0600 (run state).
enum class FileAccess { shared, owner_only };

// Writes `content` to `path` through a temporary next to it, created with
// O_EXCL|O_NOFOLLOW (never through a planted file or link), then renamed
// over `path` (a symlink at `path` is replaced, its target untouched).
// Creates missing parent directories. Throws a failure naming the file.
void write_file_atomic(const std::string& path, const std::string& content,
                       FileAccess access = FileAccess::shared);

// Makes `path` a private run directory, or checks that it already is one.
//   - Missing: created with mode 0700 (fchmod after mkdir, whatever the
//     umask); missing parents are created 0755.
//   - Existing: accepted only if it is a directory itself (not a symlink to
//     one), owned by the effective user, and neither group- nor
//     world-writable. Its mode is left as it is (0755 is fine: the files and
//     sockets in it are 0600).
// Anything else throws an input error (exit 2) naming the directory, what is
// wrong with it and what to do, having changed nothing. Errors of the system
// calls themselves are failures naming the path.
void make_private_dir(const std::string& path);

// Opens `path` (a file in a private directory) for writing: O_NOFOLLOW and
// O_CLOEXEC are added to `flags`, O_CREAT too, and the file's mode is set to
// exactly 0600 (fchmod, whatever the umask or its previous mode). A symlink at
// `path` is refused with an input error (exit 2) naming it; its target is
// neither opened nor changed. Returns the descriptor; other errors are
// failures naming the path.
int open_private_file(const std::string& path, int flags);

// Paths hare derives from input (a plan's slice, a manifest's entry, the
// remote directory) stay inside their root. Two checks, one lexical and
// one on the filesystem:
//
// Why `path` is not a relative path that stays inside whatever it is
// joined to: empty, absolute, or with a ".." component (or a NUL byte).
// Nothing if it is one. Needs no filesystem: readers check it where they
// read the value, with its file:line:col.
std::optional<std::string> relative_path_problem(std::string_view path);

// root/relative as an absolute path with every symlink resolved, checked
// to be inside root (resolved too): refuses what relative_path_problem
// refuses, and a symlink on the way that leads out of root. The file need
// not exist. Throws an input Error at `root` naming `what` (e.g. "stage 2's
// slice") and the path.
std::string resolve_inside(const std::string& root, const std::string& relative, const std::string& what);

}  // namespace hare
