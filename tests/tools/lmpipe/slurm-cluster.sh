#!/bin/bash
# A throwaway one-node Slurm cluster in a folder, for tests of
# `lmpipe run --executor slurm`.
#
#   slurm-cluster.sh start DIR    start munged, slurmctld and slurmd (as root)
#                                 with everything under DIR; prints the line
#                                 export SLURM_CONF=DIR/slurm.conf
#   slurm-cluster.sh stop DIR     cancel its jobs and stop its daemons
#
# Tests source this file and call slurm_cluster_start DIR and
# slurm_cluster_stop DIR. Nothing outside DIR is written: the configuration,
# the munge key and socket, the state, spool and log folders all live there,
# the daemons listen on free ports of 127.0.0.1 only, and the clients find
# the cluster through SLURM_CONF. The node is called localhost and has the
# machine's CPUs and memory as `slurmd -C` reports them. Accounting is off
# (no slurmdbd), so sacct has no records; final job states come from
# `scontrol show job`, which keeps a finished job for MinJobAge seconds.
# Needs root and the Debian packages slurm-wlm and munge; returns 77 (skip)
# when either is missing.

# This file's absolute path, for the watcher that slurm_cluster_start leaves.
SLURM_CLUSTER_SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# slurm_cluster_free_port: prints a TCP port of 127.0.0.1 that is free now.
slurm_cluster_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# slurm_cluster_check: returns 77 with a message when this machine cannot run
# the cluster.
slurm_cluster_check() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: a Slurm test cluster needs root (slurmd starts jobs as their user)" >&2
        return 77
    fi
    local program
    for program in munged slurmctld slurmd sbatch squeue scontrol scancel srun python3; do
        if ! command -v "$program" >/dev/null && [ ! -x "/usr/sbin/$program" ]; then
            echo "SKIP: $program not found; install the Debian packages slurm-wlm and munge" >&2
            return 77
        fi
    done
    return 0
}

# slurm_cluster_write_config DIR: writes DIR/slurm.conf for one node.
slurm_cluster_write_config() {
    local dir=$1
    local node cpus memory
    node=$(PATH="$PATH:/usr/sbin" slurmd -C | head -1)
    cpus=$(echo "$node" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
    memory=$(echo "$node" | sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p')
    cat >"$dir/slurm.conf" <<CONF
ClusterName=lmpipe-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(slurm_cluster_free_port)
SlurmdPort=$(slurm_cluster_free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
MinJobAge=600
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    : >"$dir/plugstack.conf"
}

# slurm_cluster_start DIR [OWNER_PID]: starts the cluster and exports
# SLURM_CONF. When OWNER_PID is given, a watcher in its own session stops the
# cluster once that process has ended, even when it was killed with SIGKILL.
# Returns 0 when the node is idle, 77 when the machine cannot run it, 1 on a
# failure (the daemons' logs are under DIR/log).
slurm_cluster_start() {
    local dir=$1 owner=${2:-}
    slurm_cluster_check || return $?
    mkdir -p "$dir"/{munge,state,spool,run,log}
    chmod 700 "$dir" "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    slurm_cluster_write_config "$dir"
    export SLURM_CONF="$dir/slurm.conf"
    if [ -n "$owner" ]; then
        setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
                        . "$2"; slurm_cluster_stop "$3"' watcher "$owner" \
            "$SLURM_CLUSTER_SCRIPT" "$dir" </dev/null >/dev/null 2>&1 &
    fi

    local sbin=/usr/sbin
    "$sbin/munged" --force --socket="$dir/munge/munge.socket" \
        --key-file="$dir/munge/munge.key" --pid-file="$dir/run/munged.pid" \
        --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" || {
        echo "slurm cluster: munged failed to start; see $dir/log/munged.log" >&2
        return 1
    }
    "$sbin/slurmctld" -c -i -f "$SLURM_CONF" || {
        echo "slurm cluster: slurmctld failed to start; see $dir/log/slurmctld.log" >&2
        return 1
    }
    "$sbin/slurmd" -N localhost -f "$SLURM_CONF" || {
        echo "slurm cluster: slurmd failed to start; see $dir/log/slurmd.log" >&2
        return 1
    }
    local _
    for _ in $(seq 1 300); do
        if [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "slurm cluster: node localhost did not become idle within 30 s:" >&2
    sinfo -N -l >&2 || true
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    return 1
}

# slurm_cluster_pid FILE: prints the pid in FILE when that process still runs.
slurm_cluster_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# slurm_cluster_stop DIR: cancels the cluster's jobs, stops its slurmd,
# slurmctld and munged by the pids in their pid files, and kills job steps
# (slurmstepd) that still hold files under DIR. Safe to call twice.
slurm_cluster_stop() {
    local dir=$1
    [ -f "$dir/slurm.conf" ] || return 0
    export SLURM_CONF="$dir/slurm.conf"
    if slurm_cluster_pid "$dir/run/slurmctld.pid" >/dev/null; then
        scancel --quiet --user=root 2>/dev/null || true
        local _
        for _ in $(seq 1 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    local name pid
    for name in slurmd slurmctld munged; do
        pid=$(slurm_cluster_pid "$dir/run/$name.pid") || continue
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    # A step daemon outlives slurmd. It belongs to this cluster when it has a file
    # under DIR open.
    local proc
    for proc in /proc/[0-9]*; do
        [ "$(cat "$proc/comm" 2>/dev/null)" = slurmstepd ] || continue
        if ls -l "$proc/fd" 2>/dev/null | grep -qF -- "$dir/"; then
            kill -9 "${proc#/proc/}" 2>/dev/null || true
        fi
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-} ${2:-}" in
    "start "?*)
        mkdir -p "$2"
        dir=$(cd "$2" && pwd)
        slurm_cluster_start "$dir" || exit $?
        echo "export SLURM_CONF=$dir/slurm.conf"
        ;;
    "stop "?*)
        slurm_cluster_stop "$(cd "$2" && pwd)"
        ;;
    *)
        echo "usage: $0 start DIR | stop DIR" >&2
        exit 2
        ;;
    esac
fi
