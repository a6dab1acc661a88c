// yaml::as_codec, apart from the codecs themselves so that a program that
// only encodes and decodes (the worker) does not link yaml-cpp.

#include <fmt/format.h>

#include "runtime/codec.h"

namespace hare {

namespace yaml {

Codec as_codec(const Document& doc, const YAML::Node& node, const std::string& key) {
  const auto codec = parse_codec(as_string(doc, node, key));
  if (!codec) throw error_at(doc, node, fmt::format("'{}' must be float32, float16 or int8", key));
  return *codec;
}

}  // namespace yaml

}  // namespace hare
