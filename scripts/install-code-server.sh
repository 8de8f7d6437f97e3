#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3 on Node 20) offline into .tools/code-server, for the end-to-end test.
# Idempotent: a finished install leaves a stamp file and the script returns at once.
# Needs Debian packages: libkrb5-dev ripgrep (and chromium for the test itself).
# The sequence is the one in shared/notes/toolchain-offline.md: a plain `npm install code-server` fails offline
# (root postinstall, kerberos headers, ripgrep download from GitHub, node-gyp prompt).
set -euo pipefail

VERSION=4.100.3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools/code-server"
STAMP="$TOOLS/.installed-$VERSION"

if [[ -f "$STAMP" ]]; then
  echo "code-server $VERSION already installed in $TOOLS"
  exit 0
fi
for need in rg; do
  command -v "$need" >/dev/null || { echo "missing '$need': apt-get install -y libkrb5-dev ripgrep" >&2; exit 1; }
done

mkdir -p "$TOOLS"
cd "$TOOLS"
[[ -f package.json ]] || echo '{ "name": "lora-lens-tools", "private": true }' > package.json
npm install --no-audit --no-fund "code-server@$VERSION" --ignore-scripts
npm_config_dangerously_allow_all_scripts=true npm rebuild argon2

CS="$TOOLS/node_modules/code-server"
(
  cd "$CS/lib/vscode"
  npm install --no-audit --no-fund --omit=dev --ignore-scripts
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm_config_yes=true npm_config_dangerously_allow_all_scripts=true npm rebuild
  ln -sfn node_modules node_modules.asar
  (cd bin/remote-cli && ln -sf code-linux.sh code-server)
  (cd bin/helpers && ln -sf browser-linux.sh browser.sh)
  (cd extensions && npm_config_dangerously_allow_all_scripts=true npm install --no-audit --no-fund --omit=dev)
)

node "$CS/out/node/entry.js" --version
touch "$STAMP"
echo "code-server $VERSION installed in $TOOLS (run: node $CS/out/node/entry.js)"
