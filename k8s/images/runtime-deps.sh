#!/usr/bin/env bash
# Prints the Debian/Ubuntu packages that own the shared libraries the given binaries load, one a
# line, so the runtime stage installs exactly the runtime libraries (never the -dev packages or a
# compiler) of the distribution the build stage compiled against. Libraries under /usr/local/cuda*
# and the NVIDIA driver (libcuda, libnvidia-*) are left out: the CUDA runtime base image and the
# node's driver (mounted by the NVIDIA container toolkit) provide them.
#
#   runtime-deps.sh BINARY...          list the packages
#   runtime-deps.sh --check BINARY...  fail if a binary has an unresolved library (runtime stage)
set -euo pipefail

is_provided_by_platform() {
  case "$1" in
    libcuda.so* | libnvidia-* | libnvcuvid.so*) return 0 ;;
    *) return 1 ;;
  esac
}

if [ "${1:-}" = "--check" ]; then
  shift
  status=0
  for bin in "$@"; do
    while read -r lib; do
      if ! is_provided_by_platform "$lib"; then
        echo "runtime-deps: $bin: missing shared library $lib" >&2
        status=1
      fi
    done < <(ldd "$bin" | awk '/=> not found/ {print $1}')
  done
  exit "$status"
fi

[ "$#" -gt 0 ] || { echo "usage: $0 [--check] BINARY..." >&2; exit 2; }

paths=()
while read -r soname path; do
  is_provided_by_platform "$soname" && continue
  real="$(readlink -f "$path")"
  case "$real" in /usr/local/cuda*) continue ;; esac
  paths+=("$real")
done < <(for bin in "$@"; do ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'; done | sort -u)
[ "${#paths[@]}" -gt 0 ] || exit 0

# One dpkg query for all (it is slow per call). dpkg records either the /usr path or the
# historical /lib one on merged-/usr systems, so both spellings are asked for.
owners="$(dpkg -S "${paths[@]}" "${paths[@]#/usr}" 2>/dev/null || true)"
for real in "${paths[@]}"; do
  # Lines look like "libfoo1:amd64: /usr/lib/x86_64-linux-gnu/libfoo.so.1.2" (or "a, b: path").
  line="$(printf '%s\n' "$owners" | awk -v a="$real" -v b="${real#/usr}" \
    '/^diversion / { next } { i = index($0, ": "); p = substr($0, i + 2) }
     p == a || p == b { print substr($0, 1, i - 1); exit }')"
  if [ -z "$line" ]; then
    echo "runtime-deps: no package owns $real" >&2
    exit 1
  fi
  pkg="${line%%,*}"
  echo "${pkg%%:*}"
done | sort -u
