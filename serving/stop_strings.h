// Stop strings matched on the streamed answer text, across token boundaries, as vLLM and the
// OpenAI API define them: generation ends at the first occurrence of any stop string, and
// neither the stop string nor anything after it is ever emitted. Text that might be the start of
// a stop string is held back until the next delta decides.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pio {

class StopStringMatcher {
 public:
  // Empty stop strings are ignored.
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Adds the next text delta; returns the text that is safe to emit now. Once a stop string
  // has matched, stopped() is true and later calls return nothing.
  std::string push(std::string_view delta);

  // The end of the stream without a stop: returns the text held back.
  std::string finish();

  bool stopped() const { return stopped_; }
  // The stop string that matched (empty before a match).
  const std::string& matched() const { return matched_; }

 private:
  // Bytes at the end of pending_ that are a proper prefix of some stop string.
  size_t held_back() const;

  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace pio
