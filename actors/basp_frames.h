// The frames a peer sends to a node's plain client-API port, checked before CAF reads them.
// CAF 0.17.6 trusts a peer's headers: a handshake header without payload makes its network
// thread read a null payload (a segmentation fault), and a header's payload_len (up to 4 GiB) is
// allocated before anything else is checked. A BASP frame (CAF's libcaf_io/caf/io/basp/header.hpp)
// is a 32-byte big-endian header [operation u8, padding u8 x2, flags u8, payload_len u32,
// operation_data u64, source_actor u64, dest_actor u64], then payload_len bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace pio {

struct BaspFrameLimits {
  uint32_t max_handshake_payload = 64 << 10;  // a client handshake: node id, application ids (~100 B)
  uint32_t max_payload = 256 << 20;           // any later frame (a request with its images)
};

// Follows the bytes a peer sends on one connection to the node, from the first. The peer is the
// connecting side, so its first frame must be a client handshake (operation 1; CAF's client
// repeats it once the node's handshake arrived), always with a payload; every other frame a
// message, a routed message, a monitor or down notice or a heartbeat (operations 2 to 6), never
// the server handshake (0). Payloads are bounded by `limits`. CAF checks the rest of a header.
class BaspFrameCheck {
 public:
  explicit BaspFrameCheck(BaspFrameLimits limits = {}) : limits_(limits) {}

  // Takes the next bytes received; returns "" while every header completed so far is
  // acceptable, else why the peer is refused (from then on, whatever follows).
  const std::string& feed(std::span<const uint8_t> bytes);

 private:
  // Why a complete header (its operation and payload_len) is refused; "" when it is not.
  std::string check_header(unsigned operation, uint32_t payload) const;

  BaspFrameLimits limits_;
  std::array<uint8_t, 32> header_{};
  size_t header_bytes_ = 0;    // of the header being received
  uint64_t payload_left_ = 0;  // bytes of the current frame's payload still to come
  bool handshake_seen_ = false;
  std::string refusal_;
};

}  // namespace pio
