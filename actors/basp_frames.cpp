#include "actors/basp_frames.h"

#include <algorithm>
#include <cstring>

#include "model/image/byte_reader.h"

namespace pio {

namespace {

constexpr uint8_t kClientHandshake = 1;
constexpr uint8_t kFirstMessage = 2;  // direct_message; routed, monitor, down follow
constexpr uint8_t kHeartbeat = 6;

}  // namespace

std::string BaspFrameCheck::check_header(unsigned operation, uint32_t payload) const {
  if (!handshake_seen_ && operation != kClientHandshake)
    return "its first frame is not a client handshake (operation " + std::to_string(operation) + ")";
  if (operation == kClientHandshake) {
    if (payload == 0) return "a client handshake has no payload";
    if (payload > limits_.max_handshake_payload)
      return "a client handshake announces " + std::to_string(payload) + " bytes (at most " +
             std::to_string(limits_.max_handshake_payload) + ")";
    return "";
  }
  if (operation < kFirstMessage || operation > kHeartbeat)
    return "operation " + std::to_string(operation) + " after the handshake";
  if (payload > limits_.max_payload)
    return "a frame announces " + std::to_string(payload) + " bytes (at most " + std::to_string(limits_.max_payload) + ")";
  return "";
}

const std::string& BaspFrameCheck::feed(std::span<const uint8_t> bytes) {
  size_t at = 0;
  while (refusal_.empty() && at < bytes.size()) {
    const size_t left = bytes.size() - at;
    if (payload_left_ > 0) {
      const size_t skipped = static_cast<size_t>(std::min<uint64_t>(payload_left_, left));
      payload_left_ -= skipped;
      at += skipped;
      continue;
    }
    const size_t taken = std::min(header_.size() - header_bytes_, left);
    std::memcpy(header_.data() + header_bytes_, bytes.data() + at, taken);
    header_bytes_ += taken;
    at += taken;
    if (header_bytes_ < header_.size()) break;
    const ByteReader header(header_, "BASP");
    payload_left_ = header.be32(4);
    refusal_ = check_header(header.u8(0), static_cast<uint32_t>(payload_left_));
    handshake_seen_ = true;
    header_bytes_ = 0;
  }
  return refusal_;
}

}  // namespace pio
