#include "runtime/codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hare {

const char* codec_name(Codec codec) {
  switch (codec) {
    case Codec::float32: return "float32";
    case Codec::float16: return "float16";
    case Codec::int8: return "int8";
  }
  return "?";
}

std::optional<Codec> parse_codec(const std::string& name) {
  for (Codec c : {Codec::float32, Codec::float16, Codec::int8}) {
    if (name == codec_name(c)) return c;
  }
  return std::nullopt;
}

uint64_t wire_bytes(Codec codec, uint64_t values) {
  switch (codec) {
    case Codec::float32: return 4 * values;
    case Codec::float16: return 2 * values;
    case Codec::int8: return values + 4;
  }
  return 4 * values;
}

int64_t wire_bytes_of_payload(Codec codec, int64_t float32_bytes) {
  if (codec == Codec::float32 || float32_bytes <= 0) return float32_bytes;
  return static_cast<int64_t>(wire_bytes(codec, static_cast<uint64_t>(float32_bytes + 3) / 4));
}

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

void encode_values(Codec codec, const float* in, uint64_t values, uint8_t* out) {
  switch (codec) {
    case Codec::float32:
      std::memcpy(out, in, 4 * values);
      return;
    case Codec::float16:
      for (uint64_t i = 0; i < values; ++i) {
        const uint16_t h = float_to_half(in[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case Codec::int8: {
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
      return;
    }
  }
}

void decode_values(Codec codec, const uint8_t* in, uint64_t values, float* out) {
  switch (codec) {
    case Codec::float32:
      std::memcpy(out, in, 4 * values);
      return;
    case Codec::float16:
      for (uint64_t i = 0; i < values; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, in + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      return;
    case Codec::int8: {
      float scale = 0.0f;
      std::memcpy(&scale, in, 4);
      for (uint64_t i = 0; i < values; ++i) out[i] = static_cast<float>(static_cast<int8_t>(in[4 + i])) * scale;
      return;
    }
  }
}

}  // namespace hare
