// Unicode building blocks: NFC, UTF-8 validation and lossy repair, byte-level alphabet, and the
// pre-tokenizer regex.
#include "gateway/tokenizer/unicode.h"

#include <string>
#include <vector>

#include "gateway/tokenizer/byte_level.h"
#include "gateway/tokenizer/pretokenizer.h"
#include "gtest/gtest.h"
#include "tests/gateway/tokenizer/test_util.h"

namespace qwen::gateway {
namespace {

namespace ut = unicode_tables;

TEST(NfcTest, MatchesPythonUnicodedata) {
  const nlohmann::json cases = testing::ReadJsonOrDie(
      testing::SourcePath("tests/gateway/tokenizer/testdata/nfc_cases.json"));
  ASSERT_GT(cases.size(), 5000u);
  int failures = 0;
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const std::string want = c["nfc"].get<std::string>();
    const std::string got = ToNfc(text);
    if (got != want && ++failures <= 20) {
      ADD_FAILURE() << testing::Escaped(text) << " -> " << testing::Escaped(got) << ", want "
                    << testing::Escaped(want);
    }
    // IsNfcQuick may only say "yes" for text that NFC leaves alone.
    if (IsNfcQuick(text)) {
      EXPECT_EQ(text, want) << testing::Escaped(text);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(NfcTest, Examples) {
  EXPECT_EQ(ToNfc("cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(ToNfc("\u212b"), "\u00c5");               // singleton decomposition
  EXPECT_EQ(ToNfc("a\u0302\u0323"), "\u1ead");        // reordered, then composed
  EXPECT_EQ(ToNfc("\u1100\u1161\u11a8"), "\uac01");   // Hangul L V T
  EXPECT_EQ(ToNfc("\uac00\u11a8"), "\uac01");         // Hangul LV + T
  EXPECT_EQ(ToNfc("\u0958"), "\u0915\u093c");         // composition exclusion
  EXPECT_EQ(ToNfc("\u0301x"), "\u0301x");             // leading mark stays
  EXPECT_EQ(ToNfc("e\u0301\u0301"), "\u00e9\u0301");  // second acute has no composite
  EXPECT_EQ(ToNfc("plain ascii"), "plain ascii");
  EXPECT_TRUE(IsNfcQuick("plain ascii, caf\u00e9, \u4f60\u597d"));
  EXPECT_FALSE(IsNfcQuick("cafe\u0301"));
}

TEST(Utf8Test, Validation) {
  EXPECT_TRUE(IsValidUtf8("abc \u00e9 \u4f60 \U0001F680"));
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);            // truncated
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);          // overlong
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);     // surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("12345678\x80"), 8u);
}

std::string Lossy(std::string_view bytes) {
  std::string out;
  EXPECT_EQ(AppendUtf8Lossy(bytes, true, &out), bytes.size());
  return out;
}

TEST(Utf8Test, LossyUsesMaximalSubparts) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(Lossy("ok"), "ok");
  EXPECT_EQ(Lossy("\xF0\x9F\x9A"), r);          // incomplete at the end: one U+FFFD
  EXPECT_EQ(Lossy("\xF0\x9F<"), r + "<");       // maximal subpart F0 9F
  EXPECT_EQ(Lossy("\x9A\x80"), r + r);          // lone continuation bytes: one each
  EXPECT_EQ(Lossy("\xE0\x80\x80"), r + r + r);  // E0 80 is never valid
  EXPECT_EQ(Lossy("\xED\xA0\x80"), r + r + r);  // surrogates
  EXPECT_EQ(Lossy("a\xFF"
                  "b"),
            "a" + r + "b");
  // Not final: an incomplete tail is left for later.
  std::string out;
  EXPECT_EQ(AppendUtf8Lossy("a\xF0\x9F", false, &out), 1u);
  EXPECT_EQ(out, "a");
  out.clear();
  EXPECT_EQ(AppendUtf8Lossy("\xF0\x9F<", false, &out), 3u);  // already known to be ill-formed
  EXPECT_EQ(out, r + "<");
}

TEST(ByteLevelTest, Alphabet) {
  EXPECT_EQ(ByteToUnicode(' '), U'\u0120');   // Ġ
  EXPECT_EQ(ByteToUnicode('\n'), U'\u010a');  // Ċ
  EXPECT_EQ(ByteToUnicode('A'), U'A');
  EXPECT_EQ(ByteToUnicode(0xAD), U'\u0143');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(UnicodeToByte(ByteToUnicode(b)), b);
  EXPECT_EQ(UnicodeToByte(U' '), -1);
  std::string bytes;
  ASSERT_TRUE(ByteLevelToBytes("\u0120hello\u010a", &bytes));
  EXPECT_EQ(bytes, " hello\n");
  EXPECT_FALSE(ByteLevelToBytes("a b", &bytes));
  EXPECT_EQ(BytesToByteLevel(" hi\n"), "\u0120hi\u010a");
}

TEST(FlagsTest, Categories) {
  EXPECT_EQ(CodepointFlags(U'a'), ut::kLetter);
  EXPECT_EQ(CodepointFlags(U'\u4f60'), ut::kLetter);
  EXPECT_EQ(CodepointFlags(U'\u00b2'), ut::kNumber);  // No
  EXPECT_EQ(CodepointFlags(U'\u216b'), ut::kNumber);  // Nl
  EXPECT_TRUE(CodepointFlags(U'\u0301') & ut::kMark);
  EXPECT_EQ(CodepointFlags(U'\u3000'), ut::kWhiteSpace);
  EXPECT_EQ(CodepointFlags(U'\u0085'), ut::kWhiteSpace);
  EXPECT_EQ(CodepointFlags(U'\u180e'), 0);  // not White_Space since Unicode 6.3
  EXPECT_EQ(CodepointFlags(U'\x1c'), 0);    // str.isspace() but not \s
  EXPECT_EQ(CodepointFlags(0x110000), 0);
  EXPECT_EQ(CombiningClass(U'\u0301'), 230);
  EXPECT_EQ(CombiningClass(U'a'), 0);
}

std::vector<std::string> Split(PretokenizerPattern p, std::string_view text) {
  std::vector<std::string_view> pieces;
  SplitPieces(p, text, &pieces);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PretokenizerTest, Qwen35) {
  const auto q = PretokenizerPattern::kQwen35;
  EXPECT_EQ(Split(q, "cafe\u0301 12 x"), (Pieces{"cafe\u0301", " ", "1", "2", " x"}));
  EXPECT_EQ(Split(q, "Hello, world!"), (Pieces{"Hello", ",", " world", "!"}));
  EXPECT_EQ(Split(q, "  multiple   spaces"), (Pieces{" ", " multiple", "  ", " spaces"}));
  EXPECT_EQ(Split(q, "  one\n\nTwo... 42!\t"),
            (Pieces{" ", " one", "\n\n", "Two", "...", " ", "4", "2", "!", "\t"}));
  EXPECT_EQ(Split(q, "I'M here, you're"), (Pieces{"I", "'M", " here", ",", " you", "'re"}));
  EXPECT_EQ(Split(q, "it'\u017f"), (Pieces{"it", "'\u017f"}));
  EXPECT_EQ(Split(q, "a\u00a0b"), (Pieces{"a", "\u00a0b"}));
  EXPECT_EQ(Split(q, "x \n  y"), (Pieces{"x", " \n", " ", " y"}));
  EXPECT_EQ(Split(q, "end  "), (Pieces{"end", "  "}));
  EXPECT_EQ(Split(q, "!!\n\n?"), (Pieces{"!!\n\n", "?"}));
  EXPECT_EQ(Split(q, "\u4f60\u597d\uff0c\u4e16\u754c"),
            (Pieces{"\u4f60\u597d", "\uff0c\u4e16\u754c"}));
}

TEST(PretokenizerTest, Qwen2MarksArePunctuation) {
  const auto q = PretokenizerPattern::kQwen2;
  EXPECT_EQ(Split(q, "cafe\u0301 12 x"), (Pieces{"cafe", "\u0301", " ", "1", "2", " x"}));
  EXPECT_EQ(Split(q, "\u0301abc"), (Pieces{"\u0301abc"}));
}

TEST(PretokenizerTest, PiecesTileTheText) {
  const std::string text = "mixed \t\r\n text\u3000\u0301!! 123 'S \U0001F680\u200d\u2028 ";
  for (auto p : {PretokenizerPattern::kQwen35, PretokenizerPattern::kQwen2}) {
    std::string joined;
    for (const std::string& piece : Split(p, text)) {
      EXPECT_FALSE(piece.empty());
      joined += piece;
    }
    EXPECT_EQ(joined, text);
  }
}

}  // namespace
}  // namespace qwen::gateway
