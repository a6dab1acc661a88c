#include "runtime/codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hare {

uint16_t float_to_half(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t exponent = (bits >> 23) & 0xffu;
  uint32_t mantissa = bits & 0x7fffffu;
  if (exponent == 0xffu) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa != 0 ? 0x200u : 0u));  // inf, nan
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow: inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in, round to nearest even.
    if (e < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - e;
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u) != 0)) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) != 0)) ++half;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | half);
}

float half_to_float(uint16_t half) {
  const uint32_t sign = (static_cast<uint32_t>(half) & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mantissa <<= 1;
      } while ((mantissa & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  }
  float value = 0.0f;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

namespace {

// Each codec in one place: its name, its wire layout and both directions.
// float16: 2 bytes a value; int8: a float32 scale, then 1 byte a value.
void encode_float32(const float* in, uint64_t values, uint8_t* out) { std::memcpy(out, in, 4 * values); }
void decode_float32(const uint8_t* in, uint64_t values, float* out) { std::memcpy(out, in, 4 * values); }

void encode_float16(const float* in, uint64_t values, uint8_t* out) {
  for (uint64_t i = 0; i < values; ++i) {
    const uint16_t h = float_to_half(in[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}
void decode_float16(const uint8_t* in, uint64_t values, float* out) {
  for (uint64_t i = 0; i < values; ++i) {
    uint16_t h = 0;
    std::memcpy(&h, in + 2 * i, 2);
    out[i] = half_to_float(h);
  }
}

void encode_int8(const float* in, uint64_t values, uint8_t* out) {
  float largest = 0.0f;
  for (uint64_t i = 0; i < values; ++i) {
    if (std::isfinite(in[i])) largest = std::max(largest, std::fabs(in[i]));
  }
  const float scale = largest > 0.0f ? largest / 127.0f : 1.0f;
  std::memcpy(out, &scale, 4);
  for (uint64_t i = 0; i < values; ++i) {
    const float q = std::isfinite(in[i]) ? std::nearbyint(in[i] / scale) : 0.0f;
    out[4 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f)));
  }
}
void decode_int8(const uint8_t* in, uint64_t values, float* out) {
  float scale = 0.0f;
  std::memcpy(&scale, in, 4);
  for (uint64_t i = 0; i < values; ++i) out[i] = static_cast<float>(static_cast<int8_t>(in[4 + i])) * scale;
}

struct CodecSpec {
  Codec codec;
  const char* name;
  uint64_t bytes_per_value;
  uint64_t header_bytes;
  void (*encode)(const float* in, uint64_t values, uint8_t* out);
  void (*decode)(const uint8_t* in, uint64_t values, float* out);
};

constexpr CodecSpec kCodecs[] = {
    {Codec::float32, "float32", 4, 0, encode_float32, decode_float32},
    {Codec::float16, "float16", 2, 0, encode_float16, decode_float16},
    {Codec::int8, "int8", 1, 4, encode_int8, decode_int8},
};

// nullptr for a byte off the wire that names no codec.
const CodecSpec* find_spec(Codec codec) {
  for (const CodecSpec& spec : kCodecs) {
    if (spec.codec == codec) return &spec;
  }
  return nullptr;
}

}  // namespace

const char* codec_name(Codec codec) {
  const CodecSpec* spec = find_spec(codec);
  return spec != nullptr ? spec->name : "?";
}

std::optional<Codec> parse_codec(const std::string& name) {
  for (const CodecSpec& spec : kCodecs) {
    if (name == spec.name) return spec.codec;
  }
  return std::nullopt;
}

uint64_t wire_bytes(Codec codec, uint64_t values) {
  const CodecSpec* spec = find_spec(codec);
  if (spec == nullptr) return 4 * values;
  return spec->header_bytes + spec->bytes_per_value * values;
}

int64_t wire_bytes_of_payload(Codec codec, int64_t float32_bytes) {
  if (codec == Codec::float32 || float32_bytes <= 0) return float32_bytes;
  return static_cast<int64_t>(wire_bytes(codec, static_cast<uint64_t>(float32_bytes + 3) / 4));
}

void encode_values(Codec codec, const float* in, uint64_t values, uint8_t* out) {
  if (const CodecSpec* spec = find_spec(codec)) spec->encode(in, values, out);
}

void decode_values(Codec codec, const uint8_t* in, uint64_t values, float* out) {
  if (const CodecSpec* spec = find_spec(codec)) spec->decode(in, values, out);
}

}  // namespace hare
