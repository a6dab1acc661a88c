#include "runtime/frame.h"

#include <time.h>

#include <cstring>

#include "runtime/codec.h"

namespace hare::runtime {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire format is little-endian; add byte swapping");

namespace {

template <typename T>
void put(uint8_t* out, size_t offset, T value) {
  std::memcpy(out + offset, &value, sizeof value);
}

template <typename T>
T get(const uint8_t* in, size_t offset) {
  T value;
  std::memcpy(&value, in + offset, sizeof value);
  return value;
}

constexpr size_t kTraceOffset = 104;
constexpr size_t kTraceEntryBytes = 32;

}  // namespace

uint64_t FrameHeader::payload_bytes() const {
  if (shape.empty()) return 0;
  uint64_t elements = 1;
  for (int64_t d : shape) elements *= static_cast<uint64_t>(d);
  return wire_bytes(static_cast<Codec>(dtype), elements);
}

const float* frame_values(const FrameView& frame, std::vector<float>& scratch) {
  if (frame.header.dtype == DType::float32) return frame.data;
  scratch.resize(frame.values);
  decode_values(static_cast<Codec>(frame.header.dtype), frame.payload, frame.values, scratch.data());
  return scratch.data();
}

const char* decode_error_name(DecodeError error) {
  switch (error) {
    case DecodeError::none: return "none";
    case DecodeError::too_short: return "shorter than the header";
    case DecodeError::bad_magic: return "bad magic (not a hare frame)";
    case DecodeError::bad_version: return "unsupported version";
    case DecodeError::bad_kind: return "unknown frame kind";
    case DecodeError::bad_dtype: return "unknown dtype";
    case DecodeError::bad_rank: return "rank out of range";
    case DecodeError::bad_shape: return "bad shape";
    case DecodeError::bad_trace: return "bad trace";
    case DecodeError::size_mismatch: return "payload size does not match the shape";
    case DecodeError::too_large: return "payload too large";
  }
  return "?";
}

void encode_header(const FrameHeader& h, uint64_t payload_bytes, uint8_t* out) {
  std::memset(out, 0, kHeaderBytes);
  put<uint32_t>(out, 0, kMagic);
  put<uint16_t>(out, 4, kVersion);
  put<uint16_t>(out, 6, static_cast<uint16_t>(h.kind));
  put<uint64_t>(out, 8, h.sequence);
  put<uint32_t>(out, 16, h.stream);
  put<int32_t>(out, 20, h.label);
  put<uint16_t>(out, 24, h.destination);
  put<uint8_t>(out, 26, static_cast<uint8_t>(h.dtype));
  put<uint8_t>(out, 27, static_cast<uint8_t>(h.shape.size()));
  put<uint8_t>(out, 28, static_cast<uint8_t>(std::min<size_t>(h.trace.size(), kMaxHops)));
  put<uint8_t>(out, 29, h.member);
  put<uint16_t>(out, 30, h.plan_tag);
  put<int64_t>(out, 32, h.origin_ns);
  put<int64_t>(out, 40, h.send_ns);
  for (size_t i = 0; i < h.shape.size() && i < static_cast<size_t>(kMaxRank); ++i) put<int64_t>(out, 48 + 8 * i, h.shape[i]);
  put<uint64_t>(out, 96, payload_bytes);
  for (size_t i = 0; i < h.trace.size() && i < static_cast<size_t>(kMaxHops); ++i) {
    const HopTrace& t = h.trace[i];
    uint8_t* entry = out + kTraceOffset + i * kTraceEntryBytes;
    put<uint16_t>(entry, 0, t.stage);
    put<uint16_t>(entry, 2, t.worker);
    put<uint32_t>(entry, 4, t.payload_bytes);
    put<int64_t>(entry, 8, t.received_ns);
    put<int64_t>(entry, 16, t.started_ns);
    put<int64_t>(entry, 24, t.ended_ns);
  }
}

std::vector<uint8_t> encode(const FrameHeader& header, const void* payload, size_t payload_bytes) {
  std::vector<uint8_t> out(kHeaderBytes + payload_bytes);
  encode_header(header, payload_bytes, out.data());
  if (payload_bytes > 0) std::memcpy(out.data() + kHeaderBytes, payload, payload_bytes);
  return out;
}

DecodeError decode(const void* bytes, size_t size, FrameView& out) {
  const auto* in = static_cast<const uint8_t*>(bytes);
  if (size < kHeaderBytes) return DecodeError::too_short;
  if (get<uint32_t>(in, 0) != kMagic) return DecodeError::bad_magic;
  if (get<uint16_t>(in, 4) != kVersion) return DecodeError::bad_version;
  const uint16_t kind = get<uint16_t>(in, 6);
  if (kind != static_cast<uint16_t>(FrameKind::data) && kind != static_cast<uint16_t>(FrameKind::end)) {
    return DecodeError::bad_kind;
  }
  const uint8_t dtype = get<uint8_t>(in, 26);
  if (dtype < static_cast<uint8_t>(DType::float32) || dtype > static_cast<uint8_t>(DType::int8)) return DecodeError::bad_dtype;
  const uint8_t rank = get<uint8_t>(in, 27);
  if (rank > kMaxRank) return DecodeError::bad_rank;
  const uint8_t hops = get<uint8_t>(in, 28);
  if (hops > kMaxHops) return DecodeError::bad_trace;
  FrameHeader& h = out.header;
  h.kind = static_cast<FrameKind>(kind);
  h.sequence = get<uint64_t>(in, 8);
  h.stream = get<uint32_t>(in, 16);
  h.label = get<int32_t>(in, 20);
  h.destination = get<uint16_t>(in, 24);
  h.dtype = static_cast<DType>(dtype);
  h.origin_ns = get<int64_t>(in, 32);
  h.send_ns = get<int64_t>(in, 40);
  h.member = get<uint8_t>(in, 29);
  h.plan_tag = get<uint16_t>(in, 30);
  h.shape.clear();
  uint64_t elements = rank > 0 ? 1 : 0;
  for (int i = 0; i < rank; ++i) {
    const int64_t d = get<int64_t>(in, 48 + 8 * static_cast<size_t>(i));
    if (d < 1 || static_cast<uint64_t>(d) > kMaxPayloadBytes) return DecodeError::bad_shape;
    elements *= static_cast<uint64_t>(d);
    if (elements > kMaxPayloadBytes / 4) return DecodeError::too_large;
    h.shape.push_back(d);
  }
  for (int i = rank; i < kMaxRank; ++i) {
    if (get<int64_t>(in, 48 + 8 * static_cast<size_t>(i)) != 0) return DecodeError::bad_shape;
  }
  const uint64_t declared = get<uint64_t>(in, 96);
  if (declared > kMaxPayloadBytes) return DecodeError::too_large;
  const uint64_t expected = elements == 0 ? 0 : wire_bytes(static_cast<Codec>(dtype), elements);
  if (declared != expected || declared != size - kHeaderBytes) return DecodeError::size_mismatch;
  if (h.kind == FrameKind::data && rank == 0) return DecodeError::bad_rank;
  h.trace.clear();
  for (size_t i = 0; i < hops; ++i) {
    const uint8_t* entry = in + kTraceOffset + i * kTraceEntryBytes;
    HopTrace t;
    t.stage = get<uint16_t>(entry, 0);
    t.worker = get<uint16_t>(entry, 2);
    t.payload_bytes = get<uint32_t>(entry, 4);
    t.received_ns = get<int64_t>(entry, 8);
    t.started_ns = get<int64_t>(entry, 16);
    t.ended_ns = get<int64_t>(entry, 24);
    h.trace.push_back(t);
  }
  out.payload_bytes = declared;
  out.values = elements;
  out.payload = declared > 0 ? in + kHeaderBytes : nullptr;
  // The payload starts at offset 360, a multiple of 4: aligned for float
  // whenever the buffer itself is (ZeroMQ message data is).
  out.data = declared > 0 && h.dtype == DType::float32 ? reinterpret_cast<const float*>(in + kHeaderBytes) : nullptr;
  return DecodeError::none;
}

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace hare::runtime
