#include "gateway/chat_template/value.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {

Value Value::Undefined(std::string hint) {
  return Value(ValueKind::kUndefined, false, std::move(hint));
}
Value Value::None() { return Value(ValueKind::kNone, false, std::monostate()); }
Value Value::Bool(bool b) { return Value(ValueKind::kBool, b, std::monostate()); }
Value Value::Int(int64_t i) { return Value(ValueKind::kInt, false, i); }
Value Value::Float(double d) { return Value(ValueKind::kFloat, false, d); }
Value Value::String(std::string s) { return Value(ValueKind::kString, false, std::move(s)); }
Value Value::SafeString(std::string s) { return Value(ValueKind::kString, true, std::move(s)); }
Value Value::List(ValueList items) {
  return Value(ValueKind::kList, false, std::make_shared<const ValueList>(std::move(items)));
}
Value Value::Tuple(ValueList items) {
  return Value(ValueKind::kList, true, std::make_shared<const ValueList>(std::move(items)));
}
Value Value::FromDict(Dict dict) {
  return Value(ValueKind::kDict, false, std::make_shared<const Dict>(std::move(dict)));
}
Value Value::FromNamespace(std::shared_ptr<Namespace> ns) {
  return Value(ValueKind::kNamespace, false, std::move(ns));
}
Value Value::Function(std::string name, NativeFunction fn, bool is_macro) {
  auto callable = std::make_shared<Callable>();
  callable->name = std::move(name);
  callable->is_macro = is_macro;
  callable->fn = std::move(fn);
  return Value(ValueKind::kCallable, false, std::shared_ptr<const Callable>(std::move(callable)));
}
Value Value::Loop(std::shared_ptr<LoopInfo> loop) {
  return Value(ValueKind::kLoop, false, std::move(loop));
}

int64_t Value::int_value() const { return is_bool() ? (flag_ ? 1 : 0) : std::get<int64_t>(payload_); }
double Value::float_value() const {
  return is_float() ? std::get<double>(payload_) : static_cast<double>(int_value());
}
const std::string& Value::str() const {
  static const std::string* const kEmpty = new std::string();
  const auto* s = std::get_if<std::string>(&payload_);
  return s != nullptr ? *s : *kEmpty;
}
const ValueList& Value::list() const { return *std::get<std::shared_ptr<const ValueList>>(payload_); }
const Dict& Value::dict() const { return *std::get<std::shared_ptr<const Dict>>(payload_); }
Namespace& Value::ns() const { return *std::get<std::shared_ptr<Namespace>>(payload_); }
const Callable& Value::callable() const {
  return *std::get<std::shared_ptr<const Callable>>(payload_);
}
LoopInfo& Value::loop() const { return *std::get<std::shared_ptr<LoopInfo>>(payload_); }

const void* Value::identity() const {
  switch (kind_) {
    case ValueKind::kList:
      return std::get<std::shared_ptr<const ValueList>>(payload_).get();
    case ValueKind::kDict:
      return std::get<std::shared_ptr<const Dict>>(payload_).get();
    case ValueKind::kNamespace:
      return std::get<std::shared_ptr<Namespace>>(payload_).get();
    case ValueKind::kCallable:
      return std::get<std::shared_ptr<const Callable>>(payload_).get();
    case ValueKind::kLoop:
      return std::get<std::shared_ptr<LoopInfo>>(payload_).get();
    default:
      return nullptr;
  }
}

const Value* Dict::Find(const Value& key) const {
  for (const auto& [k, v] : items_) {
    if (PyEquals(k, key)) return &v;
  }
  return nullptr;
}

const Value* Dict::Find(std::string_view key) const {
  for (const auto& [k, v] : items_) {
    if (k.is_string() && k.str() == key) return &v;
  }
  return nullptr;
}

void Dict::Set(Value key, Value value) {
  for (auto& [k, v] : items_) {
    if (PyEquals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items_.emplace_back(std::move(key), std::move(value));
}

bool IsTruthy(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return false;
    case ValueKind::kBool:
      return value.bool_value();
    case ValueKind::kInt:
      return value.int_value() != 0;
    case ValueKind::kFloat:
      return value.float_value() != 0.0;
    case ValueKind::kString:
      return !value.str().empty();
    case ValueKind::kList:
      return !value.list().empty();
    case ValueKind::kDict:
      return value.dict().size() != 0;
    case ValueKind::kLoop:
      return !value.loop().items.empty();
    case ValueKind::kNamespace:
    case ValueKind::kCallable:
      return true;
  }
  return false;
}

std::string PyTypeName(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "NoneType";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kString:
      return value.is_safe() ? "Markup" : "str";
    case ValueKind::kList:
      return value.is_tuple() ? "tuple" : "list";
    case ValueKind::kDict:
      return "dict";
    case ValueKind::kNamespace:
      return "Namespace";
    case ValueKind::kCallable:
      return value.callable().is_macro ? "Macro" : "function";
    case ValueKind::kLoop:
      return "LoopContext";
  }
  return "object";
}

std::string ObjectTypeRepr(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kNone:
      return "None";
    case ValueKind::kString:
      return value.is_safe() ? "markupsafe.Markup object" : "str object";
    case ValueKind::kNamespace:
      return "jinja2.utils.Namespace object";
    case ValueKind::kCallable:
      return value.callable().is_macro ? "jinja2.runtime.Macro object" : "function object";
    case ValueKind::kLoop:
      return "jinja2.runtime.LoopContext object";
    case ValueKind::kUndefined:
      return "jinja2.runtime.Undefined object";
    default:
      return PyTypeName(value) + " object";
  }
}

std::string ToPyStr(const Value& value) {
  if (value.is_undefined()) return "";
  if (value.is_string()) return value.str();
  return ToPyRepr(value);
}

std::string ToPyRepr(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "None";
    case ValueKind::kBool:
      return value.bool_value() ? "True" : "False";
    case ValueKind::kInt:
      return std::to_string(value.int_value());
    case ValueKind::kFloat:
      return PyFloatRepr(value.float_value());
    case ValueKind::kString:
      return value.is_safe() ? absl::StrCat("Markup(", PyStringRepr(value.str()), ")")
                             : PyStringRepr(value.str());
    case ValueKind::kList: {
      std::string out = value.is_tuple() ? "(" : "[";
      const ValueList& items = value.list();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += ToPyRepr(items[i]);
      }
      if (value.is_tuple() && items.size() == 1) out += ",";
      out += value.is_tuple() ? ")" : "]";
      return out;
    }
    case ValueKind::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : value.dict().items()) {
        if (!first) out += ", ";
        first = false;
        out += ToPyRepr(k) + ": " + ToPyRepr(v);
      }
      return out + "}";
    }
    case ValueKind::kNamespace:
      return "<Namespace " + ToPyRepr(Value::FromDict(value.ns().attrs)) + ">";
    case ValueKind::kCallable:
      return value.callable().is_macro ? "<Macro " + PyStringRepr(value.callable().name) + ">"
                                       : "<function " + value.callable().name + ">";
    case ValueKind::kLoop:
      return absl::StrCat("<LoopContext ", value.loop().index0 + 1, "/", value.loop().items.size(),
                          ">");
  }
  return "";
}

bool PyEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.float_value() == b.float_value();
    return a.int_value() == b.int_value();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return true;
    case ValueKind::kString:
      return a.str() == b.str();
    case ValueKind::kList: {
      if (a.is_tuple() != b.is_tuple() || a.list().size() != b.list().size()) return false;
      for (size_t i = 0; i < a.list().size(); ++i) {
        if (!PyEquals(a.list()[i], b.list()[i])) return false;
      }
      return true;
    }
    case ValueKind::kDict: {
      if (a.dict().size() != b.dict().size()) return false;
      for (const auto& [k, v] : a.dict().items()) {
        const Value* other = b.dict().Find(k);
        if (other == nullptr || !PyEquals(v, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

absl::StatusOr<int> PyCompare(const Value& a, const Value& b, std::string_view op) {
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.float_value(), y = b.float_value();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.int_value(), y = b.int_value();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order equals code point order.
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const ValueList& x = a.list();
    const ValueList& y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (PyEquals(x[i], y[i])) continue;
      return PyCompare(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return absl::InvalidArgumentError(absl::StrCat("'", std::string(op),
                                                 "' not supported between instances of '",
                                                 PyTypeName(a), "' and '", PyTypeName(b), "'"));
}

bool IsHashable(const Value& value) {
  if (value.is_dict() || value.is_loop()) return false;
  if (value.is_list()) {
    if (!value.is_tuple()) return false;
    for (const Value& v : value.list()) {
      if (!IsHashable(v)) return false;
    }
  }
  return true;
}

absl::StatusOr<ValueList> Iterate(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return ValueList();
    case ValueKind::kList:
      return value.list();
    case ValueKind::kDict: {
      ValueList keys;
      keys.reserve(value.dict().size());
      for (const auto& [k, v] : value.dict().items()) keys.push_back(k);
      return keys;
    }
    case ValueKind::kString: {
      ValueList chars;
      for (char32_t c : DecodeUtf8(value.str())) {
        std::string s;
        AppendUtf8(c, &s);
        chars.push_back(Value::String(std::move(s)));
      }
      return chars;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("'", PyTypeName(value), "' object is not iterable"));
  }
}

absl::StatusOr<int64_t> PyLen(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return 0;
    case ValueKind::kString:
      return static_cast<int64_t>(CodePointCount(value.str()));
    case ValueKind::kList:
      return static_cast<int64_t>(value.list().size());
    case ValueKind::kDict:
      return static_cast<int64_t>(value.dict().size());
    case ValueKind::kLoop:
      return static_cast<int64_t>(value.loop().items.size());
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("object of type '", PyTypeName(value), "' has no len()"));
  }
}

absl::StatusOr<bool> PyContains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::kUndefined:
      return false;
    case ValueKind::kString:
      if (!item.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'in <string>' requires string as left operand, not ", PyTypeName(item)));
      }
      return container.str().find(item.str()) != std::string::npos;
    case ValueKind::kList:
      for (const Value& v : container.list()) {
        if (PyEquals(v, item)) return true;
      }
      return false;
    case ValueKind::kDict:
      if (!IsHashable(item)) {
        return absl::InvalidArgumentError(
            absl::StrCat("unhashable type: '", PyTypeName(item), "'"));
      }
      return container.dict().Find(item) != nullptr;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("argument of type '", PyTypeName(container), "' is not iterable"));
  }
}

absl::Status UndefinedError(const Value& undefined) {
  return absl::InvalidArgumentError(undefined.str().empty() ? "'Undefined' is undefined"
                                                            : undefined.str());
}

Value FromJson(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::None();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = json.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Value::Int(static_cast<int64_t>(u));
      }
      return Value::Float(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::String(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ValueList items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(FromJson(item));
      return Value::List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict dict;
      for (const auto& [key, item] : json.items()) dict.Set(Value::String(key), FromJson(item));
      return Value::FromDict(std::move(dict));
    }
    default:
      return Value::None();
  }
}

}  // namespace qwen::gateway::jinja
