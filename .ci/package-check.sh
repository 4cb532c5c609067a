#!/usr/bin/env bash
# The package as a user gets it. `npm pack` (prepack puts the linux-x64 prebuild into prebuilds/) and `npm pack -w
# models` (the companion package), then both tarballs installed into an empty folder with --ignore-scripts: no
# install script, no compiler. On each Node given (bin folders; default: the node on PATH), `saekit doctor` must
# report the native backend loaded from the prebuilt binary, and `saekit demo` must serve a feature page, its JSON
# and the app bundle.
# Usage: .ci/package-check.sh [NODE_BIN_DIR...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/saekit-pack.XXXXXX)
server=""
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

npm pack --silent --pack-destination "$work" --json >"$work/main.json"
npm pack --silent -w models --pack-destination "$work" --json >"$work/models.json"
# sizes of both tarballs; the main package must stay within 15 MB (the models are the companion package's job)
node -e '
  const fs = require("fs");
  const mb = (n) => (n / 1e6).toFixed(2) + " MB";
  for (const [which, limit] of [["main", 15e6], ["models", Infinity]]) {
    const [p] = JSON.parse(fs.readFileSync(`${process.argv[1]}/${which}.json`, "utf8"));
    const prebuilds = p.files.filter((f) => f.path.startsWith("prebuilds/")).map((f) => f.path);
    console.log(`${p.filename}: ${mb(p.size)} packed, ${mb(p.unpackedSize)} unpacked, ${p.entryCount} files` +
      (which === "main" ? `; prebuilds: ${prebuilds.join(", ") || "NONE"}` : ""));
    if (p.size > limit) throw new Error(`${p.filename} is ${mb(p.size)} packed; the limit is ${mb(limit)}`);
    if (which === "main" && prebuilds.length === 0) throw new Error(`${p.filename} carries no prebuilt addon`);
    fs.writeFileSync(`${process.argv[1]}/${which}.name`, p.filename);
  }' "$work"

mkdir "$work/app"
cd "$work/app"
echo '{ "name": "saekit-package-check", "private": true }' >package.json
npm install --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error \
  "$work/$(cat "$work/main.name")" "$work/$(cat "$work/models.name")"
if [[ -e node_modules/saekit/build ]]; then echo "FAIL: something compiled the addon during an --ignore-scripts install" >&2; exit 1; fi

bins=("$@")
[[ ${#bins[@]} -gt 0 ]] || bins=("$(dirname "$(command -v node)")")
for bin in "${bins[@]}"; do
  export PATH="$bin:$PATH"
  echo "-- installed package on Node $(node -v)"
  SAEKIT_BACKEND=native npx --no-install saekit doctor
  # --throw-deprecation: an API deprecated in this Node line, used by saekit or its dependencies, fails the check
  SAEKIT_BACKEND=native node --throw-deprecation node_modules/.bin/saekit doctor --json | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const a = r.backend.addon;
    if (r.backend.name !== "native" || a.origin !== "prebuilt" || a.error) {
      throw new Error(`expected the native backend from the prebuilt addon, got ${r.backend.name}: ${JSON.stringify(a)}`);
    }'

  log="$work/demo.log"
  # the bin itself (what `npx saekit` runs), so that $! is the server and not an npx wrapper
  node --throw-deprecation node_modules/.bin/saekit demo --port 0 >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    grep -q "dashboards at" "$log" && break
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "FAIL: saekit demo exited" >&2; exit 1; }
    sleep 0.5
  done
  # `|| true`: under pipefail a grep that finds nothing would end the script here, before the FAIL line below says why
  url=$(grep -o 'dashboards at http://[^ ]*' "$log" | head -1 | sed 's/^dashboards at //' || true)
  feature=$(grep -o 'feature/A/1/[0-9]*' "$log" | head -1 || true)
  [[ -n $url && -n $feature ]] || { cat "$log" >&2; echo "FAIL: no URL or example feature in the demo banner" >&2; exit 1; }
  echo "demo at $url; fetching ${url}${feature}, ${url}api/unit/${feature#feature/} and the app bundle"
  page=$(curl -fsS "${url}${feature}")
  grep -q '<script' <<<"$page" || { echo "FAIL: ${url}${feature} is not the app page" >&2; exit 1; }
  bundle=$(grep -o 'src="[^"]*\.js[^"]*"' <<<"$page" | head -1 | sed 's/^src="\/*//; s/"$//')
  [[ -n $bundle ]] && curl -fsS -o /dev/null "${url}${bundle}"
  curl -fsS "${url}api/unit/${feature#feature/}" | node -e '
    const u = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const want = process.argv[1];
    const text = JSON.stringify(u);
    if (!text.includes(`"${want}"`)) throw new Error(`/api/unit/${want} does not name the unit: ${text.slice(0, 300)}`);
    console.log(`/api/unit/${want}: ${text.length} bytes of JSON`);' "${feature#feature/}"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
done
cd "$repo"
echo "package check passed"
