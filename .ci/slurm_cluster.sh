#!/usr/bin/env bash
# A real single-node SLURM cluster for the test suite (Debian's packages, no systemd).
#
#   .ci/slurm_cluster.sh install              apt-get slurmctld slurmd slurm-client munge
#                                             (+ slurmdbd mariadb-server for accounting)
#   .ci/slurm_cluster.sh start [--no-accounting] [--gpus N]
#   .ci/slurm_cluster.sh stop                 stop every daemon by its pid file
#   .ci/slurm_cluster.sh status
#
# --gpus N advertises N fake GPUs (gres backed by /dev/tty*), so GPU jobs run and see
# CUDA_VISIBLE_DEVICES; --gpus 0 configures no GPU at all. State, logs and pid files live in
# $SLURM_CI_DIR (default /var/tmp/slurm-ci). Must run as root.
set -euo pipefail

DIR=${SLURM_CI_DIR:-/var/tmp/slurm-ci}
CONF=/etc/slurm
HOST=$(hostname -s)
DB_PASS=slurmci

log() { echo "[slurm-ci] $*" >&2; }

install_packages() {
  local pkgs=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
  if dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then log "packages present"; return; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

write_conf() {
  local accounting=$1 gpus=$2
  local mem=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
  mkdir -p "$DIR"/{state,spool} "$CONF"
  {
    echo "ClusterName=repgeomci"
    echo "SlurmctldHost=$HOST"
    echo "SlurmUser=root"
    echo "AuthType=auth/munge"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core_Memory"
    echo "MpiDefault=none"
    echo "ReturnToService=2"
    # the plugin's squeue status path needs finished jobs to stay visible a while
    echo "MinJobAge=300"
    echo "StateSaveLocation=$DIR/state"
    echo "SlurmdSpoolDir=$DIR/spool"
    echo "SlurmctldPidFile=$DIR/slurmctld.pid"
    echo "SlurmdPidFile=$DIR/slurmd.pid"
    echo "SlurmctldLogFile=$DIR/slurmctld.log"
    echo "SlurmdLogFile=$DIR/slurmd.log"
    if [ "$accounting" = yes ]; then
      echo "AccountingStorageType=accounting_storage/slurmdbd"
      echo "AccountingStorageHost=localhost"
      echo "JobAcctGatherType=jobacct_gather/linux"
    fi
    local gres=""
    if [ "$gpus" -gt 0 ]; then echo "GresTypes=gpu"; gres=" Gres=gpu:$gpus"; fi
    echo "NodeName=$HOST CPUs=$(nproc) RealMemory=$mem$gres State=UNKNOWN"
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } > "$CONF/slurm.conf"
  if [ "$gpus" -gt 0 ]; then
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/dev/tty[0-%d]\n' "$HOST" $((gpus - 1)) > "$CONF/gres.conf"
  else
    rm -f "$CONF/gres.conf"
  fi
  if [ "$accounting" = yes ]; then
    cat > "$CONF/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
PidFile=$DIR/slurmdbd.pid
LogFile=$DIR/slurmdbd.log
CONF
    chmod 600 "$CONF/slurmdbd.conf"
  fi
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2; shift 2
  for _ in $(seq $((t * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  log "timed out waiting for $what"; return 1
}

start_mariadb() {
  install -d -o mysql -g mysql /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
  setsid mariadbd --user=mysql --socket=/run/mysqld/mysqld.sock \
    --pid-file=/run/mysqld/mysqld.pid --bind-address=127.0.0.1 >"$DIR/mariadb.log" 2>&1 < /dev/null &
  wait_for 30 mariadb mariadb -e "select 1"
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
}

start() {
  local accounting=yes gpus=2
  while [ $# -gt 0 ]; do
    case $1 in
      --no-accounting) accounting=no ;;
      --gpus) gpus=$2; shift ;;
      *) log "unknown option $1"; exit 2 ;;
    esac
    shift
  done
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  install_packages
  stop
  write_conf "$accounting" "$gpus"
  if ! [ -f /run/munge/munged.pid ] || ! kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    install -d -o munge -g munge /run/munge
    runuser -u munge -- /usr/sbin/munged
  fi
  if [ "$accounting" = yes ]; then
    start_mariadb
    slurmdbd
    wait_for 30 slurmdbd bash -c "sacctmgr -n list cluster >/dev/null"
  fi
  slurmctld
  wait_for 30 slurmctld scontrol ping
  slurmd
  wait_for 30 "idle node" bash -c '[ "$(sinfo -h -o %T | head -1)" = idle ]'
  if [ "$accounting" = yes ]; then
    wait_for 30 "cluster registration" bash -c "sacctmgr -n list cluster format=cluster | grep -q repgeomci"
  fi
  log "up: accounting=$accounting gpus=$gpus node=$HOST"
}

stop_pid() {  # stop_pid PIDFILE
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$1"
}

stop() {
  stop_pid "$DIR/slurmd.pid"
  stop_pid "$DIR/slurmctld.pid"
  stop_pid "$DIR/slurmdbd.pid"
  stop_pid /run/mysqld/mysqld.pid
  # job state from an earlier configuration would confuse the next start
  rm -rf "$DIR/state" "$DIR/spool"
}

status() {
  scontrol ping && sinfo && { sacctmgr -n list cluster 2>/dev/null || echo "no accounting"; }
}

case ${1:-} in
  install) install_packages ;;
  start) shift; start "$@" ;;
  stop) stop; stop_pid /run/munge/munged.pid ;;
  status) status ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
