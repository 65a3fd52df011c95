// GPT-2 byte-level alphabet (`bytes_to_unicode`): every byte maps to one printable code point so
// that BPE tokens can be written as text in tokenizer.json. Printable bytes 0x21-0x7E, 0xA1-0xAC
// and 0xAE-0xFF map to themselves; the other 68 bytes map, in byte order, to U+0100.. U+0143.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace qwen::gateway {

namespace byte_level_internal {
constexpr bool IsSelfMapped(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
constexpr std::array<char32_t, 256> MakeByteToUnicode() {
  std::array<char32_t, 256> table{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) table[b] = IsSelfMapped(b) ? static_cast<char32_t>(b) : next++;
  return table;
}
inline constexpr std::array<char32_t, 256> kByteToUnicode = MakeByteToUnicode();
}  // namespace byte_level_internal

// The alphabet code point of byte `b`.
inline char32_t ByteToUnicode(uint8_t b) { return byte_level_internal::kByteToUnicode[b]; }

// The byte that alphabet code point `cp` stands for, or -1 when `cp` is not in the alphabet.
int UnicodeToByte(char32_t cp);

// Converts a token spelled in the alphabet (valid UTF-8) to its bytes. Returns false, leaving
// `bytes` unspecified, when some code point is outside the alphabet.
bool ByteLevelToBytes(std::string_view token, std::string* bytes);

// Spells raw bytes in the alphabet.
std::string BytesToByteLevel(std::string_view bytes);

}  // namespace qwen::gateway
