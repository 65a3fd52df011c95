#include "gateway/tokenizer/incremental_detokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/tokenizer/unicode.h"

namespace qwen::gateway {

absl::StatusOr<IncrementalDetokenizer> IncrementalDetokenizer::Create(const Tokenizer& tokenizer,
                                                                      Options options) {
  for (size_t i = 0; i < options.stop_strings.size(); ++i) {
    const std::string& s = options.stop_strings[i];
    if (s.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("stop string ", i, " is empty"));
    }
    if (!IsValidUtf8(s)) {
      return absl::InvalidArgumentError(absl::StrCat("stop string ", i, " is not valid UTF-8"));
    }
  }
  return IncrementalDetokenizer(tokenizer, std::move(options));
}

absl::StatusOr<IncrementalDetokenizer::Delta> IncrementalDetokenizer::Add(
    std::span<const int32_t> ids) {
  if (stopped() || finished_) return Delta{"", stopped(), stop_index_};
  for (int32_t id : ids) {  // validate first, so that a bad id leaves the state untouched
    if (!tokenizer_->DecodedBytes(id)) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is not in the vocabulary"));
    }
  }
  for (int32_t id : ids) {
    if (options_.skip_special_tokens && tokenizer_->IsSpecial(id)) continue;
    pending_bytes_.append(*tokenizer_->DecodedBytes(id));
  }
  return Drain(/*final=*/false);
}

IncrementalDetokenizer::Delta IncrementalDetokenizer::Finish() {
  if (stopped() || finished_) return Delta{"", stopped(), stop_index_};
  Delta delta = Drain(/*final=*/true);
  finished_ = true;
  return delta;
}

IncrementalDetokenizer::Delta IncrementalDetokenizer::Drain(bool final) {
  const size_t consumed = AppendUtf8Lossy(pending_bytes_, final, &held_text_);
  pending_bytes_.erase(0, consumed);

  Delta delta;
  const std::vector<std::string>& stops = options_.stop_strings;
  // The held text starts after everything emitted, and every occurrence that ended earlier was
  // found by an earlier call, so the earliest-ending occurrence in held_text_ is the first one
  // of the whole text.
  size_t best_start = std::string::npos;
  size_t best_end = std::string::npos;
  int best = -1;
  for (size_t i = 0; i < stops.size(); ++i) {
    const size_t pos = held_text_.find(stops[i]);
    if (pos == std::string::npos) continue;
    const size_t end = pos + stops[i].size();
    if (end < best_end || (end == best_end && pos < best_start)) {
      best = static_cast<int>(i);
      best_start = pos;
      best_end = end;
    }
  }
  if (best >= 0) {
    delta.text = held_text_.substr(0, best_start);
    stop_index_ = best;
    held_text_.clear();
    pending_bytes_.clear();
  } else {
    // Hold back the longest tail that a later token could complete into a stop string.
    size_t hold = 0;
    if (!final) {
      for (const std::string& s : stops) {
        for (size_t k = std::min(s.size() - 1, held_text_.size()); k > hold; --k) {
          if (held_text_.compare(held_text_.size() - k, k, s, 0, k) == 0) {
            hold = k;
            break;
          }
        }
      }
    }
    delta.text = held_text_.substr(0, held_text_.size() - hold);
    held_text_.erase(0, held_text_.size() - hold);
  }
  emitted_ += delta.text;
  delta.stopped = stopped();
  delta.stop_index = stop_index_;
  return delta;
}

}  // namespace qwen::gateway
