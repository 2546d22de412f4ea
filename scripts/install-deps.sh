#!/usr/bin/env bash
# Installs every Debian package that building and testing tokenfab needs.
# Idempotent: asks dpkg what is already there and only calls apt-get (after an
# `apt-get update`) when something is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config git
  libgtest-dev libgmock-dev
  libfmt-dev libspdlog-dev nlohmann-json3-dev libcli11-dev
  libpcre2-dev libutf8proc-dev libxxhash-dev
  libsimde-dev
  libboost-dev libssl-dev nodejs curl
  chromium fonts-dejavu-core
  clang libclang-rt-14-dev
  python3-jinja2
  fio
  etcd-server etcd-client libzmq3-dev libmsgpack-cxx-dev iproute2
)

missing=()
# The server tests drive tokenfab with the official `openai` npm client.
# Debian splits npm out of nodejs; other node builds (e.g. NodeSource) ship it.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
