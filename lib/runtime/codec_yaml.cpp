// yaml::into_codec, apart from the codecs themselves so that a program that
// only encodes and decodes (the worker) does not link yaml-cpp.

#include <fmt/format.h>

#include "runtime/codec.h"

namespace hare {

namespace yaml {

Reader::FieldParser into_codec(Reader& reader, Codec& out, std::string key) {
  return [&reader, &out, key = std::move(key)](const YAML::Node& n) {
    const auto codec = parse_codec(reader.str(n, key));
    if (!codec) throw reader.error(n, fmt::format("'{}' must be float32, float16 or int8", key));
    out = *codec;
  };
}

}  // namespace yaml

}  // namespace hare
