// Per-call settings shared by every layer of a forward pass.
#pragma once

namespace qwen::text {

struct ForwardContext {
  int num_threads = 1;  // threads for the GEMMs
};

}  // namespace qwen::text
