#!/usr/bin/env bash
# Install the Debian packages the test suite needs. Idempotent: when every
# package is already installed, apt is not touched at all.
#
#   scripts/install-system-deps.sh          install what is missing (needs root)
#   scripts/install-system-deps.sh --check  only list what is missing; exit 1 if anything is
set -euo pipefail

# util-linux: setsid (process groups for agents/executors)
# procps: ps, pgrep, kill for inspecting and stopping processes
# default-jre-headless, zookeeper: ZooKeeper 3.8 for master election (HA) tests
# debootstrap, systemd-container, iproute2, openssh-client: the local test machines
#   (tools/machines: Debian image, systemd-nspawn, bridge, ssh into the machines)
# chromium, chromium-driver: headless browser for the web UI tests (driven by Playwright)
# vagrant, vagrant-libvirt: `vagrant validate` of the Vagrantfile (tests/deploy)
PACKAGES=(
    util-linux
    procps
    default-jre-headless
    zookeeper
    debootstrap
    systemd-container
    iproute2
    openssh-client
    chromium
    chromium-driver
    vagrant
    vagrant-libvirt
)

check_only=false
case "${1:-}" in
    "") ;;
    --check) check_only=true ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system deps: all present (${PACKAGES[*]})"
    exit 0
fi

if "$check_only"; then
    echo "system deps: missing: ${missing[*]}"
    echo "system deps: run 'sudo scripts/install-system-deps.sh' to install them"
    exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "system deps: missing: ${missing[*]}; re-run this script as root" >&2
    exit 1
fi

echo "system deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -q -y --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
    echo "system deps: still missing after apt-get install: ${still_missing[*]}" >&2
    exit 1
fi
echo "system deps: installed: ${missing[*]}"
