// The README's client example, compiled by every build so that it stays true.
#include <iostream>

#include "actors/client.h"
#include "model/image/preprocess.h"

int main() {
  auto client = pio::Client::connect("127.0.0.1", 7070);
  pio::ChatRequest request;
  request.messages = {{"user", {{"", pio::read_image_file("assets/demo.jpg"), true},
                                {"Describe this image.", {}, false}}}};
  request.max_tokens = 64;
  request.sampling.temperature = 0.7f;  // with .seed, the same text every time; without, answer.seed says which
  // Streamed: one callback per text delta, the final event last.
  client->submit(request, [](const pio::StreamEvent& e) { std::cout << e.text << std::flush; });
  // Or the whole answer.
  pio::ChatResult answer = client->complete(request).get();
  std::cout << "\n" << answer.text << "\n(" << answer.finish_reason << ", " << answer.usage.completion_tokens
            << " tokens)\n";
}
