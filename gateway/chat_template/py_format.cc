#include "gateway/chat_template/py_format.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

struct Spec {
  char fill = ' ';
  char align = '\0';  // '<', '>', '^', '=' or none
  char sign = '-';
  bool zero = false;
  bool alternate = false;
  int width = -1;
  int precision = -1;
  char type = '\0';
};

// Pads to spec.width. %-formatting right-aligns everything by default; str.format right-aligns
// numbers and left-aligns the rest (`percent_style` selects the rule).
std::string Pad(std::string body, const Spec& spec, bool numeric, bool percent_style = false) {
  const int len = static_cast<int>(CodePointCount(body));
  if (spec.width <= len) return body;
  const size_t pad = static_cast<size_t>(spec.width - len);
  char align = spec.align != '\0' ? spec.align : (numeric || percent_style ? '>' : '<');
  char fill = spec.fill;
  if (spec.zero && spec.align == '\0' && numeric) {
    align = '=';
    fill = '0';
  }
  if (align == '<') return body + std::string(pad, fill);
  if (align == '^') return std::string(pad / 2, fill) + body + std::string(pad - pad / 2, fill);
  if (align == '=' && !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) {
    return body.substr(0, 1) + std::string(pad, fill) + body.substr(1);
  }
  return std::string(pad, fill) + body;
}

absl::StatusOr<std::string> FormatNumber(const Value& v, const Spec& spec, char type) {
  if (!v.is_number()) {
    return absl::InvalidArgumentError(absl::StrCat("%", std::string(1, type),
                                                   " format: a real number is required, not ",
                                                   PyTypeName(v)));
  }
  std::string flags;
  if (spec.sign == '+' || spec.sign == ' ') flags.push_back(spec.sign);
  if (spec.alternate) flags.push_back('#');
  char buf[512];
  if (type == 'd' || type == 'i' || type == 'u' || type == 'x' || type == 'X' || type == 'o') {
    const long long i = v.is_float() ? static_cast<long long>(std::trunc(v.float_value()))
                                     : static_cast<long long>(v.int_value());
    const char conv = (type == 'i' || type == 'u') ? 'd' : type;
    std::snprintf(buf, sizeof(buf), ("%" + flags + "ll" + conv).c_str(), i);
    return std::string(buf);
  }
  const double d = v.float_value();
  if (std::isnan(d) || std::isinf(d)) {
    std::string s = std::isnan(d) ? "nan" : (d < 0 ? "-inf" : "inf");
    if (d > 0 && (spec.sign == '+' || spec.sign == ' ')) s = std::string(1, spec.sign) + s;
    if (type == 'F' || type == 'E' || type == 'G') s = PyUpper(s);
    return s;
  }
  const int precision = spec.precision < 0 ? 6 : spec.precision;
  std::snprintf(buf, sizeof(buf), ("%" + flags + ".*" + std::string(1, type)).c_str(), precision,
                d);
  return std::string(buf);
}

// Parses "[-+ #0]*[width][.precision]" of a %-conversion.
size_t ParsePercentSpec(const std::string& fmt, size_t i, Spec* spec) {
  for (; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '-') {
      spec->align = '<';
    } else if (c == '+' || c == ' ') {
      if (spec->sign != '+') spec->sign = c;
    } else if (c == '0') {
      spec->zero = true;
    } else if (c == '#') {
      spec->alternate = true;
    } else {
      break;
    }
  }
  if (spec->align == '<') spec->zero = false;
  if (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
    spec->width = 0;
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
      spec->width = spec->width * 10 + (fmt[i++] - '0');
    }
  }
  if (i < fmt.size() && fmt[i] == '.') {
    spec->precision = 0;
    ++i;
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
      spec->precision = spec->precision * 10 + (fmt[i++] - '0');
    }
  }
  while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
  return i;
}

absl::StatusOr<std::string> Convert(const Value& v, Spec spec, char type,
                                    bool percent_style = false) {
  switch (type) {
    case 's':
    case 'r':
    case 'a': {
      std::string s = type == 's' ? ToPyStr(v) : ToPyRepr(v);
      if (spec.precision >= 0) s = s.substr(0, ByteOffsetOfCodePoint(s, spec.precision));
      return Pad(std::move(s), spec, false, percent_style);
    }
    case 'c': {
      std::string s;
      if (v.is_integral()) {
        AppendUtf8(static_cast<char32_t>(v.int_value()), &s);
      } else if (v.is_string() && CodePointCount(v.str()) == 1) {
        s = v.str();
      } else {
        return absl::InvalidArgumentError("%c requires int or char");
      }
      return Pad(std::move(s), spec, false, percent_style);
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o':
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      QWEN_ASSIGN_OR_RETURN(std::string s, FormatNumber(v, spec, type));
      return Pad(std::move(s), spec, true);
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported format character '", std::string(1, type), "'"));
  }
}

// Parses a str.format spec "[[fill]align][sign][#][0][width][.precision][type]".
absl::StatusOr<Spec> ParseBraceSpec(const std::string& text) {
  Spec spec;
  const std::u32string s = DecodeUtf8(text);
  size_t i = 0;
  const auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (s.size() >= 2 && is_align(s[1]) && s[0] < 0x80) {
    spec.fill = static_cast<char>(s[0]);
    spec.align = static_cast<char>(s[1]);
    i = 2;
  } else if (!s.empty() && is_align(s[0])) {
    spec.align = static_cast<char>(s[0]);
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == '#') {
    spec.alternate = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    spec.zero = true;
    ++i;
  }
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    spec.width = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') spec.width = spec.width * 10 + (s[i++] - '0');
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    spec.precision = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      spec.precision = spec.precision * 10 + (s[i++] - '0');
    }
  }
  if (i < s.size()) spec.type = static_cast<char>(s[i++]);
  if (i != s.size()) return absl::InvalidArgumentError("Invalid format specifier");
  return spec;
}

absl::StatusOr<std::string> FormatField(const Value& v, const std::string& spec_text) {
  QWEN_ASSIGN_OR_RETURN(Spec spec, ParseBraceSpec(spec_text));
  if (spec.type == '\0') {
    if (v.is_float() && spec.precision >= 0) {
      spec.type = 'g';
    } else if (v.is_number() && !v.is_bool()) {
      if (v.is_float()) return Pad(PyFloatRepr(v.float_value()), spec, true);
      return Pad(std::to_string(v.int_value()), spec, true);
    } else {
      spec.type = 's';
    }
  }
  if (spec.type == 's') {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Unknown format code 's' for object of type '", PyTypeName(v), "'"));
    }
    return Convert(v, spec, 's');
  }
  if (spec.type == 'n') spec.type = 'g';
  if ((spec.type == 'd' || spec.type == 'x' || spec.type == 'X' || spec.type == 'o' ||
       spec.type == 'c') &&
      !v.is_integral()) {
    return absl::InvalidArgumentError(absl::StrCat("Unknown format code '",
                                                   std::string(1, spec.type),
                                                   "' for object of type '", PyTypeName(v), "'"));
  }
  return Convert(v, spec, spec.type);
}

}  // namespace

absl::StatusOr<Value> PyPercentFormat(const std::string& fmt, const Value& args) {
  ValueList positional;
  const Dict* mapping = nullptr;
  if (args.is_tuple()) {
    positional = args.list();
  } else {
    positional.push_back(args);
    if (args.is_dict()) mapping = &args.dict();
  }
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    ++i;
    if (i >= fmt.size()) return absl::InvalidArgumentError("incomplete format");
    if (fmt[i] == '%') {
      out.push_back('%');
      continue;
    }
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) return absl::InvalidArgumentError("incomplete format key");
      if (mapping == nullptr) return absl::InvalidArgumentError("format requires a mapping");
      arg = mapping->Find(std::string_view(fmt).substr(i + 1, close - i - 1));
      if (arg == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("KeyError: ", PyStringRepr(fmt.substr(i + 1, close - i - 1))));
      }
      used_mapping = true;
      i = close + 1;
    }
    Spec spec;
    i = ParsePercentSpec(fmt, i, &spec);
    if (i >= fmt.size()) return absl::InvalidArgumentError("incomplete format");
    if (arg == nullptr) {
      if (next >= positional.size()) {
        return absl::InvalidArgumentError("not enough arguments for format string");
      }
      arg = &positional[next++];
    }
    QWEN_ASSIGN_OR_RETURN(std::string piece, Convert(*arg, spec, fmt[i], /*percent_style=*/true));
    out += piece;
  }
  if (!used_mapping && mapping == nullptr && next < positional.size()) {
    return absl::InvalidArgumentError("not all arguments converted during string formatting");
  }
  return Value::String(std::move(out));
}

absl::StatusOr<std::string> PyBraceFormat(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      return absl::InvalidArgumentError("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) {
      return absl::InvalidArgumentError("Single '{' encountered in format string");
    }
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    char conversion = '\0';
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      if (bang + 2 != field.size()) return absl::InvalidArgumentError("invalid conversion");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    const Value* arg = nullptr;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      size_t index = auto_index++;
      if (!field.empty()) {
        if (field.find_first_not_of("0123456789") != std::string::npos) {
          return absl::InvalidArgumentError("format field attribute/index access is not supported");
        }
        if (!absl::SimpleAtoi(field, &index)) {
          return absl::InvalidArgumentError("Too many decimal digits in format string");
        }
      }
      if (index >= args.positional.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Replacement index ", index, " out of range for positional args tuple"));
      }
      arg = &args.positional[index];
    } else {
      for (const auto& [name, value] : args.keyword) {
        if (name == field) arg = &value;
      }
      if (arg == nullptr) return absl::InvalidArgumentError(absl::StrCat("KeyError: '", field, "'"));
    }
    Value v = *arg;
    if (conversion == 'r' || conversion == 'a') {
      v = Value::String(ToPyRepr(v));
    } else if (conversion == 's') {
      v = Value::String(ToPyStr(v));
    } else if (conversion != '\0') {
      return absl::InvalidArgumentError("Unknown conversion specifier");
    }
    if (v.is_undefined() || v.is_none() || v.is_list() || v.is_dict()) {
      if (!spec.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unsupported format string passed to ", PyTypeName(v), ".__format__"));
      }
      out += ToPyStr(v);
      continue;
    }
    if (v.is_bool() && spec.empty()) {
      out += ToPyStr(v);
      continue;
    }
    QWEN_ASSIGN_OR_RETURN(std::string piece, FormatField(v, spec));
    out += piece;
  }
  return out;
}

}  // namespace qwen::gateway::jinja
