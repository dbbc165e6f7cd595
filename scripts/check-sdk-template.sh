#!/usr/bin/env bash
# Proves the SDK works for someone outside this tree: installs attnbench (SDK included) from
# an already built tree to a temporary prefix, builds sdk/template out of tree against that
# prefix only, drops the .so into an empty plugins folder, and runs `attnbench list`,
# `attnbench check` and `attnbench validate` on it with the installed attnbench.
#   scripts/check-sdk-template.sh [BUILD_DIR]     (default: build)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$repo/build}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix" template="$work/my_attention" plugins="$work/plugins"
step() { echo "== check-sdk-template: $*"; }

step "install $build to $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"

# A copy outside the tree: nothing in it can reach the sources by a relative path.
step "build the template out of tree against $prefix"
cp -r "$repo/sdk/template" "$template"
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
cmake -S "$template" -B "$template/build" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$template/build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
if grep -q "$repo/sdk" "$template/build/compile_commands.json"; then
  echo "check-sdk-template: the template was compiled against the source tree, not the install" >&2
  exit 1
fi
exports="$(nm -D --defined-only "$template/build/my_attention.so" | awk '{print $3}')"
if [ "$exports" != "attnbench_plugin_negotiate" ]; then
  echo "check-sdk-template: the plugin exports more than its entry symbol: $exports" >&2
  exit 1
fi

mkdir "$plugins"
cp "$template/build/my_attention.so" "$plugins/"
attnbench="$prefix/bin/attnbench"
step "attnbench list";     "$attnbench" list --plugins "$plugins"
step "attnbench check";    "$attnbench" check "$plugins/my_attention.so"
step "attnbench validate"
"$attnbench" validate --plugins "$plugins" > "$work/validate.log" || { cat "$work/validate.log"; exit 1; }
tail -n 1 "$work/validate.log"
step "all passed"
