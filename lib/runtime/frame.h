#pragma once

// The wire format: one ZeroMQ message = one frame = a fixed 360-byte header
// followed by the raw contiguous tensor bytes (no pickling, no copies on
// decode). Little-endian throughout.
//
//   offset size  field
//        0    4  magic "HARE" (0x45524148)
//        4    2  version (1)
//        6    2  kind: 1 data, 2 end of stream (sequence = windows sent)
//        8    8  sequence number (global, assigned by the source)
//       16    4  stream id
//       20    4  label (class index, -1 unknown)
//       24    2  destination: stage index 1..K, or 0xFFFF for the sink
//       26    1  dtype: 1 float32, 2 float16, 3 int8 (a float32 scale, then
//                int8 values; see runtime/codec.h)
//       27    1  rank (0..6)
//       28    1  hops recorded in the trace (0..8)
//       29    1  member: the sender's place in its stage's group (0-based;
//                0 from the source), set by each sender
//       30    2  plan tag: the plan the window was sent under (16 bits of
//                its plan.yaml's SHA-256, NodeSpec::plan_tag), set by the
//                source and carried by every hop; a node drops data frames
//                of another plan (in flight at a switch: the source replays
//                them under the new one)
//       32    8  origin time, ns since the epoch (when the window was complete)
//       40    8  send time, ns since the epoch (set by each sender)
//       48   48  shape: 6 x int64 (unused dims 0)
//       96    8  payload bytes
//      104  256  trace: 8 x {stage u16, worker u16, payload bytes u32,
//                             received ns, started ns, ended ns: 3 x i64}
//      360       payload
//
// decode() validates everything before anything is used: sizes, magic,
// version, kind, dtype, rank, every dimension >= 1, the element count
// against the payload size (with overflow checks) and a size cap. A bad
// frame yields an error kind, never a crash.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hare::runtime {

constexpr uint32_t kMagic = 0x45524148;
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 360;
constexpr int kMaxRank = 6;
constexpr int kMaxHops = 8;
constexpr uint16_t kSinkDestination = 0xFFFF;
constexpr uint64_t kMaxPayloadBytes = 256ull << 20;

enum class FrameKind : uint16_t { data = 1, end = 2 };
// The values of hare::Codec: a link's codec is the frame's dtype.
enum class DType : uint8_t { float32 = 1, float16 = 2, int8 = 3 };

struct HopTrace {
  uint16_t stage = 0;
  uint16_t worker = 0;
  uint32_t payload_bytes = 0;  // what this hop received
  int64_t received_ns = 0;
  int64_t started_ns = 0;
  int64_t ended_ns = 0;
};

struct FrameHeader {
  FrameKind kind = FrameKind::data;
  uint64_t sequence = 0;
  uint32_t stream = 0;
  int32_t label = -1;
  uint16_t destination = 1;
  DType dtype = DType::float32;
  std::vector<int64_t> shape;
  int64_t origin_ns = 0;
  int64_t send_ns = 0;
  uint8_t member = 0;  // of the last hop's stage group: which node sent it
  uint16_t plan_tag = 0;  // the plan it was sent under (NodeSpec::plan_tag)
  std::vector<HopTrace> trace;

  uint64_t payload_bytes() const;  // the shape's values in the dtype (wire_bytes)
};

// A decoded frame: the header, and a view of the payload inside the buffer
// it was decoded from (valid as long as that buffer is).
struct FrameView {
  FrameHeader header;
  const float* data = nullptr;     // float32 frames only; else null (use frame_values())
  const uint8_t* payload = nullptr;
  uint64_t payload_bytes = 0;
  uint64_t values = 0;             // elements of the shape
};

// The frame's values as float32: the payload itself for float32 frames,
// else decoded into `scratch`.
const float* frame_values(const FrameView& frame, std::vector<float>& scratch);

enum class DecodeError {
  none,
  too_short,
  bad_magic,
  bad_version,
  bad_kind,
  bad_dtype,
  bad_rank,
  bad_shape,
  bad_trace,
  size_mismatch,
  too_large,
};
const char* decode_error_name(DecodeError error);
constexpr int kDecodeErrorKinds = 11;

DecodeError decode(const void* bytes, size_t size, FrameView& out);

// Encodes header + payload into one buffer (payload may be null when empty).
std::vector<uint8_t> encode(const FrameHeader& header, const void* payload, size_t payload_bytes);
// Encodes into a caller-provided buffer of kHeaderBytes + payload bytes.
void encode_header(const FrameHeader& header, uint64_t payload_bytes, uint8_t* out);

int64_t now_ns();  // CLOCK_REALTIME, ns

}  // namespace hare::runtime
