// BaspFrameCheck: what a real CAF client sends first passes; a first frame that is not a client
// handshake with a bounded payload is refused, as is an operation or a payload size that no
// peer of a node sends later; payload bytes are never read as headers, however the bytes arrive.
#define BOOST_TEST_MODULE basp_frames
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <caf/io/middleman.hpp>

#include "actors/actor_system.h"
#include "actors/basp_frames.h"

using pio::BaspFrameCheck;
using Bytes = std::vector<uint8_t>;

namespace {

// One frame: a header (operation, payload_len, the rest zero but operation_data) and its payload.
Bytes frame(uint8_t operation, uint32_t payload_len, Bytes payload = {}, uint64_t operation_data = 0) {
  Bytes out{operation, 0, 0, 0};
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(payload_len >> shift));
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(operation_data >> shift));
  out.resize(32, 0);
  if (payload.empty()) payload.resize(payload_len, 0);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes joined(std::initializer_list<Bytes> frames) {
  Bytes out;
  for (const Bytes& f : frames) out.insert(out.end(), f.begin(), f.end());
  return out;
}

// The check's verdict on `bytes` fed in pieces of `piece` bytes.
std::string verdict(const Bytes& bytes, size_t piece, pio::BaspFrameLimits limits = {}) {
  BaspFrameCheck check(limits);
  std::string refusal;
  for (size_t at = 0; at < bytes.size(); at += piece)
    refusal = check.feed({bytes.data() + at, std::min(piece, bytes.size() - at)});
  return refusal;
}

// The bytes a CAF client (pio's actor system) sends to a listener that never answers: its
// first frame, within 2 s.
Bytes first_bytes_of_a_caf_client() {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(listener, 1) == 0);
  BOOST_REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  pio::ActorSystem actors;
  std::thread client([&] { (void)actors->middleman().remote_actor("127.0.0.1", ntohs(addr.sin_port)); });
  Bytes got;
  pollfd waiting{listener, POLLIN, 0};
  if (::poll(&waiting, 1, 5000) == 1) {
    const int peer = ::accept(listener, nullptr, nullptr);
    pollfd reading{peer, POLLIN, 0};
    uint8_t buffer[4096];
    while (::poll(&reading, 1, 2000) == 1) {
      const ssize_t n = ::recv(peer, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      got.insert(got.end(), buffer, buffer + n);
    }
    ::close(peer);  // the client's remote_actor fails now
  }
  client.join();
  ::close(listener);
  return got;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_caf_clients_first_frame_passes_in_any_pieces) {
  const Bytes sent = first_bytes_of_a_caf_client();
  BOOST_REQUIRE(sent.size() > 32u);
  BOOST_TEST(sent[0] == 1);  // a client handshake
  for (const size_t piece : {size_t{1}, size_t{7}, size_t{32}, sent.size()}) BOOST_TEST(verdict(sent, piece) == "");
}

BOOST_AUTO_TEST_CASE(later_frames_of_every_kind_pass_and_their_payloads_are_skipped) {
  // A payload full of bytes that would be refused as a header (operation 0, 4 GiB announced).
  const Bytes hostile_payload = frame(0, 0xFFFFFFFFu, Bytes(1, 0));
  const Bytes stream = joined({frame(1, 40), frame(1, 40), frame(2, static_cast<uint32_t>(hostile_payload.size()), hostile_payload),
                               frame(3, 100), frame(4, 8), frame(5, 8), frame(6, 0), frame(2, 1 << 20)});
  for (const size_t piece : {size_t{1}, size_t{5}, size_t{33}, size_t{4096}, stream.size()})
    BOOST_TEST(verdict(stream, piece) == "", "pieces of " << piece);
}

BOOST_AUTO_TEST_CASE(a_first_frame_that_is_no_bounded_client_handshake_is_refused) {
  // The header that crashed CAF 0.17.6: a server handshake without payload.
  BOOST_TEST(verdict(frame(0, 0, {}, 1), 32) == "its first frame is not a client handshake (operation 0)");
  BOOST_TEST(verdict(frame(2, 10), 1) == "its first frame is not a client handshake (operation 2)");
  BOOST_TEST(verdict(frame(1, 0), 32) == "a client handshake has no payload");
  BOOST_TEST(verdict(frame(1, 0xFFFFFFFFu, Bytes(1, 0)), 32) ==
             "a client handshake announces 4294967295 bytes (at most 65536)");
  BOOST_TEST(verdict(frame(1, 65536), 1000) == "");
  // Not refused before its header is complete: 31 bytes say nothing yet.
  const Bytes crash = frame(0, 0, {}, 1);
  BOOST_TEST(verdict(Bytes(crash.begin(), crash.end() - 1), 1) == "");
}

BOOST_AUTO_TEST_CASE(after_the_handshake_unknown_operations_and_oversized_payloads_are_refused) {
  const pio::BaspFrameLimits limits{64, 1000};
  const Bytes handshake = frame(1, 40);
  BOOST_TEST(verdict(joined({handshake, frame(0, 0, {}, 1)}), 3, limits) == "operation 0 after the handshake");
  BOOST_TEST(verdict(joined({handshake, frame(1, 40)}), 3, limits) == "");  // CAF's client repeats it
  BOOST_TEST(verdict(joined({handshake, frame(1, 0)}), 3, limits) == "a client handshake has no payload");
  BOOST_TEST(verdict(joined({handshake, frame(1, 65, Bytes(1, 0))}), 3, limits) ==
             "a client handshake announces 65 bytes (at most 64)");
  BOOST_TEST(verdict(joined({handshake, frame(7, 0)}), 3, limits) == "operation 7 after the handshake");
  BOOST_TEST(verdict(joined({handshake, frame(2, 1000)}), 3, limits) == "");
  BOOST_TEST(verdict(joined({handshake, frame(2, 1001, Bytes(1, 0))}), 3, limits) ==
             "a frame announces 1001 bytes (at most 1000)");
  // A refusal stands, whatever follows.
  BaspFrameCheck check(limits);
  const Bytes bad = joined({handshake, frame(9, 0)});
  BOOST_TEST(check.feed(bad) == "operation 9 after the handshake");
  const Bytes good = frame(6, 0);
  BOOST_TEST(check.feed(good) == "operation 9 after the handshake");
}
