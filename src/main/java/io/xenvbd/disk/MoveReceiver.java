package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * The target side of a move off a draining node: the disk's own image arrives from the old node's
 * agent through the same stream as a cross-node clone's source ({@link TransferReceiver}: holes
 * kept, every window bounded, the digest checked), into a temporary name beside the image. It is
 * then checked read-only (the filesystem must be whole, nothing is repaired) and published
 * atomically with the same owner and filesystem UUID. Nothing of the disk's populate or tailor is
 * applied: a move keeps the bytes. Whatever fails, the temporary file is removed and nothing is
 * published; the old node's image is never touched from here.
 */
final class MoveReceiver {
  private final Formatter formatter;
  private final ImagePaths paths;
  private final Publisher publisher;
  private final ImageBuilder builder;

  MoveReceiver(Formatter formatter, ImagePaths paths, Publisher publisher, ImageBuilder builder) {
    this.formatter = formatter;
    this.paths = paths;
    this.publisher = publisher;
    this.builder = builder;
  }

  /** The caller holds the image's locks and has found no image under the final name. */
  ImageMetadata receive(DiskRequest req, Progress progress, RemoteClone from) {
    Filesystem fs = req.spec().filesystem();
    Path image = paths.image(req.namespace(), req.name());
    paths.privateDirectory(image.getParent());
    Path temp = paths.tempBeside(image);
    try {
      progress.stage("Transfer", 0, 90);
      TransferReceiver.Received got =
          TransferReceiver.receive(
              from.windows(),
              from.ticket(),
              temp,
              req.sizeBytes(),
              fs.name(),
              (stage, done, total, percent) -> progress.bytes(done, total));
      Io.checkInterrupted("checking the moved image");
      progress.stage("Check", 90, 97);
      formatter.check(temp, fs);
      Instant now = Instant.now();
      ImageMetadata meta =
          new ImageMetadata(
              1,
              req.namespace(),
              req.name(),
              req.uid(),
              req.specDigest(),
              fs.name(),
              formatter.uuid(temp, fs),
              got.sizeBytes(),
              now,
              now,
              null,
              null);
      progress.stage("Publish", 97, 100);
      publisher.publish(temp, image, paths.metadata(req.namespace(), req.name()), meta);
      progress.done();
      return meta;
    } catch (RuntimeException e) {
      builder.cleanup(List.of(temp));
      if (e instanceof DiskException de && de.code() == ErrorCode.Interrupted)
        Thread.currentThread().interrupt();
      throw e;
    }
  }
}
