#include "text_service/server/request_convert.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::text {

absl::StatusOr<GenerateRequest> FromProto(const qwen35::v1::GenerateRequest& p,
                                          const RequestDefaults& d) {
  GenerateRequest r;
  if (p.request_id().empty()) return absl::InvalidArgumentError("request_id is empty");
  r.request_id = p.request_id();
  r.prompt.assign(p.input_ids().begin(), p.input_ids().end());
  const int64_t n = static_cast<int64_t>(r.prompt.size());

  const core::GenerationConfig& g = d.generation;
  const auto& s = p.sampling();
  SamplingParams& sp = r.sampling;
  // generation_config.json's do_sample=false means greedy unless the request asks otherwise.
  sp.temperature = s.has_temperature() ? s.temperature() : (g.do_sample ? g.temperature : 0.0);
  sp.top_p = s.has_top_p() ? s.top_p() : g.top_p;
  sp.top_k = s.has_top_k() ? s.top_k() : g.top_k;
  sp.min_p = s.has_min_p() ? s.min_p() : g.min_p;
  sp.repetition_penalty = s.has_repetition_penalty() ? s.repetition_penalty() : g.repetition_penalty;
  sp.presence_penalty = s.presence_penalty();
  sp.frequency_penalty = s.frequency_penalty();
  if (s.has_seed()) sp.seed = s.seed();
  sp.max_tokens = p.stop().max_tokens() > 0 ? p.stop().max_tokens() : d.max_tokens;
  sp.stop_token_ids.assign(p.stop().stop_token_ids().begin(), p.stop().stop_token_ids().end());
  sp.ignore_eos = p.stop().ignore_eos();
  sp.logprobs = p.logprobs().logprobs() ? 1 : 0;
  sp.top_logprobs = p.logprobs().top_logprobs();

  if (p.has_positions()) {
    const auto& pos = p.positions();
    if (pos.t_size() != n || pos.h_size() != n || pos.w_size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("positions rows have ", pos.t_size(), "/", pos.h_size(), "/",
                                                     pos.w_size(), " entries for ", n, " input_ids"));
    }
    r.positions.reserve(static_cast<size_t>(3 * n));
    r.positions.insert(r.positions.end(), pos.t().begin(), pos.t().end());
    r.positions.insert(r.positions.end(), pos.h().begin(), pos.h().end());
    r.positions.insert(r.positions.end(), pos.w().begin(), pos.w().end());
  }
  r.rope_delta = p.rope_delta();

  for (int i = 0; i < p.embeddings_size(); ++i) {
    const auto& span = p.embeddings(i);
    const auto& t = span.embeddings();
    if (t.shape_size() != 2 || t.shape(1) != d.hidden_size || t.shape(0) < 1) {
      return absl::InvalidArgumentError(absl::StrCat("embeddings[", i, "] must have shape [rows, ", d.hidden_size, "]"));
    }
    const int64_t rows = t.shape(0), cols = t.shape(1);
    core::DType dtype;
    if (t.dtype() == qwen35::v1::DTYPE_BF16) {
      dtype = core::DType::kBF16;
    } else if (t.dtype() == qwen35::v1::DTYPE_F32) {
      dtype = core::DType::kF32;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("embeddings[", i, "] dtype must be BF16 or F32"));
    }
    const size_t expected = static_cast<size_t>(rows * cols) * core::DTypeSize(dtype);
    if (t.data().size() != expected) {
      return absl::InvalidArgumentError(absl::StrCat("embeddings[", i, "] has ", t.data().size(),
                                                     " bytes; shape and dtype need ", expected));
    }
    core::Tensor f32 = core::Tensor::Zeros({rows, cols}, core::DType::kF32);
    core::ConvertToF32(t.data().data(), dtype, f32.data<float>(), static_cast<size_t>(rows * cols));
    r.embeddings.push_back(EmbeddingSpan{.begin = span.offset(), .embeddings = std::move(f32)});
  }
  return r;
}

qwen35::v1::FinishReason ToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return qwen35::v1::FINISH_REASON_STOP;
    case FinishReason::kLength: return qwen35::v1::FINISH_REASON_LENGTH;
    case FinishReason::kAbort: return qwen35::v1::FINISH_REASON_ABORTED;
    default: return qwen35::v1::FINISH_REASON_UNSPECIFIED;
  }
}

}  // namespace qwen::text
