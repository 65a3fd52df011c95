// Python `str` semantics on UTF-8 text, as far as chat templates can observe them: code-point
// indexing, str.strip()/split() whitespace, case mapping, and repr() of strings and floats.
//
// Templates are rendered by Python jinja2 in the reference implementation, so every place where a
// Python built-in shows through in the output (|trim strips U+3000, `1.0` prints as "1.0", a dict
// prints as "{'a': 1}") must be reproduced byte for byte here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::gateway::jinja {

// Decodes UTF-8 into code points. Malformed bytes decode as U+FFFD (inputs are validated before
// they reach the interpreter, so this only guards against misuse).
std::u32string DecodeUtf8(std::string_view text);
void AppendUtf8(char32_t code_point, std::string* out);
std::string EncodeUtf8(std::u32string_view code_points);
// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool IsValidUtf8(std::string_view text);
// Number of code points (Python len()).
size_t CodePointCount(std::string_view text);
// Byte offset of code point `index` (clamped to the end).
size_t ByteOffsetOfCodePoint(std::string_view text, size_t index);

// Python str.isspace() for one code point (the set str.strip()/str.split() use).
bool IsPySpace(char32_t c);
// Python str.strip/lstrip/rstrip. With `chars`, strips the code points it contains instead.
std::string PyStrip(std::string_view text, bool left, bool right,
                    const std::optional<std::string>& chars = std::nullopt);
// Python str.split(sep, maxsplit); no `sep` splits on runs of whitespace.
std::vector<std::string> PySplit(std::string_view text, const std::optional<std::string>& sep,
                                 int64_t maxsplit);
std::vector<std::string> PyRSplit(std::string_view text, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
// Python str.splitlines() (without keepends).
std::vector<std::string> PySplitLines(std::string_view text);

// Case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and fullwidth Latin. Other
// scripts are returned unchanged (Python would map a few more, e.g. Armenian and Georgian).
std::string PyLower(std::string_view text);
std::string PyUpper(std::string_view text);
// Python str.capitalize() and str.title().
std::string PyCapitalize(std::string_view text);
std::string PyTitle(std::string_view text);
bool PyIsLower(std::string_view text);
bool PyIsUpper(std::string_view text);
bool IsPyAlpha(char32_t c);
bool IsPyDigit(char32_t c);

// repr() of a Python float ("1.0", "1e-05", "1.5e+16", "inf", "nan").
std::string PyFloatRepr(double value);
// repr() of a Python str: quotes chosen like CPython, control and non-printable characters escaped.
std::string PyStringRepr(std::string_view text);
// Python's "unicode-escape" decoding of a string literal body (\n, \t, \xNN, \uNNNN, \UNNNNNNNN,
// octal, line continuations; unknown escapes stay as written), as jinja2's lexer applies it.
absl::StatusOr<std::string> PyUnicodeEscapeDecode(std::string_view body);
// Parses like Python float(str): surrounding whitespace, '_' between digits, inf/nan.
std::optional<double> ParsePyFloat(std::string_view text);
// Parses like Python int(str, base) for base 10 (and 2/8/16 with or without prefixes).
std::optional<int64_t> ParsePyInt(std::string_view text, int base);

}  // namespace qwen::gateway::jinja
