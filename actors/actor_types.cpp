#include "actors/actor_types.h"

#include "actors/interfaces.h"

namespace pio {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<ContentPart>("pio::ContentPart")
      .add_message_type<std::vector<ContentPart>>("std::vector<pio::ContentPart>")
      .add_message_type<ToolCall>("pio::ToolCall")
      .add_message_type<std::vector<ToolCall>>("std::vector<pio::ToolCall>")
      .add_message_type<ChatTurn>("pio::ChatTurn")
      .add_message_type<std::vector<ChatTurn>>("std::vector<pio::ChatTurn>")
      .add_message_type<SamplingOptions>("pio::SamplingOptions")
      .add_message_type<ChatRequest>("pio::ChatRequest")
      .add_message_type<ErrorInfo>("pio::ErrorInfo")
      .add_message_type<Usage>("pio::Usage")
      .add_message_type<StageTimings>("pio::StageTimings")
      .add_message_type<StreamEvent>("pio::StreamEvent")
      .add_message_type<PromptTokens>("pio::PromptTokens")
      .add_message_type<PixelValues>("pio::PixelValues")
      .add_message_type<std::vector<PixelValues>>("std::vector<pio::PixelValues>")
      .add_message_type<PreparedImage>("pio::PreparedImage")
      .add_message_type<EngineJob>("pio::EngineJob")
      .add_message_type<KvBlocks>("pio::KvBlocks")
      .add_message_type<StepStats>("pio::StepStats")
      .add_message_type<EngineLoad>("pio::EngineLoad")
      .add_message_type<LatencySummary>("pio::LatencySummary")
      .add_message_type<CacheTierStats>("pio::CacheTierStats")
      .add_message_type<std::vector<CacheTierStats>>("std::vector<pio::CacheTierStats>")
      .add_message_type<StatsReport>("pio::StatsReport")
      .add_message_type<NodeHealth>("pio::NodeHealth")
      .add_message_type<WorkerHello>("pio::WorkerHello")
      .add_message_type<WorkerReport>("pio::WorkerReport")
      .add_message_type<WorkerStats>("pio::WorkerStats")
      .add_message_type<std::vector<WorkerStats>>("std::vector<pio::WorkerStats>")
      .add_message_type<std::vector<uint8_t>>("std::vector<uint8_t>")
      .add_message_type<std::vector<uint64_t>>("std::vector<uint64_t>")
      .add_message_type<stream_sink>("pio::stream_sink")
      .add_message_type<engine_actor>("pio::engine_actor")
      .add_message_type<engine_events>("pio::engine_events");
}

}  // namespace pio
