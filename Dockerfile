# The one image of xenvbd: `operator` and `agent` are subcommands of the same jar, the node jar
# (target/xenvbd-node.jar: no local mode, embedded Kubernetes API or test CA; see docs/architecture.md).
# Build after `mvn -B package`:   docker build -t ghcr.io/xenvbd/xenvbd:0.1.0 .
# The build context is only the node jar, target/xenvbd-node.jar (see .dockerignore). Without a registry, container/build-image.sh
# builds this file with podman on a local Debian base (BASE_IMAGE) instead; see docs/helm.md.
# BASE_IMAGE: any Debian or Ubuntu image with a Java 17 runtime whose `java` is on PATH.
ARG BASE_IMAGE=eclipse-temurin:17-jre
FROM ${BASE_IMAGE}

# The agent does all disk work with the real tools: mke2fs/e2fsck/resize2fs/tune2fs/dumpe2fs
# (e2fsprogs), mkfs.xfs/xfs_repair/xfs_growfs/xfs_admin (xfsprogs), losetup/mount/umount (mount),
# blkid/fallocate (util-linux), cp/rm/du/stat/sync/chmod/head (coreutils), and tar with the
# compressors an archive source may use; tar, cp and the filesystem checks run inside a bubblewrap
# sandbox (bwrap) so that a tenant's tree never sees dom0's files. ContainerImageIT checks each is here.
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

# The node jar Maven builds (operator and agent, no local mode), relative to the build context.
ARG JAR=target/xenvbd-node.jar
COPY ${JAR} /opt/xenvbd/xenvbd.jar

# The operator's management port (/healthz, /readyz, /metrics) and the agent's HTTPS port, as the
# chart's defaults (operator.managementPort, agent.port) set them.
EXPOSE 8080 8443

# Size the heap from the container's memory limit, not the node's.
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75.0"
USER 10001:10001
ENTRYPOINT ["java","-jar","/opt/xenvbd/xenvbd.jar"]
CMD ["--help"]
