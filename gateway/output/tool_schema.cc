#include "gateway/output/tool_schema.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gateway/output/text_scan.h"

namespace qwen::gateway {
namespace {

using output_internal::IsAsciiSpace;
using OrderedJson = nlohmann::ordered_json;

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The declared type of a parameter schema, lower-cased ("" when none), and its nullability.
struct DeclaredType {
  std::string name;
  bool nullable = false;
};

DeclaredType ResolveType(const nlohmann::json& schema) {
  DeclaredType result;
  if (!schema.is_object()) return result;
  auto consider = [&result](const nlohmann::json& type) {
    if (!type.is_string()) return;
    std::string name = LowerAscii(TrimAscii(type.get_ref<const std::string&>()));
    if (name == "null") {
      result.nullable = true;
    } else if (result.name.empty()) {
      result.name = std::move(name);
    }
  };
  if (auto it = schema.find("type"); it != schema.end()) {
    if (it->is_array()) {
      for (const auto& entry : *it) consider(entry);
    } else {
      consider(*it);
    }
    return result;
  }
  for (const char* key : {"anyOf", "oneOf"}) {
    auto it = schema.find(key);
    if (it == schema.end() || !it->is_array()) continue;
    for (const auto& option : *it) {
      if (option.is_object()) {
        if (auto type = option.find("type"); type != option.end()) consider(*type);
      }
    }
  }
  return result;
}

bool IsNullLiteral(std::string_view trimmed) {
  std::string lower = LowerAscii(trimmed);
  return lower == "null" || lower == "none";
}

bool IsStringType(const std::string& t) {
  return t == "string" || t == "str" || t == "text" || t == "varchar" || t == "char" || t == "enum";
}

bool IsIntegerType(const std::string& t) {
  return StartsWith(t, "int") || StartsWith(t, "uint") || StartsWith(t, "long") ||
         StartsWith(t, "short") || StartsWith(t, "unsigned");
}

bool IsNumberType(const std::string& t) { return StartsWith(t, "num") || StartsWith(t, "float"); }

bool IsBooleanType(const std::string& t) { return t == "boolean" || t == "bool" || t == "binary"; }

bool IsContainerType(const std::string& t) {
  return t == "object" || t == "array" || t == "arr" || StartsWith(t, "dict") ||
         StartsWith(t, "list");
}

// from_chars rejects a leading '+', which Python's int()/float() accept.
std::string_view StripPlus(std::string_view s) {
  if (s.size() >= 2 && s[0] == '+' && s[1] != '+' && s[1] != '-') s.remove_prefix(1);
  return s;
}

bool ParseInteger(std::string_view trimmed, OrderedJson& out) {
  std::string_view s = StripPlus(trimmed);
  if (s.empty()) return false;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc() && end == s.data() + s.size()) {
    out = value;
    return true;
  }
  uint64_t unsigned_value = 0;
  auto [uend, uec] = std::from_chars(s.data(), s.data() + s.size(), unsigned_value);
  if (uec == std::errc() && uend == s.data() + s.size()) {
    out = unsigned_value;
    return true;
  }
  return false;
}

bool ParseNumber(std::string_view trimmed, OrderedJson& out) {
  std::string_view s = StripPlus(trimmed);
  if (s.empty()) return false;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return false;
  // 2^63: every integral double below it in magnitude converts to int64 exactly.
  constexpr double kInt64Limit = 9223372036854775808.0;
  if (std::trunc(value) == value && std::fabs(value) < kInt64Limit) {
    out = static_cast<int64_t>(value);
  } else {
    out = value;
  }
  return true;
}

bool ParseJson(const std::string& text, OrderedJson& out) {
  OrderedJson parsed = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return false;
  out = std::move(parsed);
  return true;
}

}  // namespace

OrderedJson ConvertParameterValue(const std::string& raw, const nlohmann::json* schema) {
  DeclaredType type = schema != nullptr ? ResolveType(*schema) : DeclaredType{};
  std::string_view trimmed = TrimAscii(raw);
  OrderedJson out;
  if (type.nullable && IsNullLiteral(trimmed)) return nullptr;
  if (IsStringType(type.name)) return raw;
  if (!type.name.empty() && IsNullLiteral(trimmed)) return nullptr;
  if (IsIntegerType(type.name)) return ParseInteger(trimmed, out) ? out : OrderedJson(raw);
  if (IsNumberType(type.name)) return ParseNumber(trimmed, out) ? out : OrderedJson(raw);
  if (IsBooleanType(type.name)) {
    std::string lower = LowerAscii(trimmed);
    if (lower == "true") return true;
    if (lower == "false") return false;
    return raw;
  }
  if (IsContainerType(type.name)) {
    if (!ParseJson(raw, out)) return raw;
    if (out.is_string()) {
      OrderedJson inner;
      if (ParseJson(out.get_ref<const std::string&>(), inner)) return inner;
    }
    return out;
  }
  return ParseJson(raw, out) ? out : OrderedJson(raw);
}

absl::StatusOr<ToolSchemas> ToolSchemas::Create(const nlohmann::json& tools) {
  if (!tools.is_array()) return absl::InvalidArgumentError("tools must be a JSON array");
  ToolSchemas schemas;
  for (size_t i = 0; i < tools.size(); ++i) {
    const nlohmann::json& tool = tools[i];
    if (!tool.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("tools[", i, "] is not an object"));
    }
    auto fn_it = tool.find("function");
    const nlohmann::json& function = fn_it != tool.end() ? *fn_it : tool;
    if (!function.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("tools[", i, "].function is not an object"));
    }
    auto name_it = function.find("name");
    if (name_it == function.end() || !name_it->is_string() ||
        name_it->get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("tools[", i, "] has no function name"));
    }
    nlohmann::json properties = nlohmann::json::object();
    if (auto params = function.find("parameters"); params != function.end() && !params->is_null()) {
      if (!params->is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat("tools[", i, "].parameters is not an object"));
      }
      if (auto props = params->find("properties"); props != params->end() && !props->is_null()) {
        if (!props->is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat("tools[", i, "].parameters.properties is not an object"));
        }
        properties = *props;
      }
    }
    schemas.properties_.emplace(name_it->get<std::string>(), std::move(properties));
  }
  return schemas;
}

ToolSchemas ToolSchemas::AcceptAny() {
  ToolSchemas schemas;
  schemas.accept_any_ = true;
  return schemas;
}

const nlohmann::json* ToolSchemas::Properties(std::string_view function) const {
  auto it = properties_.find(function);
  return it == properties_.end() ? nullptr : &it->second;
}

bool ToolSchemas::HasFunction(std::string_view function) const {
  return accept_any_ || properties_.find(function) != properties_.end();
}

bool ToolSchemas::DeclaresParameter(std::string_view function, std::string_view param) const {
  const nlohmann::json* props = Properties(function);
  return props != nullptr && props->find(std::string(param)) != props->end();
}

OrderedJson ToolSchemas::Convert(std::string_view function, std::string_view param,
                                 const std::string& raw) const {
  const nlohmann::json* props = Properties(function);
  const nlohmann::json* schema = nullptr;
  if (props != nullptr) {
    if (auto it = props->find(std::string(param)); it != props->end()) schema = &*it;
  }
  return ConvertParameterValue(raw, schema);
}

}  // namespace qwen::gateway
