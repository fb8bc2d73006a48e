#!/usr/bin/env bash
# The infrastructure suite, as `make infra-test` (and so `make test` and CI) runs it:
#   1. the local machines up (tools.machines: 3 ZooKeeper+master machines, 2 agents);
#   2. site.yml deploys the cluster; 3. site.yml again must change nothing;
#   4. the testinfra suite tests/infra against the live cluster;
#   5. the machines removed again, whatever happened, unless they were already up before
#      (a cluster started with `make cluster` is left running).
# Needs root. Environment: VENV (default .venv), MASTERS, AGENTS, PYTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${VENV:-.venv}/bin"
INVENTORY=inventory/local
PLAYBOOK=site.yml
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

machines() { "$BIN/python" -m tools.machines "$@"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "infra-test: needs root (systemd-nspawn machines on a bridge); run it as root" >&2
    exit 1
fi
if [ ! -f "$PLAYBOOK" ]; then
    echo "infra-test: no $PLAYBOOK here: the Ansible roles and site.yml are missing" >&2
    exit 1
fi

if [ -f "$INVENTORY/hosts.yml" ]; then
    echo "infra-test: the local cluster is already up: it stays up afterwards"
else
    trap 'machines down' EXIT
fi

started=$SECONDS
machines up --masters "${MASTERS:-3}" --agents "${AGENTS:-2}"
echo "infra-test: machines ready after $((SECONDS - started)) s"

# stdin from /dev/null: ansible-playbook refuses to start on a non-blocking one (which
# an ssh run before may leave behind when stdin is shared, as under CI).
"$BIN/ansible-playbook" -i "$INVENTORY" "$PLAYBOOK" </dev/null
echo "infra-test: deployed after $((SECONDS - started)) s"

# The second run must report changed=0 (and nothing failed or unreachable) for every host.
second_run=$(mktemp)
"$BIN/ansible-playbook" -i "$INVENTORY" "$PLAYBOOK" </dev/null | tee "$second_run"
if ! awk '
    /^PLAY RECAP/ { recap = 1; next }
    recap && / : ok=/ {
        hosts++
        if ($0 !~ / changed=0 / || $0 !~ / unreachable=0 / || $0 !~ / failed=0 /) bad++
    }
    END { exit !(hosts > 0 && bad == 0) }' "$second_run"; then
    rm -f "$second_run"
    echo "infra-test: the second run of $PLAYBOOK changed something: it is not idempotent" >&2
    exit 1
fi
rm -f "$second_run"
echo "infra-test: second run changed nothing ($((SECONDS - started)) s)"

# shellcheck disable=SC2086 # PYTEST_ARGS is a list of arguments
MESOS_PY_INFRA=required "$BIN/pytest" -q tests/infra ${PYTEST_ARGS:-} </dev/null
echo "infra-test: passed in $((SECONDS - started)) s"
