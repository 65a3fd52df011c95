// Flag parsing for qwen35 subcommands: "--name value", "--name=value" and boolean "--name".
// Each subcommand declares its flags, so a typo is an error rather than a silently ignored flag.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::tools {

struct FlagSpec {
  std::string name;         // without the leading "--"
  std::string help;
  bool is_bool = false;     // takes no value
  bool required = false;
};

class Args {
 public:
  // Parses argv[1..argc) against `specs`. Unknown flags, missing values, missing required flags and
  // stray positional arguments are InvalidArgument. "--help" sets help().
  static absl::StatusOr<Args> Parse(int argc, char** argv, const std::vector<FlagSpec>& specs);
  // "usage: qwen35 <command> ..." with one line per flag.
  static std::string Usage(const std::string& command, const std::string& summary,
                           const std::vector<FlagSpec>& specs);

  bool help() const { return help_; }
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  bool GetBool(const std::string& name) const { return Has(name); }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;
  // Comma-separated integers ("1,2,3"); InvalidArgument names the bad element.
  absl::StatusOr<std::vector<int64_t>> GetIntList(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

// Prints `status` as "qwen35 <command>: <message>" on stderr and returns the exit code for it
// (2 for InvalidArgument from flag parsing is the caller's choice; this returns 1).
int ReportError(const std::string& command, const absl::Status& status);

}  // namespace qwen::tools
