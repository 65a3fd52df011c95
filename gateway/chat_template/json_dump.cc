#include "gateway/chat_template/json_dump.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

void AppendEscapedUnit(unsigned unit, std::string* out) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
  *out += buf;
}

// json.encoder.py_encode_basestring(_ascii).
void AppendJsonString(const std::string& text, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  for (char32_t c : DecodeUtf8(text)) {
    switch (c) {
      case '"':
        *out += "\\\"";
        continue;
      case '\\':
        *out += "\\\\";
        continue;
      case '\n':
        *out += "\\n";
        continue;
      case '\r':
        *out += "\\r";
        continue;
      case '\t':
        *out += "\\t";
        continue;
      case '\b':
        *out += "\\b";
        continue;
      case '\f':
        *out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        AppendEscapedUnit(0xD800 | (v >> 10), out);
        AppendEscapedUnit(0xDC00 | (v & 0x3FF), out);
      } else {
        AppendEscapedUnit(c, out);
      }
    } else {
      AppendUtf8(c, out);
    }
  }
  out->push_back('"');
}

// float.__repr__ with json's spelling of the non-finite values.
std::string JsonFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return PyFloatRepr(v);
}

class Encoder {
 public:
  explicit Encoder(const JsonDumpOptions& options) : options_(options) {
    item_sep_ = options.item_separator.value_or(options.indent ? "," : ", ");
    key_sep_ = options.key_separator.value_or(": ");
  }

  absl::Status Encode(const Value& value, int depth, std::string* out) {
    if (depth > 200) return absl::InvalidArgumentError("maximum recursion depth exceeded");
    switch (value.kind()) {
      case ValueKind::kNone:
        *out += "null";
        return absl::OkStatus();
      case ValueKind::kBool:
        *out += value.bool_value() ? "true" : "false";
        return absl::OkStatus();
      case ValueKind::kInt:
        *out += std::to_string(value.int_value());
        return absl::OkStatus();
      case ValueKind::kFloat:
        *out += JsonFloat(value.float_value());
        return absl::OkStatus();
      case ValueKind::kString:
        AppendJsonString(value.str(), options_.ensure_ascii, out);
        return absl::OkStatus();
      case ValueKind::kList:
        return EncodeList(value.list(), depth, out);
      case ValueKind::kDict:
        return EncodeDict(value.dict(), depth, out);
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            "Object of type ", PyTypeName(value), " is not JSON serializable"));
    }
  }

 private:
  void NewLine(int depth, std::string* out) const {
    if (!options_.indent) return;
    out->push_back('\n');
    for (int i = 0; i < depth; ++i) *out += *options_.indent;
  }

  absl::Status EncodeList(const ValueList& items, int depth, std::string* out) {
    if (items.empty()) {
      *out += "[]";
      return absl::OkStatus();
    }
    out->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) *out += item_sep_;
      NewLine(depth + 1, out);
      QWEN_RETURN_IF_ERROR(Encode(items[i], depth + 1, out));
    }
    NewLine(depth, out);
    out->push_back(']');
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> KeyText(const Value& key) const {
    switch (key.kind()) {
      case ValueKind::kString:
        return key.str();
      case ValueKind::kNone:
        return std::string("null");
      case ValueKind::kBool:
        return std::string(key.bool_value() ? "true" : "false");
      case ValueKind::kInt:
        return std::to_string(key.int_value());
      case ValueKind::kFloat:
        return JsonFloat(key.float_value());
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            "keys must be str, int, float, bool or None, not ", PyTypeName(key)));
    }
  }

  absl::Status EncodeDict(const Dict& dict, int depth, std::string* out) {
    if (dict.size() == 0) {
      *out += "{}";
      return absl::OkStatus();
    }
    std::vector<const std::pair<Value, Value>*> items;
    for (const auto& item : dict.items()) items.push_back(&item);
    if (options_.sort_keys) {
      absl::Status status;
      std::stable_sort(items.begin(), items.end(), [&](const auto* a, const auto* b) {
        absl::StatusOr<int> c = PyCompare(a->first, b->first, "<");
        if (!c.ok()) {
          status = c.status();
          return false;
        }
        return *c < 0;
      });
      QWEN_RETURN_IF_ERROR(status);
    }
    out->push_back('{');
    bool first = true;
    for (const auto* item : items) {
      if (!first) *out += item_sep_;
      first = false;
      NewLine(depth + 1, out);
      QWEN_ASSIGN_OR_RETURN(std::string key, KeyText(item->first));
      AppendJsonString(key, options_.ensure_ascii, out);
      *out += key_sep_;
      QWEN_RETURN_IF_ERROR(Encode(item->second, depth + 1, out));
    }
    NewLine(depth, out);
    out->push_back('}');
    return absl::OkStatus();
  }

  const JsonDumpOptions& options_;
  std::string item_sep_;
  std::string key_sep_;
};

}  // namespace

absl::StatusOr<std::string> PyJsonDumps(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  Encoder encoder(options);
  QWEN_RETURN_IF_ERROR(encoder.Encode(value, 0, &out));
  return out;
}

}  // namespace qwen::gateway::jinja
