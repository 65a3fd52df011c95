#include "gateway/tokenizer/byte_level.h"

#include "gateway/tokenizer/unicode.h"

namespace qwen::gateway {
namespace {

// Inverse of kByteToUnicode for U+0000..U+0143 (-1: not in the alphabet).
constexpr std::array<int16_t, 0x144> MakeUnicodeToByte() {
  std::array<int16_t, 0x144> table{};
  for (auto& v : table) v = -1;
  for (int b = 0; b < 256; ++b)
    table[byte_level_internal::kByteToUnicode[b]] = static_cast<int16_t>(b);
  return table;
}
constexpr std::array<int16_t, 0x144> kUnicodeToByte = MakeUnicodeToByte();

}  // namespace

int UnicodeToByte(char32_t cp) { return cp < kUnicodeToByte.size() ? kUnicodeToByte[cp] : -1; }

bool ByteLevelToBytes(std::string_view token, std::string* bytes) {
  bytes->clear();
  const char* p = token.data();
  const char* end = p + token.size();
  while (p < end) {
    const DecodedCodepoint d = DecodeUtf8(p, end);
    if (d.cp >= kUnicodeToByte.size() || kUnicodeToByte[d.cp] < 0) return false;
    bytes->push_back(static_cast<char>(kUnicodeToByte[d.cp]));
    p += d.length;
  }
  return true;
}

std::string BytesToByteLevel(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(ByteToUnicode(static_cast<uint8_t>(c)), &out);
  return out;
}

}  // namespace qwen::gateway
