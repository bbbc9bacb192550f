#!/usr/bin/env bash
# CI step: the README's two commands, exactly as README.md writes them, in a clean clone on a
# fresh minimal Debian 12 (debootstrap --variant=minbase bookworm, then chroot). A CI machine
# that already has a package installed hides its absence from tools/setup.sh; a new user's
# machine does not, so this step starts from nothing but git and ca-certificates.
#
#   usage: tools/fresh_machine.sh [--keep] [--root DIR] [--logs DIR]
#     --root DIR  build the Debian root in DIR (new or empty; default: a temporary directory)
#     --keep      leave the root behind for inspection (it is a few GB; default: deleted)
#     --logs DIR  where each phase's log goes (default: build-fresh/ in this checkout)
#
# Needs root (debootstrap, chroot, mounts) and the network (the machine's own apt mirror).
# Everything that mounts or runs inside the root does so in private mount and PID namespaces:
# when the step ends, however it ends, the kernel drops its mounts and kills whatever it left
# running, so no mount outlives it and the root can be deleted safely.
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
clone_dir=/root/loom # where the clone lives inside the root, as a user's home checkout would

fail() {
  echo "fresh machine: $*" >&2
  exit 1
}

# Reads a README on stdin and prints "1<TAB>command" and "2<TAB>command": the first non-comment
# line after the "# 1." and "# 2." comments of its first ```sh block. Fails, naming the file
# (NAME), unless it finds exactly both.
readme_commands() {
  local name=$1 found number
  # awk reads to the end rather than exiting at the block's end: a writer into a pipe (git show)
  # would otherwise die of SIGPIPE once the README outgrows the pipe's buffer, failing the step.
  found=$(awk '
    !opened && /^```sh[[:space:]]*$/ { opened = 1; inside = 1; next }
    inside && /^```/ { inside = 0; next }
    inside && /^# 1\./ { wanted = 1; next }
    inside && /^# 2\./ { wanted = 2; next }
    inside && wanted && NF && !/^[[:space:]]*#/ { print wanted "\t" $0; wanted = 0 }
  ')
  for number in 1 2; do
    [ "$(grep -c "^$number	" <<<"$found")" -eq 1 ] ||
      fail "$name: expected one command after '# $number.' in the first \`\`\`sh block, found none or several"
  done
  printf '%s\n' "$found"
}

# The first mirror this machine's apt uses (deb822 sources first, then the one-line format).
apt_mirror() {
  local mirror=""
  [ -r /etc/apt/sources.list.d/debian.sources ] &&
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  [ -n "$mirror" ] || [ ! -r /etc/apt/sources.list ] ||
    mirror=$(awk '/^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list)
  [ -n "$mirror" ] || fail "no apt mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  echo "$mirror"
}

# Runs one phase with its output in LOGS/NAME.log; prints how long it took, or on failure the
# end of the log and which phase failed.
phase() {
  local name=$1 description=$2
  shift 2
  local log=$LOGS/$name.log start=$SECONDS status=0
  echo "fresh machine: $description ..." >&2
  "$@" </dev/null >"$log" 2>&1 || status=$? # stdin: nothing to read, as in CI
  if [ "$status" -ne 0 ]; then
    echo "fresh machine: --- last 40 lines of $log ---" >&2
    tail -n 40 "$log" >&2
    fail "$description FAILED (exit $status after $((SECONDS - start)) s; full log: $log)"
  fi
  echo "fresh machine: $description: ok ($((SECONDS - start)) s)" >&2
}

# Inside the root, as a new user's root shell: nothing from this machine's environment, no
# locale (minbase has none, and nothing may depend on one).
in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -lc "$1"
}

create_root() {
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
  # The machine's full apt sources (updates, security), as an installed system has them.
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$ROOT/etc/apt/sources.list.d/"
    rm -f "$ROOT/etc/apt/sources.list"
  elif [ -r /etc/apt/sources.list ]; then
    cp /etc/apt/sources.list "$ROOT/etc/apt/sources.list"
  fi
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

# What a new user has before cloning: git to clone with, certificates to clone over https.
install_base() {
  in_root 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git ca-certificates'
}

# The file systems a booted Debian 12 has and the tests use: /proc, /sys (hwloc and oneDNN read
# the CPU topology), /dev with /dev/pts, its own /dev/shm (Open MPI's shared memory) and /run.
mount_system() {
  mount -t proc proc "$ROOT/proc"
  mount --rbind /sys "$ROOT/sys"
  mount --bind /dev "$ROOT/dev"
  mount --bind /dev/pts "$ROOT/dev/pts"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/dev/shm"
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$ROOT/run"
}

# The CI's clean clone of the current checkout's HEAD (not its working tree), made by the root's
# own git from a bundle, as a user clones.
clone_project() {
  git -C "$project" bundle create "$ROOT/tmp/loom.bundle" HEAD
  in_root "git -c advice.detachedHead=false clone -q /tmp/loom.bundle $clone_dir && rm /tmp/loom.bundle"
}

run_readme_command() {
  in_root "cd $clone_dir && $1"
}

# Everything that touches the root, run inside the private namespaces (see the top).
inner() {
  # The namespaces drop these mounts when the step ends anyway; unmounting here as well keeps
  # a namespace held open by a lingering process from keeping them.
  trap 'umount -R "$ROOT/run" "$ROOT/dev/shm" "$ROOT/dev/pts" "$ROOT/dev" "$ROOT/sys" "$ROOT/proc" 2>/dev/null || true' EXIT
  phase debootstrap "debootstrap --variant=minbase bookworm from $MIRROR" create_root
  mount_system
  phase base "installing git and ca-certificates" install_base
  phase clone "cloning $(git -C "$project" rev-parse --short HEAD)" clone_project
  # The commands of the README that was cloned, so the step runs what that commit says.
  local commands number command
  commands=$(readme_commands README.md <"$ROOT$clone_dir/README.md")
  while IFS=$'\t' read -r number command; do
    phase "readme-$number" "README command $number: $command" run_readme_command "$command"
  done <<<"$commands"
  # What the user would have seen: the last epoch of the first command, and the whole test
  # report of the second (on stdout: CI's record of which tests ran and how long each took).
  grep -h -E '^Epoch [0-9]+/[0-9]+ ' "$LOGS/readme-1.log" | tail -n 1 >&2 || true
  sed -n '/^Test project/,$p' "$LOGS/readme-2.log"
}

# Deletes the root unless asked to keep it; refuses when anything is still mounted inside it (a
# recursive delete would walk into /dev or /sys through a bind mount).
remove_root() {
  if [ "$KEEP" = true ]; then
    echo "fresh machine: keeping the root $ROOT" >&2
    return
  fi
  if findmnt -rn -o TARGET | grep -F "$ROOT/" >/dev/null; then
    echo "fresh machine: not deleting $ROOT: something is still mounted inside it" >&2
    return 1
  fi
  rm -rf --one-file-system "$ROOT"
}

main() {
  KEEP=false LOGS=$project/build-fresh ROOT=""
  while [ $# -gt 0 ]; do
    case $1 in
      --keep) KEEP=true ;;
      --root) ROOT=${2:?--root needs a directory}; shift ;;
      --logs) LOGS=${2:?--logs needs a directory}; shift ;;
      *) fail "unknown argument '$1' (usage: tools/fresh_machine.sh [--keep] [--root DIR] [--logs DIR])" ;;
    esac
    shift
  done
  [ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot and mounts); CI runs as root"
  # Fails now, not after minutes of debootstrap, when the README to be cloned has changed shape.
  git -C "$project" show HEAD:README.md | readme_commands "README.md at HEAD" >/dev/null
  command -v debootstrap >/dev/null || {
    echo "fresh machine: installing debootstrap on this machine" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  if [ -z "$ROOT" ]; then
    ROOT=$(mktemp -d /var/tmp/loom-fresh.XXXXXX) # on disk: /tmp may be a tmpfs in memory
  else
    mkdir -p "$ROOT"
    [ -z "$(ls -A "$ROOT")" ] || fail "--root $ROOT is not empty"
    ROOT=$(cd "$ROOT" && pwd)
  fi
  mkdir -p "$LOGS"
  LOGS=$(cd "$LOGS" && pwd)
  MIRROR=$(apt_mirror)
  export KEEP LOGS ROOT MIRROR

  # When this script is stopped (a CI timeout, ^C), the namespace ends: unshare ignores SIGTERM
  # while its child runs, so it gets SIGKILL, and --kill-child passes that on to the child, whose
  # end as the namespace's first process kills everything else inside. The script goes on to
  # delete the root and fail.
  local child status=0
  unshare --mount --pid --fork --kill-child --propagation private -- "$project/tools/fresh_machine.sh" --inner &
  child=$!
  trap 'kill -KILL "$child" 2>/dev/null || true' INT TERM
  wait "$child" || status=$?
  wait "$child" 2>/dev/null || true # after a signal, the first wait returned before unshare ended
  trap - INT TERM
  [ "$status" -le 128 ] || echo "fresh machine: stopped by signal $((status - 128)); deleting the root" >&2
  remove_root || status=1
  [ "$status" -eq 0 ] && echo "fresh machine: both README commands work on a fresh Debian 12 ($((SECONDS)) s)" >&2
  return "$status"
}

if [ "${1:-}" = --inner ]; then
  inner
else
  main "$@"
fi
