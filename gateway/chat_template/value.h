// The value model of the template interpreter: Python objects as jinja2 sees them.
//
// Values are cheap to copy: strings are held by value, containers are shared and immutable (the
// reference runs in an ImmutableSandboxedEnvironment, so templates cannot mutate lists or dicts),
// and the only mutable objects are namespace() instances and loop contexts, which Python also
// shares by reference.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway::jinja {

class Value;
class Dict;
class Interpreter;
struct Namespace;
struct LoopInfo;

using ValueList = std::vector<Value>;

// Arguments of a call, filter or test, after evaluation.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A native function or bound method. Macros are callables whose function renders their body.
using NativeFunction = std::function<absl::StatusOr<Value>(Interpreter&, CallArgs&)>;
struct Callable {
  std::string name;
  bool is_macro = false;
  NativeFunction fn;
};

enum class ValueKind {
  kUndefined,  // jinja2.Undefined: prints empty, falsy, iterates empty; other use is an error
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,  // UTF-8; may be markup-safe (markupsafe.Markup)
  kList,    // list or tuple
  kDict,
  kNamespace,
  kCallable,
  kLoop,  // the `loop` variable of a for loop
};

class Value {
 public:
  Value() = default;  // Undefined without a hint

  // `hint` is the error message jinja2 reports when the undefined value is used, e.g.
  // "'x' is undefined" or "'dict object' has no attribute 'x'".
  static Value Undefined(std::string hint);
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double d);
  static Value String(std::string s);
  static Value SafeString(std::string s);
  static Value List(ValueList items);
  static Value Tuple(ValueList items);
  static Value FromDict(Dict dict);
  static Value FromNamespace(std::shared_ptr<Namespace> ns);
  static Value Function(std::string name, NativeFunction fn, bool is_macro = false);
  static Value Loop(std::shared_ptr<LoopInfo> loop);

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_bool() const { return kind_ == ValueKind::kBool; }
  bool is_int() const { return kind_ == ValueKind::kInt; }
  bool is_float() const { return kind_ == ValueKind::kFloat; }
  // bool, int or float (Python numbers.Number; bool is an int subclass).
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  // bool or int (Python int, for indexing and integer arithmetic).
  bool is_integral() const { return is_bool() || is_int(); }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_list() const { return kind_ == ValueKind::kList; }  // list or tuple
  bool is_tuple() const { return kind_ == ValueKind::kList && flag_; }
  bool is_dict() const { return kind_ == ValueKind::kDict; }
  bool is_namespace() const { return kind_ == ValueKind::kNamespace; }
  bool is_callable() const { return kind_ == ValueKind::kCallable; }
  bool is_loop() const { return kind_ == ValueKind::kLoop; }
  // A markupsafe.Markup string (from |safe or |escape).
  bool is_safe() const { return kind_ == ValueKind::kString && flag_; }

  bool bool_value() const { return flag_; }
  // For bool/int: the integer value (True is 1).
  int64_t int_value() const;
  // For any number: the value as a double.
  double float_value() const;
  // String payload; for Undefined, its hint.
  const std::string& str() const;
  const ValueList& list() const;
  const Dict& dict() const;
  Namespace& ns() const;
  const Callable& callable() const;
  LoopInfo& loop() const;
  // Identity for objects Python compares with `is` (containers, namespaces, callables).
  const void* identity() const;

 private:
  using Payload = std::variant<std::monostate, int64_t, double, std::string,
                               std::shared_ptr<const ValueList>, std::shared_ptr<const Dict>,
                               std::shared_ptr<Namespace>, std::shared_ptr<const Callable>,
                               std::shared_ptr<LoopInfo>>;
  Value(ValueKind kind, bool flag, Payload payload)
      : kind_(kind), flag_(flag), payload_(std::move(payload)) {}

  ValueKind kind_ = ValueKind::kUndefined;
  bool flag_ = false;  // bool value; markup-safe string; tuple
  Payload payload_;
};

// Insertion-ordered mapping with Python key equality (1 == 1.0 == True). Linear lookup: the
// dictionaries of a chat request are small.
class Dict {
 public:
  const Value* Find(const Value& key) const;
  const Value* Find(std::string_view key) const;
  // Replaces the value of an existing key in place (Python keeps the original position).
  void Set(Value key, Value value);
  const std::vector<std::pair<Value, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }

 private:
  std::vector<std::pair<Value, Value>> items_;
};

// jinja2.utils.Namespace: attributes assignable with {% set ns.attr = ... %}.
struct Namespace {
  Dict attrs;
};

// State behind the `loop` variable (jinja2.runtime.LoopContext).
struct LoopInfo {
  ValueList items;
  size_t index0 = 0;
  bool has_changed_value = false;  // loop.changed() was called before
  ValueList changed_value;
};

// Python truth value (empty containers, 0, None and Undefined are false).
bool IsTruthy(const Value& value);
// Python type name as in error messages: "str", "NoneType", "dict", "Namespace", ...
std::string PyTypeName(const Value& value);
// jinja2's object_type_repr: "'dict object'" style text used in undefined hints ("None" for None).
std::string ObjectTypeRepr(const Value& value);
// Python str(value); Undefined is "".
std::string ToPyStr(const Value& value);
// Python repr(value).
std::string ToPyRepr(const Value& value);
// Python `a == b`.
bool PyEquals(const Value& a, const Value& b);
// Python ordering (<0, 0, >0) for numbers, strings and same-kind sequences; TypeError otherwise.
absl::StatusOr<int> PyCompare(const Value& a, const Value& b, std::string_view op);
// Python hash() would succeed (lists and dicts are unhashable).
bool IsHashable(const Value& value);
// The items `for x in value` visits: list items, dict keys, string characters; nothing for
// Undefined. TypeError for values that are not iterable.
absl::StatusOr<ValueList> Iterate(const Value& value);
// Python len().
absl::StatusOr<int64_t> PyLen(const Value& value);
// Python `item in container`.
absl::StatusOr<bool> PyContains(const Value& container, const Value& item);
// The error jinja2 raises when an undefined value is used (UndefinedError).
absl::Status UndefinedError(const Value& undefined);
// JSON (as Python json.loads produces it) to a value: objects keep their key order.
Value FromJson(const nlohmann::ordered_json& json);

}  // namespace qwen::gateway::jinja
