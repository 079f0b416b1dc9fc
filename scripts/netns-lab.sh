# A small network of namespaces for ferry's distributed test and benchmark: two load hosts
# and one target on a bridge, all made (and removed) by the caller. Needs root and iproute2;
# `netns_lab_cut` needs nftables. Source it: . scripts/netns-lab.sh
#
#   NAME-target  10.231.0.1  (bridge br0; the server listens here)
#   NAME-h1      10.231.0.2  (veth eth0, its peer h1 on the bridge)
#   NAME-h2      10.231.0.3  (veth eth0, its peer h2 on the bridge)
#
# The addresses exist only inside these namespaces, so traffic never leaves the machine and
# two labs with different names do not see each other.

NETNS_LAB_TARGET=10.231.0.1

# Makes the namespaces and links of lab $1.
netns_lab_up() {
  local name=$1 ns host address=2
  for ns in target h1 h2; do
    ip netns add "$name-$ns"
    ip -n "$name-$ns" link set lo up
  done
  ip -n "$name-target" link add br0 type bridge
  ip -n "$name-target" addr add "$NETNS_LAB_TARGET/24" dev br0
  ip -n "$name-target" link set br0 up
  for host in h1 h2; do
    # Both ends are made inside their namespaces, so no name is taken outside them.
    ip link add eth0 netns "$name-$host" type veth peer name "$host" netns "$name-target"
    ip -n "$name-target" link set "$host" master br0 up
    ip -n "$name-$host" addr add "10.231.0.$address/24" dev eth0
    ip -n "$name-$host" link set eth0 up
    address=$((address + 1))
  done
}

# Removes lab $1 (its links go with its namespaces).
netns_lab_down() {
  local ns
  for ns in target h1 h2; do ip netns del "$1-$ns" 2>/dev/null || true; done
}

# Cuts host $2 of lab $1 off the target: its packets to it are dropped from now on.
netns_lab_cut() {
  ip netns exec "$1-$2" nft -f - <<RULES
table inet ferry_cut {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr $NETNS_LAB_TARGET drop
  }
}
RULES
}
