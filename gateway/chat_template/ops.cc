#include "gateway/chat_template/ops.h"

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/py_format.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

using ast::BinaryOp;
using ast::CompareOp;

// Largest string or list a repetition may build; keeps a bad template from exhausting memory.
constexpr size_t kMaxRepeatBytes = size_t{64} << 20;

const char* OpText(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kFloorDiv:
      return "//";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "** or pow()";
  }
  return "?";
}

absl::Status Unsupported(BinaryOp op, const Value& a, const Value& b) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported operand type(s) for ", OpText(op),
                                                 ": '", PyTypeName(a), "' and '", PyTypeName(b),
                                                 "'"));
}

absl::Status Overflow() {
  return absl::InvalidArgumentError("integer overflow (integers beyond 64 bits are not supported)");
}

absl::StatusOr<Value> Repeat(const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    if (times > 0 && seq.str().size() > kMaxRepeatBytes / static_cast<size_t>(times)) {
      return absl::InvalidArgumentError("string repetition result is too large");
    }
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.str();
    return seq.is_safe() ? Value::SafeString(std::move(out)) : Value::String(std::move(out));
  }
  if (times > 0 && seq.list().size() > kMaxRepeatBytes / 64 / static_cast<size_t>(times)) {
    return absl::InvalidArgumentError("list repetition result is too large");
  }
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return seq.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
}

// Python float floor division and modulo (Objects/floatobject.c float_divmod).
void FloatDivMod(double a, double b, double* div, double* mod) {
  double m = std::fmod(a, b);
  double d = (a - m) / b;
  if (m != 0) {
    if ((b < 0) != (m < 0)) {
      m += b;
      d -= 1.0;
    }
  } else {
    m = std::copysign(0.0, b);
  }
  double floordiv;
  if (d != 0) {
    floordiv = std::floor(d);
    if (d - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, a / b);
  }
  *div = floordiv;
  *mod = m;
}

absl::StatusOr<Value> NumericOperation(BinaryOp op, const Value& a, const Value& b) {
  const bool ints = a.is_integral() && b.is_integral();
  if (ints) {
    const int64_t x = a.int_value(), y = b.int_value();
    int64_t r;
    switch (op) {
      case BinaryOp::kAdd:
        if (__builtin_add_overflow(x, y, &r)) return Overflow();
        return Value::Int(r);
      case BinaryOp::kSub:
        if (__builtin_sub_overflow(x, y, &r)) return Overflow();
        return Value::Int(r);
      case BinaryOp::kMul:
        if (__builtin_mul_overflow(x, y, &r)) return Overflow();
        return Value::Int(r);
      case BinaryOp::kDiv:
        if (y == 0) return absl::InvalidArgumentError("division by zero");
        return Value::Float(static_cast<double>(x) / static_cast<double>(y));
      case BinaryOp::kFloorDiv:
      case BinaryOp::kMod: {
        if (y == 0) return absl::InvalidArgumentError("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return Overflow();
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          m += y;
          q -= 1;
        }
        return Value::Int(op == BinaryOp::kFloorDiv ? q : m);
      }
      case BinaryOp::kPow: {
        if (y < 0) {
          if (x == 0) return absl::InvalidArgumentError("0.0 cannot be raised to a negative power");
          return Value::Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        int64_t result = 1, base = x, e = y;
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(result, base, &result)) return Overflow();
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
        }
        return Value::Int(result);
      }
    }
  }
  const double x = a.float_value(), y = b.float_value();
  switch (op) {
    case BinaryOp::kAdd:
      return Value::Float(x + y);
    case BinaryOp::kSub:
      return Value::Float(x - y);
    case BinaryOp::kMul:
      return Value::Float(x * y);
    case BinaryOp::kDiv:
      if (y == 0) return absl::InvalidArgumentError("float division by zero");
      return Value::Float(x / y);
    case BinaryOp::kFloorDiv:
    case BinaryOp::kMod: {
      if (y == 0) {
        return absl::InvalidArgumentError(op == BinaryOp::kMod ? "float modulo"
                                                               : "float floor division by zero");
      }
      double div, mod;
      FloatDivMod(x, y, &div, &mod);
      return Value::Float(op == BinaryOp::kFloorDiv ? div : mod);
    }
    case BinaryOp::kPow:
      if (x == 0 && y < 0) {
        return absl::InvalidArgumentError("0.0 cannot be raised to a negative power");
      }
      if (x < 0 && y != std::floor(y)) {
        return absl::InvalidArgumentError("complex results of ** are not supported");
      }
      return Value::Float(std::pow(x, y));
  }
  return Unsupported(op, a, b);
}

std::string ObjectLabel(const Value& obj) { return absl::StrCat("'", ObjectTypeRepr(obj), "'"); }

Value NoAttribute(const Value& obj, const std::string& name) {
  return Value::Undefined(
      absl::StrCat(ObjectLabel(obj), " has no attribute ", PyStringRepr(name)));
}

Value NoElement(const Value& obj, const Value& key) {
  return Value::Undefined(absl::StrCat(ObjectTypeRepr(obj), " has no element ", ToPyRepr(key)));
}

bool IsDunder(const std::string& name) {
  return name.size() > 4 && name.compare(0, 2, "__") == 0 &&
         name.compare(name.size() - 2, 2, "__") == 0;
}

Value Unsafe(const Value& obj, const std::string& name) {
  return Value::Undefined(absl::StrCat("access to attribute ", PyStringRepr(name), " of ",
                                       PyStringRepr(PyTypeName(obj)), " object is unsafe."));
}

bool IsMutatingMethod(const Value& obj, const std::string& name) {
  static constexpr std::string_view kDict[] = {"clear", "pop", "popitem", "setdefault", "update"};
  static constexpr std::string_view kList[] = {"append", "clear",  "extend", "insert",
                                               "pop",    "remove", "reverse", "sort"};
  if (obj.is_dict()) {
    for (std::string_view m : kDict) {
      if (name == m) return true;
    }
  }
  if (obj.is_list() && !obj.is_tuple()) {
    for (std::string_view m : kList) {
      if (name == m) return true;
    }
  }
  return false;
}

Value LoopAttribute(const Value& obj, const std::string& name) {
  LoopInfo& loop = obj.loop();
  const int64_t n = static_cast<int64_t>(loop.items.size());
  const int64_t i = static_cast<int64_t>(loop.index0);
  if (name == "index") return Value::Int(i + 1);
  if (name == "index0") return Value::Int(i);
  if (name == "revindex") return Value::Int(n - i);
  if (name == "revindex0") return Value::Int(n - i - 1);
  if (name == "first") return Value::Bool(i == 0);
  if (name == "last") return Value::Bool(i == n - 1);
  if (name == "length") return Value::Int(n);
  if (name == "depth") return Value::Int(1);
  if (name == "depth0") return Value::Int(0);
  if (name == "previtem") {
    return i > 0 ? loop.items[i - 1] : Value::Undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return i + 1 < n ? loop.items[i + 1] : Value::Undefined("there is no next item");
  }
  if (name == "cycle") {
    return Value::Function("cycle", [obj](Interpreter&, CallArgs& args) -> absl::StatusOr<Value> {
      if (args.positional.empty()) return absl::InvalidArgumentError("no items for cycling given");
      return args.positional[obj.loop().index0 % args.positional.size()];
    });
  }
  if (name == "changed") {
    return Value::Function("changed", [obj](Interpreter&, CallArgs& args) -> absl::StatusOr<Value> {
      LoopInfo& state = obj.loop();
      const Value current = Value::List(args.positional);
      if (state.has_changed_value && PyEquals(Value::List(state.changed_value), current)) {
        return Value::Bool(false);
      }
      state.has_changed_value = true;
      state.changed_value = args.positional;
      return Value::Bool(true);
    });
  }
  return NoAttribute(obj, name);
}

// Python's slice.indices() followed by the selected positions.
std::optional<std::vector<int64_t>> SliceIndices(int64_t n, const Value& start_v,
                                                 const Value& stop_v, const Value& step_v,
                                                 absl::Status* error) {
  const auto ok = [](const Value& v) { return v.is_none() || v.is_integral(); };
  if (!ok(start_v) || !ok(stop_v) || !ok(step_v)) return std::nullopt;
  const int64_t step = step_v.is_none() ? 1 : step_v.int_value();
  if (step == 0) {
    *error = absl::InvalidArgumentError("slice step cannot be zero");
    return std::nullopt;
  }
  const auto clamp = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t x = v.int_value();
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t start = clamp(start_v, step < 0 ? n - 1 : 0);
  const int64_t stop = clamp(stop_v, step < 0 ? -1 : n);
  std::vector<int64_t> indices;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) indices.push_back(i);
  return indices;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<Value> BinaryOperation(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (a.is_number() && b.is_number()) return NumericOperation(op, a, b);
  switch (op) {
    case BinaryOp::kAdd:
      if (a.is_string() && b.is_string()) {
        // markupsafe.Markup escapes the plain operand of a `+` (Markup.__add__/__radd__).
        if (a.is_safe() || b.is_safe()) {
          return Value::SafeString((a.is_safe() ? a.str() : HtmlEscape(a.str())) +
                                   (b.is_safe() ? b.str() : HtmlEscape(b.str())));
        }
        return Value::String(a.str() + b.str());
      }
      if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        ValueList out = a.list();
        out.insert(out.end(), b.list().begin(), b.list().end());
        return a.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
      }
      if (a.is_string() || (a.is_list() && !a.is_tuple())) {
        const char* type = a.is_string() ? "str" : "list";
        return absl::InvalidArgumentError(absl::StrCat("can only concatenate ", type, " (not \"",
                                                       PyTypeName(b), "\") to ", type));
      }
      return Unsupported(op, a, b);
    case BinaryOp::kMul:
      if ((a.is_string() || a.is_list()) && b.is_integral()) return Repeat(a, b.int_value());
      if ((b.is_string() || b.is_list()) && a.is_integral()) return Repeat(b, a.int_value());
      if (a.is_string() || a.is_list() || b.is_string() || b.is_list()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "can't multiply sequence by non-int of type '",
            PyTypeName(a.is_string() || a.is_list() ? b : a), "'"));
      }
      return Unsupported(op, a, b);
    case BinaryOp::kMod:
      if (a.is_string()) return PyPercentFormat(a.str(), b);
      return Unsupported(op, a, b);
    default:
      return Unsupported(op, a, b);
  }
}

absl::StatusOr<Value> UnaryOperation(const Value& operand, bool negate) {
  if (operand.is_undefined()) return UndefinedError(operand);
  if (operand.is_integral()) {
    if (!negate) return Value::Int(operand.int_value());
    if (operand.int_value() == INT64_MIN) return Overflow();
    return Value::Int(-operand.int_value());
  }
  if (operand.is_float()) return Value::Float(negate ? -operand.float_value() : operand.float_value());
  return absl::InvalidArgumentError(absl::StrCat("bad operand type for unary ", negate ? "-" : "+",
                                                 ": '", PyTypeName(operand), "'"));
}

absl::StatusOr<bool> CompareOperation(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq:
      return PyEquals(a, b);
    case CompareOp::kNe:
      return !PyEquals(a, b);
    case CompareOp::kIn:
      return PyContains(b, a);
    case CompareOp::kNotIn: {
      QWEN_ASSIGN_OR_RETURN(bool in, PyContains(b, a));
      return !in;
    }
    case CompareOp::kLt: {
      QWEN_ASSIGN_OR_RETURN(int c, PyCompare(a, b, "<"));
      return c < 0;
    }
    case CompareOp::kLe: {
      QWEN_ASSIGN_OR_RETURN(int c, PyCompare(a, b, "<="));
      return c <= 0;
    }
    case CompareOp::kGt: {
      QWEN_ASSIGN_OR_RETURN(int c, PyCompare(a, b, ">"));
      return c > 0;
    }
    case CompareOp::kGe: {
      QWEN_ASSIGN_OR_RETURN(int c, PyCompare(a, b, ">="));
      return c >= 0;
    }
  }
  return false;
}

Value GetPythonAttribute(const Value& obj, const std::string& name) {
  // The sandbox refuses Python internals (__class__, __globals__, ...); other names starting
  // with '_' are simply not attributes of the objects templates see.
  if (IsDunder(name)) return Unsafe(obj, name);
  switch (obj.kind()) {
    case ValueKind::kDict:
    case ValueKind::kString:
    case ValueKind::kList:
      if (std::optional<Value> method = GetMethod(obj, name)) return *method;
      if (IsMutatingMethod(obj, name)) return Unsafe(obj, name);
      return NoAttribute(obj, name);
    case ValueKind::kNamespace:
      if (const Value* v = obj.ns().attrs.Find(name)) return *v;
      return NoAttribute(obj, name);
    case ValueKind::kLoop:
      return LoopAttribute(obj, name);
    default:
      return NoAttribute(obj, name);
  }
}

Value GetAttribute(const Value& obj, const std::string& name) {
  Value attr = GetPythonAttribute(obj, name);
  // Python has no such attribute: jinja2 falls back to obj[name] (only dicts can answer).
  if (attr.is_undefined() && obj.is_dict() && !IsDunder(name) && !IsMutatingMethod(obj, name)) {
    if (const Value* v = obj.dict().Find(name)) return *v;
  }
  return attr;
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (obj.is_dict() && IsHashable(key)) {
    if (const Value* v = obj.dict().Find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    const int64_t n = obj.is_list() ? static_cast<int64_t>(obj.list().size())
                                    : static_cast<int64_t>(CodePointCount(obj.str()));
    int64_t i = key.int_value();
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      if (obj.is_list()) return obj.list()[i];
      const size_t begin = ByteOffsetOfCodePoint(obj.str(), i);
      const size_t end = ByteOffsetOfCodePoint(obj.str(), i + 1);
      return Value::String(obj.str().substr(begin, end - begin));
    }
  }
  if (key.is_string()) return GetAttribute(obj, key.str());
  return NoElement(obj, key);
}

absl::StatusOr<Value> SliceValue(const Value& obj, const Value& start, const Value& stop,
                                 const Value& step) {
  if (obj.is_undefined()) return UndefinedError(obj);
  const Value slice_repr = Value::Tuple({start, stop, step});
  if (!obj.is_list() && !obj.is_string()) {
    return Value::Undefined(absl::StrCat(ObjectTypeRepr(obj), " has no element slice",
                                         ToPyRepr(slice_repr)));
  }
  absl::Status error;
  if (obj.is_list()) {
    const ValueList& items = obj.list();
    std::optional<std::vector<int64_t>> indices =
        SliceIndices(static_cast<int64_t>(items.size()), start, stop, step, &error);
    QWEN_RETURN_IF_ERROR(error);
    if (!indices) return Value::Undefined("slice indices must be integers or None");
    ValueList out;
    for (int64_t i : *indices) out.push_back(items[i]);
    return obj.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
  }
  const std::u32string chars = DecodeUtf8(obj.str());
  std::optional<std::vector<int64_t>> indices =
      SliceIndices(static_cast<int64_t>(chars.size()), start, stop, step, &error);
  QWEN_RETURN_IF_ERROR(error);
  if (!indices) return Value::Undefined("slice indices must be integers or None");
  std::string out;
  for (int64_t i : *indices) AppendUtf8(chars[i], &out);
  return obj.is_safe() ? Value::SafeString(std::move(out)) : Value::String(std::move(out));
}

}  // namespace qwen::gateway::jinja
