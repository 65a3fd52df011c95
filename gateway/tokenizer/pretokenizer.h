// The Qwen pre-tokenizer: splits normalized text into pieces exactly as Hugging Face `tokenizers`
// does with `Split(Regex(PATTERN), behavior="isolated")` (Oniguruma semantics), hand-written so
// that no regex engine is needed. Supported patterns:
//
//   kQwen35 (Qwen3.5 / Qwen3.6):
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}|
//     ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   kQwen2 (Qwen2 / Qwen2.5 / Qwen3): the same with \p{L}+ for the letter run and
//     [^\s\p{L}\p{N}]+ for the punctuation run (marks are punctuation there).
//
// \s is Unicode White_Space, \p{..} are general categories of Unicode 14.0, and (?i:) matches
// s/S/U+017F (long s, which folds to s) as Oniguruma's case folding does.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace qwen::gateway {

enum class PretokenizerPattern { kQwen35, kQwen2 };

// The exact regex strings that tokenizer.json files carry for each pattern (used by the loader to
// recognise the pre-tokenizer).
extern const char kQwen35PretokenizeRegex[];
extern const char kQwen2PretokenizeRegex[];

// Length in bytes of the regex match that starts at `pos` (0 < result <= text.size() - pos).
// Expects valid UTF-8 and pos < text.size() at a code point boundary. Because the alternatives
// cover every code point, a match always exists at every position, so consecutive matches tile
// the text.
size_t MatchPiece(PretokenizerPattern pattern, std::string_view text, size_t pos);

// Appends the pieces of `text` (views into it) to `pieces`.
void SplitPieces(PretokenizerPattern pattern, std::string_view text,
                 std::vector<std::string_view>* pieces);

}  // namespace qwen::gateway
