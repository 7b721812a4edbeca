#!/usr/bin/env bash
# The Slurm shard recipe (scripts/slurm/) on a real one-node Slurm cluster started in a temp dir:
# munged, slurmctld and slurmd as root with their own slurm.conf (SLURM_CONF; nothing in /etc),
# free ports, state/spool/logs in the temp dir.
#   1. submit.sh: a 3-shard embedding job array of ~300 STS-B sentences + the dependent merge job;
#      the merged .npy must be byte-identical to one `sbert embed` run (--batch-size 1).
#   2. Fault: one array task is cancelled while running; the merge job must stay pending, a manual
#      merge must fail naming the missing shard; that one index is re-submitted alone
#      (sbatch --array=1), merged again -> identical.
# Installs slurm-wlm and munge with apt-get when missing. Skips (exit 0, "slurm test skipped: ...")
# only when the daemons cannot be started (not root, no packages, a daemon that does not come up);
# any failure after that exits non-zero. Every daemon is stopped on exit and the temp dir removed
# (SLURM_TEST_KEEP=1 keeps it).
# Usage: bash scripts/slurm_test.sh   (env: SBERT=build/sbert, SBERT_SHARED=../shared,
#        SLURM_TEST_TIMEOUT=300 seconds per wait, SLURM_TEST_SENTENCES=300)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
say() { echo "slurm_test: $*" >&2; }
skip() { echo "slurm test skipped: $*" >&2; exit 0; }
fail() { echo "slurm_test: FAIL: $*" >&2; exit 1; }

TIMEOUT=${SLURM_TEST_TIMEOUT:-300}
NSENT=${SLURM_TEST_SENTENCES:-300}
N=3
SHARED=$(cd "${SBERT_SHARED:-../shared}" 2>/dev/null && pwd) || fail "no ${SBERT_SHARED:-../shared} (set SBERT_SHARED)"
MODEL=$(cd "$SHARED/fixtures/models/bert-wordpiece-mean-norm" 2>/dev/null && pwd) ||
  fail "no fixture model under $SHARED/fixtures/models/bert-wordpiece-mean-norm (set SBERT_SHARED)"
STSB=$SHARED/data/stsb/stsb-dev.csv
[ -r "$STSB" ] || fail "no $STSB (set SBERT_SHARED)"
SBERT=${SBERT:-build/sbert}
[ -x "$SBERT" ] || fail "no executable $SBERT (build it first: bash scripts/setup.sh)"
SBERT=$(cd "$(dirname "$SBERT")" && pwd)/$(basename "$SBERT")

# --- packages -------------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "not root (slurmd must run as root to start jobs)"
need=(slurm-wlm munge)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  t=$(now)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"; } >&2; then
    skip "apt-get install ${missing[*]} failed"
  fi
  say "installed ${missing[*]} in $(since "$t")"
fi
for c in munged mungekey slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
  command -v "$c" >/dev/null || skip "$c not found after installing ${need[*]}"
done

# --- the cluster ----------------------------------------------------------------------------------
# No Slurm or sbatch setting from the caller's environment (e.g. when run inside a Slurm job).
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SLURM_|SBATCH_|SQUEUE_|SINFO_|SCANCEL_)' || true)
T=$(mktemp -d /tmp/sbert-slurm-test.XXXXXX)
chmod 0755 "$T"  # munged wants the socket's directories searchable
mkdir -p "$T"/{munge,state,spool,log,work}
export SLURM_CONF=$T/slurm.conf
export SBERT_SLURM_TEST_DIR=$T  # marks every daemon and job process of this test
pids=()        # daemons, stopped in reverse order
stall_pid=$T/stall.pid

stop_daemons() {
  set +e
  cd / 2>/dev/null
  if [ -n "${ctld_up:-}" ]; then
    scancel --quiet -u root 2>/dev/null
    for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null
    for _ in $(seq 40); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  # Anything still running in the temp dir, or a Slurm/munge process started from this test (a job
  # step slurmd left behind), is ours: killed by pid, and the test fails.
  local p pid comm
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = $$ ] && continue
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    if [[ $(readlink "$p/cwd" 2>/dev/null) == "$T"* ]] ||
       { [[ $comm =~ ^(slurmstepd|slurmd|slurmctld|munged|sleep)$ ]] &&
         tr '\0' '\n' 2>/dev/null < "$p/environ" | grep -qxF "SBERT_SLURM_TEST_DIR=$T"; }; then
      say "left-over process $pid ($(tr '\0' ' ' 2>/dev/null < "$p/cmdline")); killing it"
      kill -KILL "$pid" 2>/dev/null
      leftover=1
    fi
  done
}
cleanup() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ] && [ -d "$T/log" ]; then
    for f in "$T"/log/*.log "$T"/work/*.log; do
      [ -s "$f" ] && { echo "--- ${f#"$T"/} (last lines)" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  stop_daemons
  if [ -n "${SLURM_TEST_KEEP:-}" ]; then say "kept $T"; else rm -rf "$T"; fi
  [ -n "${leftover:-}" ] && [ "$rc" -eq 0 ] && { echo "slurm_test: FAIL: processes were left running" >&2; rc=1; }
  say "total $(since "$T0")"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "slurm_test: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# Two free TCP ports (none listening or connected on them in /proc/net/tcp*).
port_used() { awk -v p="$(printf ':%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
  /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
ctld_port=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 40000))
  port_used "$p" || port_used $((p + 1)) || { ctld_port=$p; break; }
done
[ -n "$ctld_port" ] || skip "no free TCP port pair found"
slurmd_port=$((ctld_port + 1))

: > "$T/plugstack.conf"  # no SPANK plugins (not /etc/slurm/plugstack.conf)
cpus=$(nproc); [ "$cpus" -ge 2 ] || cpus=2  # embed.sbatch asks for 2 CPUs per task
cat > "$SLURM_CONF" <<EOF
ClusterName=sberttest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
MailProg=/bin/true
PlugStackConfig=$T/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
SchedulerType=sched/backfill
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

t=$(now)
mungekey --create --keyfile="$T/munge/munge.key" >/dev/null 2>&1 ||
  dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 0600 "$T/munge/munge.key"
munged -F -f --socket="$T/munge/munge.sock" --key-file="$T/munge/munge.key" --pid-file="$T/munge/munged.pid" \
  --seed-file="$T/munge/munged.seed" --log-file="$T/log/munged.log" > "$T/log/munged.log" 2>&1 &
pids+=($!)
ok=""
for _ in $(seq 40); do
  munge -S "$T/munge/munge.sock" -n 2>/dev/null | unmunge -S "$T/munge/munge.sock" >/dev/null 2>&1 && { ok=1; break; }
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.25
done
[ -n "$ok" ] || skip "munged did not start: $(tail -n 3 "$T/log/munged.log" | tr '\n' ' ')"

slurmctld -D -i -f "$SLURM_CONF" > "$T/log/slurmctld.out" 2>&1 &
pids+=($!)
ctld_up=1
slurmd -D -f "$SLURM_CONF" -N localhost > "$T/log/slurmd.out" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 120); do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || skip "a Slurm daemon exited: $(tail -n 3 "$T"/log/slurm*.out | tr '\n' ' ')"; done
  sleep 0.5
done
[ "$state" = idle ] || skip "node not idle after 60 s (state '${state:-none}'): $(tail -n 3 "$T/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
say "cluster up in $(since "$t") (slurmctld :$ctld_port, slurmd :$slurmd_port, $cpus CPUs, $(sinfo -V))"

# --- helpers --------------------------------------------------------------------------------------
# job_states JOB: "ARRAYTASKID|- STATE EXITCODE REASON" for each record (array task) of JOB, sorted.
job_states() { scontrol -o show job "$1" 2>/dev/null | awk '{ id = ""; st = ""; ex = ""; rs = "";
  for (i = 1; i <= NF; i++) { if ($i ~ /^ArrayTaskId=/) id = substr($i, 13); if ($i ~ /^JobState=/) st = substr($i, 10);
    if ($i ~ /^ExitCode=/) ex = substr($i, 10); if ($i ~ /^Reason=/) rs = substr($i, 8) }
  print (id == "" ? "-" : id), st, ex, rs }' | sort; }
# wait_gone JOB...: until squeue lists none of them (bounded).
wait_gone() {
  local deadline=$((SECONDS + TIMEOUT))
  while [ -n "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || fail "jobs $* still queued after ${TIMEOUT} s: $(squeue -h -j "$(IFS=,; echo "$*")" | tr -s ' ' | tr '\n' ';')"
    sleep 0.5
  done
}
# expect_completed JOB COUNT: COUNT records (array tasks), each COMPLETED with exit code 0:0.
expect_completed() {
  local s
  s=$(job_states "$1")
  [ "$(echo "$s" | grep -c ' COMPLETED 0:0')" -eq "$2" ] || fail "job $1: expected $2 COMPLETED 0:0, got: $(echo "$s" | tr '\n' ';')"
}

cd "$T/work"
awk -F'\t' -v n="$NSENT" 'NR > n { exit } { print $6 }' "$STSB" > input.txt
[ "$(wc -l < input.txt)" -eq "$NSENT" ] || fail "could not take $NSENT sentences from $STSB"
export SBERT
OPTS=(--batch-size 1)  # byte-identical to one run only with --batch-size 1 (see README)

# Reference: one process, the same threads as each array task.
t=$(now)
"$SBERT" -q embed --model "$MODEL" --format npy --threads 2 "${OPTS[@]}" -o "$T/ref.npy" input.txt
say "reference: one sbert embed run, $NSENT sentences, in $(since "$t")"

# --- 1. the recipe as it is ------------------------------------------------------------------------
t=$(now)
read -r array merge < <(bash "$repo/scripts/slurm/submit.sh" "$N" "$MODEL" "$T/work/input.txt" "$T/parts1" \
  "$T/out1.npy" "${OPTS[@]}")
[ -n "$merge" ] || fail "submit.sh printed no job ids"
wait_gone "$array" "$merge"
expect_completed "$array" "$N"
expect_completed "$merge" 1
[ -f "$T/out1.npy" ] || fail "merge job $merge wrote no $T/out1.npy"
cmp "$T/ref.npy" "$T/out1.npy" || fail "merged Slurm output differs from the single run"
say "round 1: array $array ($N shards) + merge $merge -> byte-identical to one run, in $(since "$t")"

# --- 2. a task cancelled while running, merge fails naming it, re-run that index alone -------------
t=$(now)
# Task 1 stalls (its pid recorded) so that it is RUNNING when cancelled; 0 and 2 run sbert.
cat > "$T/stall-sbert" <<EOF
#!/bin/sh
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 1 ]; then echo \$\$ > "$stall_pid"; exec sleep 600; fi
exec "$SBERT" "\$@"
EOF
chmod +x "$T/stall-sbert"
read -r array2 merge2 < <(SBERT=$T/stall-sbert bash "$repo/scripts/slurm/submit.sh" "$N" "$MODEL" \
  "$T/work/input.txt" "$T/parts2" "$T/out2.npy" "${OPTS[@]}")
[ -n "$merge2" ] || fail "submit.sh printed no job ids"
deadline=$((SECONDS + TIMEOUT))
until [ -s "$stall_pid" ] && job_states "$array2" | grep -q '^1 RUNNING'; do
  [ $SECONDS -lt $deadline ] || fail "array task ${array2}_1 never ran: $(job_states "$array2" | tr '\n' ';')"
  sleep 0.25
done
victim=$(cat "$stall_pid")
scancel "${array2}_1"
# The rest of the array finishes; the merge job must not run (its afterok can never be met).
deadline=$((SECONDS + TIMEOUT))
while [ -n "$(squeue -h -j "$array2" 2>/dev/null)" ]; do
  [ $SECONDS -lt $deadline ] || fail "array $array2 still queued after ${TIMEOUT} s"
  sleep 0.5
done
s=$(job_states "$array2")
echo "$s" | grep -q '^1 CANCELLED' || fail "task ${array2}_1 not CANCELLED: $(echo "$s" | tr '\n' ';')"
[ "$(echo "$s" | grep -c ' COMPLETED 0:0')" -eq 2 ] || fail "tasks 0 and 2 of $array2 not COMPLETED: $(echo "$s" | tr '\n' ';')"
for _ in $(seq 20); do kill -0 "$victim" 2>/dev/null || break; sleep 0.25; done
kill -0 "$victim" 2>/dev/null && fail "scancel left the cancelled task's process $victim running"
[ ! -e "$T/parts2/part-1.npy" ] || fail "the cancelled task left $T/parts2/part-1.npy"
deadline=$((SECONDS + 60))
until ms=$(job_states "$merge2"); echo "$ms" | grep -q 'PENDING .* DependencyNeverSatisfied'; do
  [ $SECONDS -lt $deadline ] || fail "merge job $merge2 should be pending on a never-satisfied dependency: $ms"
  sleep 0.5
done
[ ! -e "$T/out2.npy" ] || fail "merge job $merge2 ran although a shard was cancelled"
say "round 2: task ${array2}_1 cancelled while running (pid $victim gone, no part), merge $merge2 pending ($ms)"

if "$SBERT" merge -o "$T/out2.npy" "$T"/parts2/part-*.npy 2> "$T/merge-err.txt"; then
  fail "merge of 2 of 3 shards succeeded"
fi
grep -q "shard 1/3 is missing" "$T/merge-err.txt" || fail "merge error does not name shard 1/3: $(cat "$T/merge-err.txt")"
[ ! -e "$T/out2.npy" ] || fail "failed merge left $T/out2.npy"
say "round 2: merge before the shard exists fails: $(cat "$T/merge-err.txt")"

# Re-run index 1 alone (as embed.sbatch documents), replace the stale merge job, merge -> identical.
scancel "$merge2"
rerun=$(sbatch --parsable --array=1 "$repo/scripts/slurm/embed.sbatch" "$N" "$MODEL" "$T/work/input.txt" \
  "$T/parts2" "${OPTS[@]}")
rerun=${rerun%%;*}
merge3=$(sbatch --parsable --dependency="afterok:$rerun" "$repo/scripts/slurm/merge.sbatch" "$T/parts2" "$T/out2.npy")
merge3=${merge3%%;*}
wait_gone "$rerun" "$merge3"
expect_completed "$rerun" 1
expect_completed "$merge3" 1
cmp "$T/ref.npy" "$T/out2.npy" || fail "merge after the re-run differs from the single run"
say "round 2: re-ran index 1 alone (job $rerun), merge $merge3 -> byte-identical to one run, in $(since "$t")"

cd "$repo"
stop_daemons
[ -z "${leftover:-}" ] || fail "processes were left running"
pids=()
ctld_up=""
say "PASS ($N-shard Slurm array + merge, cancel and re-run of one index: byte-identical to one run)"
