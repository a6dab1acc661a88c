#pragma once

// Commands for a node's POSIX shell, run over SSH. Every piece of text that
// hare splices into such a command goes through shell_quote: one quoting
// rule, so that a node name, a path or a flag value with a quote, a space, a
// `$`, a backslash or a newline reaches the remote program as it was.

#include <string>
#include <string_view>
#include <vector>

namespace hare::deploy {

// `text` as one literal word: single-quoted, each ' written as '\''.
// Nothing inside is expanded by the shell.
std::string shell_quote(std::string_view text);

// A path under the remote login directory, as shell text: "$HOME"/'<parts
// joined by />'. $HOME expands on the node; the rest is literal. Empty parts
// are skipped.
std::string home_path(const std::vector<std::string>& parts);

// Words as one command line: each quoted, separated by spaces. For shell
// text that must stay unquoted (a home_path, a redirection) append it to the
// result.
std::string shell_words(const std::vector<std::string>& words);

}  // namespace hare::deploy
