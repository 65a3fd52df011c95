// Parser from tokens to the syntax tree, following jinja2's grammar (jinja2/parser.py) so that
// operator precedence, filter binding and tuple rules match the reference exactly.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "gateway/chat_template/ast.h"
#include "gateway/chat_template/lexer.h"

namespace qwen::gateway::jinja {

// Errors are InvalidArgument "line L, column C: message". Unknown filters and tests are rejected
// here, as jinja2 rejects them when compiling; so are tags this interpreter does not implement
// (extends, block, include, import, from, autoescape, recursive loops).
absl::StatusOr<ast::Body> ParseTemplate(const std::vector<Token>& tokens, const SourceMap& map);

}  // namespace qwen::gateway::jinja
