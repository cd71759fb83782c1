#!/usr/bin/env bash
# Start a single-node SLURM (munge + slurmctld + slurmd, no cgroups, no systemd) on this machine, as root.
# Used by .ci/run before `make test` so tests/test_pipeline_slurm.py runs against a real scheduler, and by
# developers: `sudo .ci/slurm_up.sh` then `BRAINALIGN_SLURM=1 pytest tests/test_pipeline_slurm.py`.
# Stop everything with .ci/slurm_down.sh.  Installs slurm-wlm + munge with apt-get when they are missing.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "slurm_up.sh: must run as root (installs packages, starts daemons)" >&2; exit 1; fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
state=/var/lib/brainalign-slurm
mkdir -p "$state" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /etc/munge /etc/slurm
# munge: one key, its socket under /run/munge (the default slurm and munge agree on)
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
if ! pgrep -u munge -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
fi
host=$(hostname -s)
cpus=$(nproc)
# leave 1 GiB to the system; slurmd refuses a node that claims more memory than it has
mem_mb=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=brainalign-ci
SlurmctldHost=${host}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=${state}/slurmctld.pid
SlurmdPidFile=${state}/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# no cgroups and no systemd in containers: plain process tracking, no task containment
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
NodeName=${host} CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
cp /etc/slurm/slurm.conf "$state/slurm.conf"
if ! pgrep -x slurmctld >/dev/null; then
    nohup slurmctld -D -i >/var/log/slurm/slurmctld.out 2>&1 &
    echo $! > "$state/slurmctld.started"
fi
if ! pgrep -x slurmd >/dev/null; then
    nohup slurmd -D >/var/log/slurm/slurmd.out 2>&1 &
    echo $! > "$state/slurmd.started"
fi
# wait until the node is idle (jobs can start)
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
        sinfo; echo "SLURM is up (export BRAINALIGN_SLURM=1 to run tests/test_pipeline_slurm.py)"; exit 0
    fi
    scontrol update NodeName="${host}" State=RESUME >/dev/null 2>&1 || true
    sleep 1
done
echo "slurm_up.sh: SLURM did not come up; logs:" >&2
tail -n 20 /var/log/slurm/slurmctld.out /var/log/slurm/slurmd.out /var/log/slurm/*.log >&2 || true
exit 1
