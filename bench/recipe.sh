#!/bin/bash
# The Xen manual's recipe for a file-backed guest disk, as a script (benchmark A).
#   usage: bench/recipe.sh IMAGE SOURCE_DIR [FSTYPE]
# Copies SOURCE_DIR's content to the image's root (as the recipe's cp -ax of the root trees does),
# makes /proc /sys /home /tmp, writes fstab and hostname, unmounts and syncs. The trap unmounts on
# any failure; mount -o loop uses an autoclear loop device, so unmounting releases it.
set -euo pipefail
img=$1 src=$2 fs=${3:-ext3}
mnt=$(mktemp -d /tmp/xenvbd-recipe-mnt.XXXXXX)
cleanup() {
  if mountpoint -q "$mnt"; then umount "$mnt" || umount -l "$mnt"; fi
  rmdir "$mnt"
}
trap cleanup EXIT
dd if=/dev/zero of="$img" bs=1k seek=2048k count=1 status=none   # 2 GiB sparse file
mkfs -t "$fs" -F -q "$img"                                        # -F: answers the "not a block device" question
mount -o loop "$img" "$mnt"
cp -ax "$src"/. "$mnt"/
mkdir -p "$mnt"/proc "$mnt"/sys "$mnt"/home "$mnt"/tmp "$mnt"/etc
printf '/dev/sda1 / %s defaults 1 1\n' "$fs" > "$mnt"/etc/fstab
echo vm1 > "$mnt"/etc/hostname
umount "$mnt"                                                     # "this is important!"
sync
