// String-producing filters (jinja2/filters.py do_trim, do_lower, ...; transformers' tojson).
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/builtins_internal.h"
#include "gateway/chat_template/evaluator.h"
#include "gateway/chat_template/json_dump.h"
#include "gateway/chat_template/ops.h"
#include "gateway/chat_template/py_format.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja::internal {
namespace {

absl::StatusOr<Value> Trim(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("trim", args, {"chars"}));
  std::optional<std::string> chars;
  if (a[0] && !a[0]->is_none()) {
    if (!a[0]->is_string()) return absl::InvalidArgumentError("strip arg must be None or str");
    chars = a[0]->str();
  }
  const Value s = SoftStr(input);
  return SameKind(s, PyStrip(s.str(), true, true, chars));
}

absl::StatusOr<Value> Lower(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("lower", args, {}).status());
  const Value s = SoftStr(input);
  return SameKind(s, PyLower(s.str()));
}

absl::StatusOr<Value> Upper(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("upper", args, {}).status());
  const Value s = SoftStr(input);
  return SameKind(s, PyUpper(s.str()));
}

absl::StatusOr<Value> Capitalize(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("capitalize", args, {}).status());
  const Value s = SoftStr(input);
  return SameKind(s, PyCapitalize(s.str()));
}

// jinja2 do_title: split on runs of [-\s({\[<] and capitalize each piece.
absl::StatusOr<Value> Title(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("title", args, {}).status());
  const Value s = SoftStr(input);
  const std::u32string text = DecodeUtf8(s.str());
  const auto is_sep = [](char32_t c) {
    return IsPySpace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
  };
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    const bool sep = is_sep(text[i]);
    while (j < text.size() && is_sep(text[j]) == sep) ++j;
    const std::string piece = EncodeUtf8(std::u32string_view(text).substr(i, j - i));
    if (sep) {
      out += piece;
    } else {
      const std::string first = EncodeUtf8(std::u32string_view(text).substr(i, 1));
      out += PyUpper(first) + PyLower(piece.substr(first.size()));
    }
    i = j;
  }
  return SameKind(s, std::move(out));
}

absl::StatusOr<Value> Replace(Interpreter& interp, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("replace", args, {"old", "new", "count"}, 2));
  // With autoescape off jinja2 calls str(s).replace(str(old), str(new), count).
  CallArgs method_args;
  method_args.positional = {Value::String(ToPyStr(*a[0])), Value::String(ToPyStr(*a[1]))};
  if (a[2] && !a[2]->is_none()) method_args.positional.push_back(*a[2]);
  const std::optional<Value> method = GetMethod(Value::String(ToPyStr(input)), "replace");
  return interp.Call(*method, method_args);
}

absl::StatusOr<Value> String(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("string", args, {}).status());
  return SoftStr(input);
}

absl::StatusOr<Value> Safe(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("safe", args, {}).status());
  return Value::SafeString(ToPyStr(input));
}

absl::StatusOr<Value> Escape(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("escape", args, {}).status());
  if (input.is_safe()) return input;
  return Value::SafeString(HtmlEscape(ToPyStr(input)));
}

absl::StatusOr<Value> ForceEscape(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("forceescape", args, {}).status());
  return Value::SafeString(HtmlEscape(ToPyStr(input)));
}

// transformers: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
absl::StatusOr<Value> ToJson(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a,
                        BindArgs("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonDumpOptions options;
  options.ensure_ascii = FlagArg(a[0], false);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      options.indent = a[1]->str();
    } else if (a[1]->is_integral()) {
      options.indent = std::string(std::max<int64_t>(0, a[1]->int_value()), ' ');
    } else {
      return absl::InvalidArgumentError("tojson indent must be an int or a string");
    }
  }
  if (a[2] && !a[2]->is_none()) {
    const Value& seps = *a[2];
    if (!seps.is_list() || seps.list().size() != 2 || !seps.list()[0].is_string() ||
        !seps.list()[1].is_string()) {
      return absl::InvalidArgumentError("tojson separators must be a pair of strings");
    }
    options.item_separator = seps.list()[0].str();
    options.key_separator = seps.list()[1].str();
  }
  options.sort_keys = FlagArg(a[3], false);
  QWEN_ASSIGN_OR_RETURN(std::string text, PyJsonDumps(input, options));
  return Value::String(std::move(text));
}

absl::StatusOr<Value> Indent(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("indent", args, {"width", "first", "blank"}));
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->str();
    } else {
      QWEN_ASSIGN_OR_RETURN(int64_t width, IntArg(*a[0], "indent width"));
      indention = std::string(std::max<int64_t>(0, width), ' ');
    }
  }
  const Value s = SoftStr(input);
  const std::vector<std::string> lines = PySplitLines(s.str() + "\n");
  std::string rv;
  if (FlagArg(a[2], false)) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
    }
  }
  if (FlagArg(a[1], false)) rv = indention + rv;
  return SameKind(s, std::move(rv));
}

absl::StatusOr<Value> Center(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("center", args, {"width"}));
  int64_t width = 80;
  if (a[0]) {
    QWEN_ASSIGN_OR_RETURN(width, IntArg(*a[0], "center width"));
  }
  const std::string s = ToPyStr(input);
  const int64_t len = static_cast<int64_t>(CodePointCount(s));
  if (width <= len) return Value::String(s);
  // CPython str.center: the odd space goes left when both counts are odd.
  const int64_t marg = width - len;
  const int64_t left = marg / 2 + (marg & width & 1);
  return Value::String(std::string(left, ' ') + s + std::string(marg - left, ' '));
}

absl::StatusOr<Value> WordCount(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("wordcount", args, {}).status());
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : DecodeUtf8(ToPyStr(input))) {
    const bool word_char = c == '_' || IsPyAlpha(c) || IsPyDigit(c) || (c >= 0x80 && !IsPySpace(c));
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::Int(words);
}

absl::StatusOr<Value> Format(Interpreter&, const Value& input, CallArgs& args) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    return absl::InvalidArgumentError("can't handle positional and keyword arguments at the same time");
  }
  if (!args.keyword.empty()) {
    Dict d;
    for (const auto& [k, v] : args.keyword) d.Set(Value::String(k), v);
    return PyPercentFormat(SoftStr(input).str(), Value::FromDict(std::move(d)));
  }
  return PyPercentFormat(SoftStr(input).str(), Value::Tuple(args.positional));
}

}  // namespace

const std::vector<FilterEntry>& TextFilters() {
  static const auto* const kTable = new std::vector<FilterEntry>{
      {"trim", Trim},         {"lower", Lower},     {"upper", Upper},
      {"capitalize", Capitalize}, {"title", Title}, {"replace", Replace},
      {"string", String},     {"safe", Safe},       {"escape", Escape},
      {"e", Escape},          {"forceescape", ForceEscape}, {"tojson", ToJson},
      {"indent", Indent},     {"center", Center},   {"wordcount", WordCount},
      {"format", Format},
  };
  return *kTable;
}

}  // namespace qwen::gateway::jinja::internal
