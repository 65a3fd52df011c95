// Per-call settings shared by every piece of a vision forward pass.
#pragma once

namespace qwen::vision {

struct VisionContext {
  int num_threads = 1;  // threads for the GEMMs
};

}  // namespace qwen::vision
