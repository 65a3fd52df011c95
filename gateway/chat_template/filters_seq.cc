// Sequence, mapping and number filters (jinja2/filters.py do_first, do_sort, do_map, ...).
// Filters that return generators in jinja2 (map, select, items, reverse, ...) return lists here;
// iteration, |list and |join behave the same.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/builtins_internal.h"
#include "gateway/chat_template/evaluator.h"
#include "gateway/chat_template/ops.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja::internal {
namespace {

struct Keyed {
  Value key;
  Value item;
};

// Stable sort by key with Python ordering; TypeError for unorderable keys.
absl::Status SortKeyed(std::vector<Keyed>* items, bool reverse) {
  absl::Status status;
  std::stable_sort(items->begin(), items->end(), [&](const Keyed& a, const Keyed& b) {
    absl::StatusOr<int> c = PyCompare(a.key, b.key, "<");
    if (!c.ok()) {
      if (status.ok()) status = c.status();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  return status;
}

// The key make_attrgetter(attribute, postprocess=ignore_case unless case_sensitive) computes.
absl::StatusOr<Value> KeyOf(const Value& item, const std::optional<Value>& attribute,
                            bool case_sensitive) {
  Value key = item;
  if (attribute && !attribute->is_none()) {
    QWEN_ASSIGN_OR_RETURN(key, GetAttrPath(item, *attribute));
  }
  return case_sensitive ? key : IgnoreCase(key);
}

absl::StatusOr<Value> Length(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("length", args, {}).status());
  QWEN_ASSIGN_OR_RETURN(int64_t n, PyLen(input));
  return Value::Int(n);
}

absl::StatusOr<Value> First(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("first", args, {}).status());
  QWEN_ASSIGN_OR_RETURN(ValueList items, Iterate(input));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

absl::StatusOr<Value> Last(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("last", args, {}).status());
  QWEN_ASSIGN_OR_RETURN(ValueList items, Iterate(input));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

absl::StatusOr<Value> List(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("list", args, {}).status());
  QWEN_ASSIGN_OR_RETURN(ValueList items, Iterate(input));
  return Value::List(std::move(items));
}

absl::StatusOr<Value> Reverse(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("reverse", args, {}).status());
  if (input.is_string()) {
    std::u32string chars = DecodeUtf8(input.str());
    std::reverse(chars.begin(), chars.end());
    return SameKind(input, EncodeUtf8(chars));
  }
  QWEN_ASSIGN_OR_RETURN(ValueList items, Iterate(input));
  std::reverse(items.begin(), items.end());
  return Value::List(std::move(items));
}

absl::StatusOr<Value> Items(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("items", args, {}).status());
  if (input.is_undefined()) return Value::List({});
  if (!input.is_dict()) return absl::InvalidArgumentError("Can only get item pairs from a mapping.");
  ValueList pairs;
  for (const auto& [k, v] : input.dict().items()) pairs.push_back(Value::Tuple({k, v}));
  return Value::List(std::move(pairs));
}

absl::StatusOr<Value> DictSort(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("dictsort", args, {"case_sensitive", "by", "reverse"}));
  if (!input.is_dict()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", PyTypeName(input), "' object has no attribute 'items'"));
  }
  const std::string by = a[1] ? ToPyStr(*a[1]) : "key";
  if (by != "key" && by != "value") {
    return absl::InvalidArgumentError("You can only sort by either \"key\" or \"value\"");
  }
  const bool case_sensitive = FlagArg(a[0], false);
  std::vector<Keyed> items;
  for (const auto& [k, v] : input.dict().items()) {
    const Value& key = by == "key" ? k : v;
    items.push_back({case_sensitive ? key : IgnoreCase(key), Value::Tuple({k, v})});
  }
  QWEN_RETURN_IF_ERROR(SortKeyed(&items, FlagArg(a[2], false)));
  ValueList out;
  for (Keyed& k : items) out.push_back(std::move(k.item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> Sort(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a,
                        BindArgs("sort", args, {"reverse", "case_sensitive", "attribute"}));
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  std::vector<Keyed> items;
  for (Value& v : values) {
    QWEN_ASSIGN_OR_RETURN(Value key, KeyOf(v, a[2], FlagArg(a[1], false)));
    items.push_back({std::move(key), std::move(v)});
  }
  QWEN_RETURN_IF_ERROR(SortKeyed(&items, FlagArg(a[0], false)));
  ValueList out;
  for (Keyed& k : items) out.push_back(std::move(k.item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> Unique(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("unique", args, {"case_sensitive", "attribute"}));
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  ValueList seen, out;
  for (Value& v : values) {
    QWEN_ASSIGN_OR_RETURN(Value key, KeyOf(v, a[1], FlagArg(a[0], false)));
    if (!IsHashable(key)) {
      return absl::InvalidArgumentError(absl::StrCat("unhashable type: '", PyTypeName(key), "'"));
    }
    const bool dup = std::any_of(seen.begin(), seen.end(),
                                 [&](const Value& s) { return PyEquals(s, key); });
    if (dup) continue;
    seen.push_back(std::move(key));
    out.push_back(std::move(v));
  }
  return Value::List(std::move(out));
}

// min/max: the first extreme item by (attribute, case-folded) key.
absl::StatusOr<Value> MinMax(const Value& input, CallArgs& args, bool want_max) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(want_max ? "max" : "min", args,
                                         {"case_sensitive", "attribute"}));
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  if (values.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  QWEN_ASSIGN_OR_RETURN(Value best_key, KeyOf(values[0], a[1], FlagArg(a[0], false)));
  for (size_t i = 1; i < values.size(); ++i) {
    QWEN_ASSIGN_OR_RETURN(Value key, KeyOf(values[i], a[1], FlagArg(a[0], false)));
    QWEN_ASSIGN_OR_RETURN(int c, PyCompare(key, best_key, want_max ? ">" : "<"));
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(key);
    }
  }
  return values[best];
}

absl::StatusOr<Value> Min(Interpreter&, const Value& input, CallArgs& args) {
  return MinMax(input, args, false);
}
absl::StatusOr<Value> Max(Interpreter&, const Value& input, CallArgs& args) {
  return MinMax(input, args, true);
}

absl::StatusOr<Value> Sum(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("sum", args, {"attribute", "start"}));
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  Value total = ArgOr(a[1], Value::Int(0));
  if (total.is_string()) {
    return absl::InvalidArgumentError("sum() can't sum strings [use ''.join(seq) instead]");
  }
  for (const Value& v : values) {
    Value term = v;
    if (a[0] && !a[0]->is_none()) {
      QWEN_ASSIGN_OR_RETURN(term, GetAttrPath(v, *a[0]));
    }
    QWEN_ASSIGN_OR_RETURN(total, BinaryOperation(ast::BinaryOp::kAdd, total, term));
  }
  return total;
}

absl::StatusOr<Value> Join(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("join", args, {"d", "attribute"}));
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  const std::string sep = a[0] ? ToPyStr(*a[0]) : "";
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    Value v = values[i];
    if (a[1] && !a[1]->is_none()) {
      QWEN_ASSIGN_OR_RETURN(v, GetAttrPath(v, *a[1]));
    }
    if (i > 0) out += sep;
    out += ToPyStr(v);
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Map(Interpreter& interp, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  ValueList out;
  if (args.positional.empty()) {
    std::optional<Value> attribute, default_value;
    for (const auto& [k, v] : args.keyword) {
      if (k == "attribute") {
        attribute = v;
      } else if (k == "default") {
        default_value = v;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("Unexpected keyword argument '", k, "'"));
      }
    }
    if (!attribute) return absl::InvalidArgumentError("map requires a filter argument");
    for (const Value& v : values) {
      QWEN_ASSIGN_OR_RETURN(Value mapped, GetAttrPath(v, *attribute));
      if (mapped.is_undefined() && default_value && !default_value->is_none()) {
        mapped = *default_value;
      }
      out.push_back(std::move(mapped));
    }
    return Value::List(std::move(out));
  }
  if (!args.positional[0].is_string()) return absl::InvalidArgumentError("map filter name must be a string");
  const std::string name = args.positional[0].str();
  if (!IsKnownFilter(name)) return absl::InvalidArgumentError(absl::StrCat("No filter named '", name, "'."));
  for (const Value& v : values) {
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    QWEN_ASSIGN_OR_RETURN(Value mapped, CallFilter(interp, name, v, rest));
    out.push_back(std::move(mapped));
  }
  return Value::List(std::move(out));
}

// select/reject/selectattr/rejectattr (jinja2 select_or_reject).
absl::StatusOr<Value> SelectOrReject(Interpreter& interp, const Value& input, CallArgs& args,
                                     bool lookup_attr, bool select) {
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  size_t next = 0;
  std::optional<Value> attribute;
  if (lookup_attr) {
    if (args.positional.empty()) return absl::InvalidArgumentError("Missing parameter for attribute name");
    attribute = args.positional[next++];
  }
  std::optional<std::string> test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) return absl::InvalidArgumentError("test name must be a string");
    test = args.positional[next++].str();
    if (!IsKnownTest(*test)) return absl::InvalidArgumentError(absl::StrCat("No test named '", *test, "'."));
  }
  ValueList out;
  for (const Value& v : values) {
    Value subject = v;
    if (attribute) {
      QWEN_ASSIGN_OR_RETURN(subject, GetAttrPath(v, *attribute));
    }
    bool passed;
    if (test) {
      CallArgs rest;
      rest.positional.assign(args.positional.begin() + next, args.positional.end());
      rest.keyword = args.keyword;
      QWEN_ASSIGN_OR_RETURN(passed, CallTest(interp, *test, subject, rest));
    } else {
      passed = IsTruthy(subject);
    }
    if (passed == select) out.push_back(v);
  }
  return Value::List(std::move(out));
}

absl::StatusOr<Value> Select(Interpreter& i, const Value& v, CallArgs& a) {
  return SelectOrReject(i, v, a, false, true);
}
absl::StatusOr<Value> Reject(Interpreter& i, const Value& v, CallArgs& a) {
  return SelectOrReject(i, v, a, false, false);
}
absl::StatusOr<Value> SelectAttr(Interpreter& i, const Value& v, CallArgs& a) {
  return SelectOrReject(i, v, a, true, true);
}
absl::StatusOr<Value> RejectAttr(Interpreter& i, const Value& v, CallArgs& a) {
  return SelectOrReject(i, v, a, true, false);
}

absl::StatusOr<Value> Batch(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("batch", args, {"linecount", "fill_with"}, 1));
  QWEN_ASSIGN_OR_RETURN(int64_t count, IntArg(*a[0], "batch linecount"));
  if (count <= 0) return absl::InvalidArgumentError("batch linecount must be positive");
  QWEN_ASSIGN_OR_RETURN(ValueList values, Iterate(input));
  ValueList out, row;
  for (Value& v : values) {
    if (static_cast<int64_t>(row.size()) == count) {
      out.push_back(Value::List(std::move(row)));
      row.clear();
    }
    row.push_back(std::move(v));
  }
  if (!row.empty()) {
    if (a[1] && !a[1]->is_none()) {
      while (static_cast<int64_t>(row.size()) < count) row.push_back(*a[1]);
    }
    out.push_back(Value::List(std::move(row)));
  }
  return Value::List(std::move(out));
}

absl::StatusOr<Value> Default(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("default", args, {"default_value", "boolean"}));
  if (input.is_undefined() || (FlagArg(a[1], false) && !IsTruthy(input))) {
    return ArgOr(a[0], Value::String(""));
  }
  return input;
}

absl::StatusOr<Value> Attr(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("attr", args, {"name"}, 1));
  if (!a[0]->is_string()) return absl::InvalidArgumentError("attribute name must be a string");
  if (input.is_undefined()) return UndefinedError(input);
  return GetPythonAttribute(input, a[0]->str());
}

absl::StatusOr<Value> Int(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("int", args, {"default", "base"}));
  const Value fallback = ArgOr(a[0], Value::Int(0));
  if (input.is_undefined()) return UndefinedError(input);
  if (input.is_integral()) return Value::Int(input.int_value());
  if (input.is_float()) {
    const double d = input.float_value();
    if (std::isnan(d)) return fallback;
    if (std::isinf(d)) return absl::InvalidArgumentError("cannot convert float infinity to integer");
    return Value::Int(static_cast<int64_t>(std::trunc(d)));
  }
  if (input.is_string()) {
    int64_t base = 10;
    if (a[1]) {
      QWEN_ASSIGN_OR_RETURN(base, IntArg(*a[1], "int base"));
    }
    if (std::optional<int64_t> v = ParsePyInt(input.str(), static_cast<int>(base))) return Value::Int(*v);
    if (std::optional<double> d = ParsePyFloat(input.str())) {
      if (std::isnan(*d)) return fallback;
      if (std::isinf(*d)) return absl::InvalidArgumentError("cannot convert float infinity to integer");
      return Value::Int(static_cast<int64_t>(std::trunc(*d)));
    }
  }
  return fallback;
}

absl::StatusOr<Value> Float(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("float", args, {"default"}));
  if (input.is_undefined()) return UndefinedError(input);
  if (input.is_number()) return Value::Float(input.float_value());
  if (input.is_string()) {
    if (std::optional<double> d = ParsePyFloat(input.str())) return Value::Float(*d);
  }
  return ArgOr(a[0], Value::Float(0.0));
}

absl::StatusOr<Value> Abs(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(BindArgs("abs", args, {}).status());
  if (input.is_integral()) {
    if (input.int_value() == INT64_MIN) return absl::InvalidArgumentError("integer overflow");
    return Value::Int(std::llabs(input.int_value()));
  }
  if (input.is_float()) return Value::Float(std::fabs(input.float_value()));
  return absl::InvalidArgumentError(
      absl::StrCat("bad operand type for abs(): '", PyTypeName(input), "'"));
}

// Python round(x, n) for floats: correctly rounded, ties to even on the exact binary value.
double PyRound(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits >= 0) {
    if (ndigits > 320) return x;
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-ndigits));
  return std::nearbyint(x / scale) * scale;
}

absl::StatusOr<Value> Round(Interpreter&, const Value& input, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("round", args, {"precision", "method"}));
  int64_t precision = 0;
  if (a[0]) {
    QWEN_ASSIGN_OR_RETURN(precision, IntArg(*a[0], "round precision"));
  }
  const std::string method = a[1] ? ToPyStr(*a[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    return absl::InvalidArgumentError("method must be common, ceil or floor");
  }
  if (!input.is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("type ", PyTypeName(input), " doesn't define __round__ method"));
  }
  if (method == "common") {
    if (input.is_integral() && precision >= 0) return Value::Int(input.int_value());
    return Value::Float(PyRound(input.float_value(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = input.float_value() * scale;
  return Value::Float((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

}  // namespace

const std::vector<FilterEntry>& SequenceFilters() {
  static const auto* const kTable = new std::vector<FilterEntry>{
      {"length", Length},   {"count", Length},       {"first", First},
      {"last", Last},       {"list", List},          {"reverse", Reverse},
      {"items", Items},     {"dictsort", DictSort},  {"sort", Sort},
      {"unique", Unique},   {"min", Min},            {"max", Max},
      {"sum", Sum},         {"join", Join},          {"map", Map},
      {"select", Select},   {"reject", Reject},      {"selectattr", SelectAttr},
      {"rejectattr", RejectAttr}, {"batch", Batch},  {"default", Default},
      {"d", Default},       {"attr", Attr},          {"int", Int},
      {"float", Float},     {"abs", Abs},            {"round", Round},
  };
  return *kTable;
}

}  // namespace qwen::gateway::jinja::internal
