#!/usr/bin/env bash
# A multi-host test bed on one machine: N hosts as network namespaces on a
# bridge, each with its own address, its own sshd (private config, generated
# host key), a test user with a plain shell, per-host bandwidth limits with
# tc (tbf) and one-way latency between hosts emulated in user space:
# tc netem is not in this kernel, so an iptables NFQUEUE rule hands every
# packet a host receives from another host to hare-netdelay, which holds it
# for DELAY_MS (tests/testbed/netdelay.cpp). Traffic to and from the controlling
# machine (10.77.0.1: ssh, hare-deploy) is not delayed.
#
#   testbed.sh up DIR N [RATE_MBIT [DELAY_MS]]   create hosts h1..hN (10.77.0.11..), state in DIR
#   testbed.sh down DIR                          remove everything `up` created (idempotent)
#
# hare-netdelay is taken from $HARE_NETDELAY, else build/bin/hare-netdelay.
# $HARE_TESTBED_HOSTS overrides rate and delay per host, e.g. "h3:10:40"
# (a host behind a WAN): a pair's bandwidth is the smaller of its two
# hosts' rates, its one-way latency the larger of their delays.
# DIR receives: id_ed25519 (client key), known_hosts, hosts (name address),
# ssh_config, and per host its sshd config, host key and pid. Needs root.
# `up` tears down what it made if any step fails.
set -euo pipefail

BRIDGE=harebr0
PREFIX=10.77.0
USER_NAME=haretest

down() {
  local dir=$1
  if [[ -f $dir/hosts ]]; then
    while read -r name _; do
      [[ -f $dir/$name/sshd.pid ]] && kill "$(cat "$dir/$name/sshd.pid")" 2>/dev/null || true
      # Everything still running in the host (nodes, workers, probes) goes with it.
      ip netns pids "hare-$name" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "hare-$name" 2>/dev/null || true
      ip link del "hare-$name" 2>/dev/null || true
    done < "$dir/hosts"
  fi
  ip link del "$BRIDGE" 2>/dev/null || true
  # Any sshd of this test bed whose pid file is gone (or whose namespace was
  # deleted under it) would keep a stale namespace alive: end them too.
  pkill -f "sshd -f $dir/h[0-9]*/sshd_config" 2>/dev/null || true
  rm -f "$dir/hosts"
}

up() {
  local dir=$1 count=$2 default_rate=${3:-} default_delay=${4:-}
  local netdelay=${HARE_NETDELAY:-$(dirname "$0")/../../build/bin/hare-netdelay}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  trap 'echo "testbed: setup failed; tearing down" >&2; down "$dir"' ERR
  [[ $(id -u) -eq 0 ]] || { echo "testbed: needs root" >&2; exit 2; }
  # Per host: rate and delay (defaults, then $HARE_TESTBED_HOSTS).
  declare -A host_rate host_delay
  for i in $(seq 1 "$count"); do host_rate[h$i]=$default_rate; host_delay[h$i]=$default_delay; done
  for entry in ${HARE_TESTBED_HOSTS:-}; do
    IFS=: read -r h r d <<<"$entry"
    [[ -n ${host_rate[$h]+x} ]] || { echo "testbed: HARE_TESTBED_HOSTS names $h, which is not one of h1..h$count" >&2; exit 2; }
    host_rate[$h]=$r
    host_delay[$h]=$d
  done
  local any_delay=
  for h in "${!host_delay[@]}"; do [[ -n ${host_delay[$h]} ]] && any_delay=1; done
  if [[ -n $any_delay ]]; then
    [[ -x $netdelay ]] || { echo "testbed: $netdelay is missing (build hare, or set HARE_NETDELAY)" >&2; exit 2; }
    command -v iptables >/dev/null || { echo "testbed: install iptables (scripts/setup.sh does)" >&2; exit 2; }
  fi
  command -v sshd >/dev/null || [[ -x /usr/sbin/sshd ]] || { echo "testbed: install openssh-server" >&2; exit 2; }
  mkdir -p /run/sshd
  # A test bed left over by a crashed run (any state dir) would answer on
  # our addresses from a stale namespace: end its sshd first.
  pkill -f "sshd -f /.*/h[0-9]*/sshd_config" 2>/dev/null || true
  id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$USER_NAME"
  # A locked account ("!" password) is refused by sshd without PAM; "*" is
  # "no password" without being locked.
  usermod -p "*" "$USER_NAME"
  local home
  home=$(getent passwd "$USER_NAME" | cut -d: -f6)

  [[ -f $dir/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N "" -f "$dir/id_ed25519"
  install -d -m 700 -o "$USER_NAME" "$home/.ssh"
  install -m 600 -o "$USER_NAME" "$dir/id_ed25519.pub" "$home/.ssh/authorized_keys"

  ip link add "$BRIDGE" type bridge 2>/dev/null || true
  ip addr replace "$PREFIX.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  : > "$dir/known_hosts"
  : > "$dir/hosts.tmp"
  : > "$dir/ssh_config"
  for i in $(seq 1 "$count"); do
    local name="h$i" address="$PREFIX.$((10 + i))"
    local ns="hare-$name"
    mkdir -p "$dir/$name"
    ip netns del "$ns" 2>/dev/null || true
    ip link del "hare-$name" 2>/dev/null || true
    ip netns add "$ns"
    ip link add "hare-$name" type veth peer name eth0 netns "$ns"
    ip link set "hare-$name" master "$BRIDGE" up
    ip -n "$ns" addr add "$address/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    local rate=${host_rate[$name]} delay=${host_delay[$name]}
    if [[ -n $rate ]]; then
      # Traffic to the host and from it: one tbf each way.
      tc qdisc add dev "hare-$name" root tbf rate "${rate}mbit" burst 32kbit latency 400ms
      tc -n "$ns" qdisc add dev eth0 root tbf rate "${rate}mbit" burst 32kbit latency 400ms
    fi
    if [[ -n $any_delay ]]; then
      # Packets from a host with a longer delay than this one's wait that long.
      local from=()
      for j in $(seq 1 "$count"); do
        local other_delay=${host_delay[h$j]:-0}
        if [[ h$j != "$name" ]] && awk -v a="$other_delay" -v b="${delay:-0}" 'BEGIN { exit !(a > b) }'; then
          from+=(--from "$PREFIX.$((10 + j))=$other_delay")
        fi
      done
      ip netns exec "$ns" setsid "$netdelay" --queue 0 --delay "${delay:-0}" "${from[@]}" </dev/null >"$dir/$name/netdelay.log" 2>&1 &
      # Bound before the rule exists: a rule without a listener drops packets.
      for _ in $(seq 1 50); do
        ip netns exec "$ns" grep -q . /proc/net/netfilter/nfnetlink_queue 2>/dev/null && break
        sleep 0.05
      done
      ip netns exec "$ns" grep -q . /proc/net/netfilter/nfnetlink_queue || { cat "$dir/$name/netdelay.log" >&2; false; }
      # On arrival, not on departure: a packet held on the way out still
      # belongs to its socket, and TCP small queues would then throttle the
      # sender to a few packets per round trip.
      ip netns exec "$ns" iptables -w -t mangle -A PREROUTING -i eth0 -s "$PREFIX.1" -j RETURN
      ip netns exec "$ns" iptables -w -t mangle -A PREROUTING -i eth0 -s "$PREFIX.0/24" -j NFQUEUE --queue-num 0
    fi
    [[ -f $dir/$name/host_key ]] || ssh-keygen -q -t ed25519 -N "" -f "$dir/$name/host_key"
    cat > "$dir/$name/sshd_config" <<CONF
ListenAddress $address
Port 22
HostKey $dir/$name/host_key
PidFile $dir/$name/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
AllowUsers $USER_NAME
Subsystem sftp internal-sftp
CONF
    ip netns exec "$ns" /usr/sbin/sshd -f "$dir/$name/sshd_config"
    echo "$address $(cut -d' ' -f1,2 "$dir/$name/host_key.pub")" >> "$dir/known_hosts"
    echo "$name $address" >> "$dir/hosts.tmp"
    cat >> "$dir/ssh_config" <<CONF
Host $name
  HostName $address
  User $USER_NAME
  IdentityFile $dir/id_ed25519
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
CONF
  done
  # The same settings by address, for tools that connect to 10.77.0.x directly.
  cat >> "$dir/ssh_config" <<CONF
Host $PREFIX.*
  User $USER_NAME
  IdentityFile $dir/id_ed25519
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
CONF
  mv "$dir/hosts.tmp" "$dir/hosts"
  # Wait until every sshd accepts connections.
  while read -r name address; do
    for _ in $(seq 1 50); do
      if ssh -F "$dir/ssh_config" -o ConnectTimeout=1 -o BatchMode=yes "$name" true 2>/dev/null; then break; fi
      sleep 0.1
    done
  done < "$dir/hosts"
  trap - ERR
  echo "testbed: $count host(s) up: $(cut -d' ' -f1 "$dir/hosts" | tr '\n' ' ')(state in $dir)" >&2
}

case ${1:-} in
  up) up "${2:?state dir}" "${3:?host count}" "${4:-}" "${5:-}" ;;
  down) down "${2:?state dir}" ;;
  *) echo "usage: testbed.sh up DIR N [RATE_MBIT [DELAY_MS]] | down DIR" >&2; exit 2 ;;
esac
