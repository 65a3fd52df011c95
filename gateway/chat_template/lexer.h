// Tokenizer for Jinja templates with the whitespace rules of jinja2's lexer under
// trim_blocks=True and lstrip_blocks=True (the transformers chat-template environment):
//   * `{%- ... -%}`, `{{- ... -}}`, `{#- ... -#}` strip all whitespace before/after the tag;
//   * `{%+` turns lstrip_blocks off for one tag, `+%}` turns trim_blocks off for one tag;
//   * trim_blocks drops the first newline after a block or comment tag;
//   * lstrip_blocks drops spaces/tabs between the start of a line and a block or comment tag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::gateway::jinja {

enum class TokenKind {
  kData,           // template text, whitespace rules already applied
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kName,
  kString,   // value is the unescaped string
  kInteger,  // int_value
  kFloat,    // float_value
  kOperator,  // value is the operator text: + - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | , ;
  kEof,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string value;
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // byte offset in the normalized source
};

// Maps byte offsets of a normalized source to 1-based line and column (columns count code points).
class SourceMap {
 public:
  explicit SourceMap(std::string_view source);
  int Line(size_t offset) const;
  int Column(size_t offset) const;
  // "line L, column C"
  std::string Describe(size_t offset) const;

 private:
  std::string_view source_;
  std::vector<size_t> line_starts_;
};

// jinja2's preprocessing: "\r\n" and "\r" become "\n" and one trailing newline is dropped
// (keep_trailing_newline=False).
std::string NormalizeSource(std::string_view source);

// Tokenizes a normalized source. Errors are InvalidArgument with "line L, column C: " prefixes.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source, const SourceMap& map);

}  // namespace qwen::gateway::jinja
