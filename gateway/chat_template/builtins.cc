// Dispatch for filters and tests, argument binding, shared helpers and the global functions.
#include "gateway/chat_template/builtins.h"

#include <ctime>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "gateway/chat_template/builtins_internal.h"
#include "gateway/chat_template/evaluator.h"
#include "gateway/chat_template/ops.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

using internal::FilterEntry;
using internal::TestEntry;

constexpr char kRaisedPayload[] = "qwen.jinja/raise_exception";
// jinja2.sandbox.MAX_RANGE.
constexpr int64_t kMaxRange = 100000;

const FilterEntry* FindFilter(std::string_view name) {
  for (const auto* table : {&internal::TextFilters(), &internal::SequenceFilters()}) {
    for (const FilterEntry& e : *table) {
      if (e.name == name) return &e;
    }
  }
  return nullptr;
}

const TestEntry* FindTest(std::string_view name) {
  for (const TestEntry& e : internal::Tests()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

absl::StatusOr<Value> Range(Interpreter&, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("range", args, {"start", "stop", "step"}, 1));
  for (const auto& v : a) {
    if (v && !v->is_integral()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", PyTypeName(*v), "' object cannot be interpreted as an integer"));
    }
  }
  int64_t start = 0, stop = a[0]->int_value(), step = 1;
  if (a[1]) {
    start = a[0]->int_value();
    stop = a[1]->int_value();
  }
  if (a[2]) step = a[2]->int_value();
  if (step == 0) return absl::InvalidArgumentError("range() arg 3 must not be zero");
  ValueList out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) {
      return absl::InvalidArgumentError(
          "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    out.push_back(Value::Int(i));
  }
  return Value::List(std::move(out));
}

// dict(mapping_or_pairs?, **kwargs); also the body of namespace(...).
absl::StatusOr<Dict> BuildDict(std::string_view function, const CallArgs& args) {
  if (args.positional.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(function),
                                                   " expected at most 1 argument, got ",
                                                   args.positional.size()));
  }
  Dict dict;
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      dict = source.dict();
    } else {
      QWEN_ASSIGN_OR_RETURN(ValueList pairs, Iterate(source));
      for (const Value& pair : pairs) {
        QWEN_ASSIGN_OR_RETURN(ValueList kv, Iterate(pair));
        if (kv.size() != 2) {
          return absl::InvalidArgumentError(
              "dictionary update sequence element has the wrong length; 2 is required");
        }
        if (!IsHashable(kv[0])) {
          return absl::InvalidArgumentError(
              absl::StrCat("unhashable type: '", PyTypeName(kv[0]), "'"));
        }
        dict.Set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [key, value] : args.keyword) dict.Set(Value::String(key), value);
  return dict;
}

absl::StatusOr<Value> StrftimeNow(Interpreter&, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("strftime_now", args, {"format"}, 1));
  if (!a[0]->is_string()) return absl::InvalidArgumentError("strftime() argument 1 must be str");
  const std::time_t now = std::time(nullptr);
  std::tm local;
  localtime_r(&now, &local);
  if (a[0]->str().empty()) return Value::String("");
  for (size_t size = 256; size <= 65536; size *= 4) {
    std::string buf(size, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), a[0]->str().c_str(), &local);
    if (n > 0) {
      buf.resize(n);
      return Value::String(std::move(buf));
    }
  }
  return Value::String("");
}

}  // namespace

namespace internal {

Value SoftStr(const Value& v) { return v.is_string() ? v : Value::String(ToPyStr(v)); }

Value SameKind(const Value& like, std::string text) {
  return like.is_safe() ? Value::SafeString(std::move(text)) : Value::String(std::move(text));
}

Value ArgOr(const std::optional<Value>& arg, Value fallback) {
  return arg ? *arg : std::move(fallback);
}

bool FlagArg(const std::optional<Value>& arg, bool fallback) {
  return arg ? IsTruthy(*arg) : fallback;
}

absl::StatusOr<int64_t> IntArg(const Value& v, std::string_view what) {
  if (!v.is_integral()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " must be an integer, not '",
                                                   PyTypeName(v), "'"));
  }
  return v.int_value();
}

absl::StatusOr<Value> GetAttrPath(const Value& item, const Value& attribute) {
  if (attribute.is_integral()) return GetItem(item, attribute);
  if (!attribute.is_string()) return GetItem(item, attribute);
  Value current = item;
  for (absl::string_view part : absl::StrSplit(attribute.str(), '.')) {
    int64_t index;
    Value key = absl::SimpleAtoi(part, &index) ? Value::Int(index) : Value::String(std::string(part));
    QWEN_ASSIGN_OR_RETURN(current, GetItem(current, key));
  }
  return current;
}

Value IgnoreCase(const Value& v) { return v.is_string() ? Value::String(PyLower(v.str())) : v; }

}  // namespace internal

bool IsKnownFilter(std::string_view name) { return FindFilter(name) != nullptr; }
bool IsKnownTest(std::string_view name) { return FindTest(name) != nullptr; }

absl::StatusOr<Value> CallFilter(Interpreter& interp, std::string_view name, const Value& input,
                                 CallArgs& args) {
  const FilterEntry* entry = FindFilter(name);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("No filter named '", std::string(name), "'."));
  }
  return entry->fn(interp, input, args);
}

absl::StatusOr<bool> CallTest(Interpreter& interp, std::string_view name, const Value& input,
                              CallArgs& args) {
  const TestEntry* entry = FindTest(name);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("No test named '", std::string(name), "'."));
  }
  return entry->fn(interp, input, args);
}

absl::StatusOr<std::vector<std::optional<Value>>> BindArgs(
    std::string_view function, const CallArgs& args, const std::vector<std::string_view>& params,
    size_t required) {
  std::vector<std::optional<Value>> out(params.size());
  if (args.positional.size() > params.size()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(function), "() takes at most ",
                                                   params.size(), " argument(s) (",
                                                   args.positional.size(), " given)"));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t index = params.size();
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i] == key) index = i;
    }
    if (index == params.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(function), "() got an unexpected keyword argument '", key, "'"));
    }
    if (out[index]) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(function), "() got multiple values for argument '", key, "'"));
    }
    out[index] = value;
  }
  for (size_t i = 0; i < required; ++i) {
    if (!out[i]) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(function),
                                                     "() missing required argument '",
                                                     std::string(params[i]), "'"));
    }
  }
  return out;
}

absl::Status RaisedException(std::string message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kRaisedPayload, absl::Cord("1"));
  return status;
}

bool IsRaisedException(const absl::Status& status) {
  return status.GetPayload(kRaisedPayload).has_value();
}

Dict MakeGlobals() {
  Dict globals;
  const auto add = [&](const char* name, NativeFunction fn) {
    globals.Set(Value::String(name), Value::Function(name, std::move(fn)));
  };
  add("range", Range);
  add("dict", [](Interpreter&, CallArgs& args) -> absl::StatusOr<Value> {
    QWEN_ASSIGN_OR_RETURN(Dict d, BuildDict("dict", args));
    return Value::FromDict(std::move(d));
  });
  add("namespace", [](Interpreter& interp, CallArgs& args) -> absl::StatusOr<Value> {
    QWEN_ASSIGN_OR_RETURN(Dict d, BuildDict("namespace", args));
    Value ns = interp.NewNamespace();
    ns.ns().attrs = std::move(d);
    return ns;
  });
  add("raise_exception", [](Interpreter&, CallArgs& args) -> absl::StatusOr<Value> {
    QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("raise_exception", args, {"message"}, 1));
    return RaisedException(ToPyStr(*a[0]));
  });
  add("strftime_now", StrftimeNow);
  add("joiner", [](Interpreter&, CallArgs& args) -> absl::StatusOr<Value> {
    QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("joiner", args, {"sep"}));
    const std::string sep = a[0] ? ToPyStr(*a[0]) : ", ";
    auto used = std::make_shared<bool>(false);
    return Value::Function("joiner", [sep, used](Interpreter&, CallArgs&) -> absl::StatusOr<Value> {
      if (!*used) {
        *used = true;
        return Value::String("");
      }
      return Value::String(sep);
    });
  });
  return globals;
}

}  // namespace qwen::gateway::jinja
