#!/usr/bin/env bash
# Stop what .ci/slurm_up.sh started (only the daemons whose pids it recorded, and the munge daemon).
set -uo pipefail
state=/var/lib/brainalign-slurm
scancel --full --user="$(id -un)" >/dev/null 2>&1 || true
for d in slurmd slurmctld; do
    if [ -s "$state/$d.started" ]; then
        kill "$(cat "$state/$d.started")" 2>/dev/null || true
        rm -f "$state/$d.started"
    fi
done
if [ -s /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; fi
echo "SLURM stopped"
