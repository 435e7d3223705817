// `pio`'s side of a node: chat requests built from the command line (one turn or a --messages
// conversation, with the image files read) and streamed through pio::Client.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/client.h"
#include "messages/chat.h"
#include "model/tokenizer/chat_messages.h"

namespace pio::cli {

// A one-turn request: the system turn when given, the images, then the text.
ChatRequest one_turn_request(const std::optional<std::string>& system, const std::vector<std::string>& images,
                             const std::string& prompt);
// A request from a --messages conversation; its image paths are read in order.
ChatRequest conversation_request(const ParsedChat& chat);

// Streams the answer of `request` from the node at host:port to stdout; timings to stderr when
// verbose. Throws std::runtime_error (the node's error message, or that the node was lost)
// when the request fails or the node cannot be reached.
void stream_from_node(const std::string& host_port, const ClientOptions& options, ChatRequest request, bool verbose);

}  // namespace pio::cli
