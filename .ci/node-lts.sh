#!/usr/bin/env bash
# Usage: .ci/node-lts.sh MAJOR — prints the bin folder of the newest Node MAJOR.x, unpacked (once per machine) from
# the npm registry's node-<platform>-<arch> package (Node's release binary and headers, as the `node` package
# installs them). CI images may carry an older Node than saekit's engines; this is how CI gets the supported lines.
set -euo pipefail
major=$1
pkg="node-$(node -p process.platform)-$(node -p process.arch)"
dest="${SAEKIT_NODE_CACHE:-/tmp/saekit-node}/$major"
if [[ ! -x $dest/bin/node ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg@$major" >/dev/null)
  mkdir -p "$dest.partial"
  tar -xzf "$tmp"/*.tgz -C "$dest.partial" --strip-components=1
  rm -rf "$tmp" "$dest"
  mv "$dest.partial" "$dest"
fi
"$dest/bin/node" -e 'process.exit(0)' # a binary that does not run here fails now, not in the middle of a test
echo "$dest/bin"
