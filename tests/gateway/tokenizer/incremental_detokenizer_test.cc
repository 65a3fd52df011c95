// Streaming detokenization: UTF-8 held back across tokens, U+FFFD as in a full decode, stop
// strings split across tokens.
#include "gateway/tokenizer/incremental_detokenizer.h"

#include <random>
#include <string>
#include <vector>

#include "gateway/tokenizer/byte_level.h"
#include "gateway/tokenizer/tokenizer.h"
#include "gateway/tokenizer/unicode.h"
#include "gtest/gtest.h"
#include "tests/gateway/tokenizer/test_util.h"

namespace qwen::gateway {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

class IncrementalDetokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<Tokenizer> tok = Tokenizer::FromFile(
        testing::SourcePath("tests/reference/tokenizer_qwen35_small/tokenizer.json"));
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = new Tokenizer(std::move(tok).value());
  }
  static void TearDownTestSuite() { delete tokenizer_; }

  // Id of the single-byte token for `byte`.
  static int32_t ByteId(unsigned char byte) {
    std::optional<int32_t> id = tokenizer_->TokenToId(BytesToByteLevel(std::string(1, byte)));
    EXPECT_TRUE(id.has_value());
    return id.value_or(0);
  }
  // One token per byte of `text`.
  static std::vector<int32_t> ByteIds(std::string_view text) {
    std::vector<int32_t> ids;
    for (char c : text) ids.push_back(ByteId(static_cast<unsigned char>(c)));
    return ids;
  }
  static IncrementalDetokenizer Make(IncrementalDetokenizer::Options options = {}) {
    absl::StatusOr<IncrementalDetokenizer> d = IncrementalDetokenizer::Create(*tokenizer_, options);
    EXPECT_TRUE(d.ok()) << d.status();
    return std::move(d).value();
  }
  // Feeds ids one at a time; returns the deltas (Finish() last).
  static std::vector<IncrementalDetokenizer::Delta> FeedEach(IncrementalDetokenizer& d,
                                                             const std::vector<int32_t>& ids) {
    std::vector<IncrementalDetokenizer::Delta> deltas;
    for (int32_t id : ids) {
      absl::StatusOr<IncrementalDetokenizer::Delta> delta = d.Add(id);
      EXPECT_TRUE(delta.ok()) << delta.status();
      deltas.push_back(*delta);
    }
    deltas.push_back(d.Finish());
    return deltas;
  }

  static Tokenizer* tokenizer_;
};
Tokenizer* IncrementalDetokenizerTest::tokenizer_ = nullptr;

TEST_F(IncrementalDetokenizerTest, HoldsBackASplitEmoji) {
  IncrementalDetokenizer d = Make();
  const std::vector<IncrementalDetokenizer::Delta> deltas = FeedEach(d, ByteIds("a\U0001F680b"));
  ASSERT_EQ(deltas.size(), 7u);
  const std::vector<std::string> want = {"a", "", "", "", "\U0001F680", "b", ""};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(deltas[i].text, want[i]) << i;
}

TEST_F(IncrementalDetokenizerTest, IllFormedBytesBecomeReplacementLikeDecode) {
  // F0 9F then '<': the maximal subpart F0 9F is replaced as soon as '<' shows it is ill-formed.
  IncrementalDetokenizer d = Make();
  std::vector<int32_t> ids = ByteIds("\xF0\x9F<\x80");
  std::vector<IncrementalDetokenizer::Delta> deltas = FeedEach(d, ids);
  EXPECT_EQ(deltas[0].text, "");
  EXPECT_EQ(deltas[1].text, "");
  EXPECT_EQ(deltas[2].text, kReplacement + "<");
  EXPECT_EQ(deltas[3].text, kReplacement);
  EXPECT_EQ(d.emitted(), *tokenizer_->Decode(ids));
  // An incomplete character at the end is flushed by Finish() as one U+FFFD.
  IncrementalDetokenizer e = Make();
  deltas = FeedEach(e, ByteIds("x\xE4\xBD"));
  EXPECT_EQ(deltas.back().text, kReplacement);
  EXPECT_EQ(e.emitted(), "x" + kReplacement);
}

TEST_F(IncrementalDetokenizerTest, SkipsSpecialTokensEvenInsideACharacter) {
  const int32_t im_end = *tokenizer_->TokenToId("<|im_end|>");
  const int32_t think = *tokenizer_->TokenToId("<think>");
  std::vector<int32_t> ids = ByteIds("\xF0\x9F");
  ids.push_back(im_end);
  for (int32_t id : ByteIds("\x9A\x80")) ids.push_back(id);
  ids.push_back(think);
  IncrementalDetokenizer skip = Make({.skip_special_tokens = true, .stop_strings = {}});
  FeedEach(skip, ids);
  EXPECT_EQ(skip.emitted(), "\U0001F680<think>");
  EXPECT_EQ(skip.emitted(), *tokenizer_->Decode(ids, true));
  IncrementalDetokenizer keep = Make();
  FeedEach(keep, ids);
  EXPECT_EQ(keep.emitted(), *tokenizer_->Decode(ids));
  EXPECT_EQ(keep.emitted(), kReplacement + "<|im_end|>" + kReplacement + kReplacement + "<think>");
}

TEST_F(IncrementalDetokenizerTest, StopStringSplitAcrossTokens) {
  IncrementalDetokenizer d = Make({.skip_special_tokens = false, .stop_strings = {"STOP"}});
  const std::vector<IncrementalDetokenizer::Delta> deltas = FeedEach(d, ByteIds("ab STOP cd"));
  // "a", "b", " " go out at once; "S", "T", "O" are held; "P" completes the stop string.
  const std::vector<std::string> want = {"a", "b", " ", "", "", "", "", "", "", "", ""};
  ASSERT_EQ(deltas.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(deltas[i].text, want[i]) << i;
  EXPECT_FALSE(deltas[5].stopped);
  EXPECT_TRUE(deltas[6].stopped);
  EXPECT_EQ(deltas[6].stop_index, 0);
  EXPECT_TRUE(deltas.back().stopped);
  EXPECT_EQ(d.emitted(), "ab ");
}

TEST_F(IncrementalDetokenizerTest, PartialStopStringIsReleased) {
  IncrementalDetokenizer d = Make({.skip_special_tokens = false, .stop_strings = {"STOP"}});
  std::vector<IncrementalDetokenizer::Delta> deltas = FeedEach(d, ByteIds("xSTOxST"));
  EXPECT_EQ(deltas[3].text, "");        // "STO" held
  EXPECT_EQ(deltas[4].text, "STOx");    // released: "STOx" cannot start "STOP"
  EXPECT_EQ(deltas.back().text, "ST");  // Finish releases the held tail
  EXPECT_FALSE(deltas.back().stopped);
  EXPECT_EQ(d.emitted(), "xSTOxST");
}

TEST_F(IncrementalDetokenizerTest, EarliestEndingStopStringWins) {
  // "b" ends before "abc" would, so it wins even though "abc" starts earlier.
  IncrementalDetokenizer d = Make({.skip_special_tokens = false, .stop_strings = {"abc", "b"}});
  FeedEach(d, ByteIds("xabc"));
  EXPECT_EQ(d.emitted(), "xa");
  // Same end: the longer (earlier-starting) one wins.
  IncrementalDetokenizer e = Make({.skip_special_tokens = false, .stop_strings = {"c", "abc"}});
  std::vector<int32_t> ids = ByteIds("xab");
  ASSERT_TRUE(e.Add(ids).ok());
  absl::StatusOr<IncrementalDetokenizer::Delta> last = e.Add(ByteId('c'));
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->stopped);
  EXPECT_EQ(last->stop_index, 1);
  EXPECT_EQ(e.emitted(), "x");
}

TEST_F(IncrementalDetokenizerTest, StopOnSpecialTokenTextAndMultibyteStop) {
  const int32_t im_end = *tokenizer_->TokenToId("<|im_end|>");
  std::vector<int32_t> ids = ByteIds("done");
  ids.push_back(im_end);
  IncrementalDetokenizer d = Make({.skip_special_tokens = false, .stop_strings = {"<|im_end|>"}});
  FeedEach(d, ids);
  EXPECT_TRUE(d.stopped());
  EXPECT_EQ(d.emitted(), "done");
  IncrementalDetokenizer e = Make({.skip_special_tokens = false, .stop_strings = {"\U0001F680!"}});
  FeedEach(e, ByteIds("go \U0001F680!"));
  EXPECT_EQ(e.emitted(), "go ");
  EXPECT_EQ(e.Add(ByteId('z'))->text, "");  // ignored after the stop
  EXPECT_TRUE(e.Add(ByteId('z'))->stopped);
}

// The text before the stop: truncate the full decode before the earliest-ending occurrence.
std::string ReferenceStop(const std::string& full, const std::vector<std::string>& stops,
                          int* index) {
  size_t best_end = std::string::npos, best_start = 0;
  *index = -1;
  for (size_t i = 0; i < stops.size(); ++i) {
    const size_t pos = full.find(stops[i]);
    if (pos == std::string::npos) continue;
    const size_t end = pos + stops[i].size();
    if (end < best_end || (end == best_end && pos < best_start)) {
      best_end = end;
      best_start = pos;
      *index = static_cast<int>(i);
    }
  }
  return *index < 0 ? full : full.substr(0, best_start);
}

TEST_F(IncrementalDetokenizerTest, RandomSplitsWithStopStringsMatchReference) {
  std::mt19937 rng(11);
  const std::vector<std::string> pieces = {"ab",       "a",  "b",          "STOP",   "ST",
                                           "OP",       " ",  "\U0001F680", "\u00e9", "<|im_end|>",
                                           "</think>", "\n", "xyz"};
  const std::vector<std::string> stops = {"STOP", "</think>", "b\U0001F680", "\n\n"};
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    for (int i = 0, n = 1 + rng() % 12; i < n; ++i) text += pieces[rng() % pieces.size()];
    // Mixed tokenizations: BPE ids, or single bytes (which split characters).
    const std::vector<int32_t> ids = rng() % 2 ? *tokenizer_->Encode(text) : ByteIds(text);
    const std::string full = *tokenizer_->Decode(ids);
    int want_index = -1;
    const std::string want = ReferenceStop(full, stops, &want_index);
    IncrementalDetokenizer d = Make({.skip_special_tokens = false, .stop_strings = stops});
    std::string streamed;
    bool stopped = false;
    for (size_t pos = 0; pos < ids.size();) {
      const size_t n = std::min<size_t>(ids.size() - pos, 1 + rng() % 4);
      absl::StatusOr<IncrementalDetokenizer::Delta> delta =
          d.Add(std::span<const int32_t>(ids.data() + pos, n));
      ASSERT_TRUE(delta.ok());
      EXPECT_TRUE(IsValidUtf8(delta->text));
      streamed += delta->text;
      // Never emit anything that the final answer does not start with.
      EXPECT_EQ(want.compare(0, streamed.size(), streamed), 0) << testing::Escaped(text);
      stopped = delta->stopped;
      pos += n;
    }
    const IncrementalDetokenizer::Delta last = d.Finish();
    streamed += last.text;
    EXPECT_EQ(streamed, want) << testing::Escaped(text);
    EXPECT_EQ(last.stopped || stopped, want_index >= 0);
    EXPECT_EQ(last.stop_index, want_index);
  }
}

TEST_F(IncrementalDetokenizerTest, Errors) {
  IncrementalDetokenizer::Options empty_stop{.skip_special_tokens = false,
                                             .stop_strings = {"ok", ""}};
  EXPECT_EQ(IncrementalDetokenizer::Create(*tokenizer_, empty_stop).status().code(),
            absl::StatusCode::kInvalidArgument);
  IncrementalDetokenizer::Options bad_utf8{.skip_special_tokens = false, .stop_strings = {"\xC3"}};
  EXPECT_EQ(IncrementalDetokenizer::Create(*tokenizer_, bad_utf8).status().code(),
            absl::StatusCode::kInvalidArgument);
  IncrementalDetokenizer d = Make();
  absl::StatusOr<IncrementalDetokenizer::Delta> bad = d.Add(123456789);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("123456789"), absl::string_view::npos);
  // A call with a bad id consumes none of its ids.
  EXPECT_FALSE(d.Add(std::vector<int32_t>{ByteId('a'), -5}).ok());
  EXPECT_EQ(d.Add(ByteId('b'))->text, "b");
  EXPECT_EQ(d.emitted(), "b");
}

}  // namespace
}  // namespace qwen::gateway
