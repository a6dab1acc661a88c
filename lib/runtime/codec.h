#pragma once

// Activation compression on a link: how a float32 tensor travels between
// two nodes. Chosen per link in the cluster config (`codec:`), counted by
// the cost model (wire_bytes) and applied by the runtime and by the
// planner's equivalence check alike, with this one implementation.
//
//   float32  as is (lossless)
//   float16  IEEE half precision, round to nearest even: 2 bytes a value
//            (relative error <= 2^-11 in the normal range)
//   int8     symmetric per-tensor: a float32 scale s = max|x| / 127, then
//            round(x / s) in -127..127: 1 byte a value + 4 (error <= s/2)

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/yaml_util.h"

namespace hare {

enum class Codec : uint8_t { float32 = 1, float16 = 2, int8 = 3 };

const char* codec_name(Codec codec);
std::optional<Codec> parse_codec(const std::string& name);  // "float32", "float16", "int8"

// Bytes on the wire for `values` float32 values.
uint64_t wire_bytes(Codec codec, uint64_t values);
// The same for a float32 payload of `float32_bytes`.
int64_t wire_bytes_of_payload(Codec codec, int64_t float32_bytes);

// out must hold wire_bytes(codec, values) bytes.
void encode_values(Codec codec, const float* in, uint64_t values, uint8_t* out);
// in holds wire_bytes(codec, values) bytes; out holds `values` floats.
void decode_values(Codec codec, const uint8_t* in, uint64_t values, float* out);

// IEEE 754 binary16 conversions (exposed for tests).
uint16_t float_to_half(float value);
float half_to_float(uint16_t half);

namespace yaml {
// A Reader field parser for one of the codecs' names, as Reader::into reads
// other values (here, with the codecs, because common does not know them).
Reader::FieldParser into_codec(Reader& reader, Codec& out, std::string key);
}  // namespace yaml

}  // namespace hare
