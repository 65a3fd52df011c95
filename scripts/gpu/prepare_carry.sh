#!/usr/bin/env bash
# Runs HERE (Debian 12 dev machine, registry access): downloads the Debian packages a GPU build
# needs that the GPU machine (Ubuntu 24.04, no -dev packages, no network) lacks, and unpacks them
# into the git-ignored folder .carry/deb, to be sent along with `carry: [".carry/deb"]`.
#   abseil (libabsl-dev + libabsl20220623 .so files), nlohmann-json3-dev, GoogleTest/GoogleMock
#   (static libgtest/libgmock + headers + CMake configs).
# The CMake package configs inside are relocatable (they compute their prefix from their own
# path), so scripts/gpu/build_and_test.sh only has to put .carry/deb/usr on CMAKE_PREFIX_PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.carry/deb
pkgs=(libabsl-dev libabsl20220623 nlohmann-json3-dev libgtest-dev libgmock-dev)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's _apt user must be able to write the downloads
if ! (cd "$work" && apt-get download "${pkgs[@]}" >/dev/null 2>&1); then
  apt-get update >/dev/null
  (cd "$work" && apt-get download "${pkgs[@]}")
fi

rm -rf "$dest"
mkdir -p "$dest"
for deb in "$work"/*.deb; do
  dpkg -x "$deb" "$dest"
done
# Docs, man pages and pkg-config files are not needed for the build.
rm -rf "$dest/usr/share/doc" "$dest/usr/share/man" "$dest/usr/share/lintian"

# Sanity: the configs CMake will look for.
for f in usr/lib/x86_64-linux-gnu/cmake/absl/abslConfig.cmake \
         usr/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake \
         usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake \
         usr/lib/x86_64-linux-gnu/libgtest.a usr/lib/x86_64-linux-gnu/libgmock.a \
         usr/include/absl/base/config.h usr/include/nlohmann/json.hpp; do
  [[ -e "$dest/$f" ]] || { echo "prepare_carry: missing $dest/$f" >&2; exit 1; }
done
# Debian's absl .so symlinks must stay relative so they resolve inside the carry folder.
if find "$dest" -type l -lname '/*' | grep -q .; then
  echo "prepare_carry: absolute symlinks found:" >&2
  find "$dest" -type l -lname '/*' >&2
  exit 1
fi
size=$(du -sm "$dest" | cut -f1)
echo "prepare_carry: $dest ready, ${size} MB ($(find "$dest" -type f | wc -l) files)"
if (( size > 60 )); then
  echo "prepare_carry: $dest is over 60 MB" >&2
  exit 1
fi
