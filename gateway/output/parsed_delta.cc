#include "gateway/output/parsed_delta.h"

#include <iterator>
#include <utility>

namespace qwen::gateway {

void ParsedDelta::Append(ParsedDelta other) {
  reasoning += other.reasoning;
  content += other.content;
  tool_calls.insert(tool_calls.end(), std::make_move_iterator(other.tool_calls.begin()),
                    std::make_move_iterator(other.tool_calls.end()));
}

}  // namespace qwen::gateway
