# The one image of xenvbd: `operator` and `agent` are subcommands of the same jar, the node jar
# (target/xenvbd-node.jar: no local mode, embedded Kubernetes API or test CA; see docs/architecture.md).
# Build after `mvn -B package`:   docker build -t ghcr.io/xenvbd/xenvbd:0.1.0 .
# The build context is only target/xenvbd-node.jar (see .dockerignore).
FROM eclipse-temurin:17-jre

# The agent does all disk work with the real tools: mkfs/e2fsck/resize2fs/mke2fs -d (e2fsprogs),
# mkfs.xfs (xfsprogs), losetup/mount/umount/fallocate (util-linux, mount), cp/truncate
# (coreutils), and tar with the compressors an archive source may use; tar and cp run inside a
# bubblewrap sandbox (bwrap) so that a tenant's tree never sees dom0's files.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      e2fsprogs \
      xfsprogs \
      util-linux \
      mount \
      tar \
      gzip \
      bzip2 \
      xz-utils \
      zstd \
      coreutils \
      bubblewrap \
 && rm -rf /var/lib/apt/lists/*

# The operator runs as this user (the chart's operator.runAsUser); the agent's pod runs as root
# and privileged through its securityContext, because loop devices and mounts need it.
RUN groupadd --system --gid 10001 xenvbd \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin xenvbd

COPY target/xenvbd-node.jar /opt/xenvbd/xenvbd.jar

# Size the heap from the container's memory limit, not the node's.
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75.0"
USER 10001:10001
ENTRYPOINT ["java","-jar","/opt/xenvbd/xenvbd.jar"]
CMD ["--help"]
