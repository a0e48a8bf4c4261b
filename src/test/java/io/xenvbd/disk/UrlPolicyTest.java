package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Which URLs an allowed prefix covers, and which addresses are never fetched from. */
class UrlPolicyTest {
  static final UrlPolicy MIRROR =
      new UrlPolicy(List.of("https://a.example/x/", "http://b.example:8080/img"), List.of());

  static boolean allowed(String url) throws ArchiveUrl.Malformed {
    return MIRROR.allows(ArchiveUrl.normalise(url));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "https://a.example/x/root.tar",
        "HTTPS://A.Example/x/root.tar",
        "https://a.example:443/x/sub/r.tar",
        "https://a.example/x/./root.tar",
        "https://a.example/x/y/../root.tar",
        "https://a.example/x/r.tar?sig=1#part",
        "http://b.example:8080/img",
        "http://b.example:8080/img/r.tar"
      })
  void urlsUnderAnAllowedPrefixAreAllowed(String url) throws Exception {
    assertThat(allowed(url)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "https://a.example/x/../y/root.tar",
        "https://a.example.evil/x/root.tar",
        "https://evil.example/x/",
        "http://a.example/x/root.tar",
        "https://a.example:8443/x/root.tar",
        "https://a.example/x",
        "https://a.example/X/root.tar",
        "http://b.example:8080/img.tar",
        "http://b.example:8080/imgs/r.tar",
        "http://b.example/img/r.tar",
        "https://b.example:8080/img/r.tar"
      })
  void urlsOutsideEveryPrefixAreNot(String url) throws Exception {
    assertThat(allowed(url)).isFalse();
  }

  @Test
  void userInfoAndHiddenDotSegmentsAreNeverAUrlToFetch() {
    for (String url :
        List.of(
            "https://a.example@evil.example/x/r.tar",
            "https://u:p@a.example/x/r.tar",
            "https://a.example/x/%2E%2E/y/r.tar",
            "https://a.example/x/..%2fy/r.tar",
            "https://a.example/x/..;/y/r.tar")) {
      assertThatThrownBy(() -> ArchiveUrl.normalise(url))
          .as(url)
          .isInstanceOf(ArchiveUrl.Malformed.class);
    }
  }

  @Test
  void aBadPrefixOrHostIsRefusedAtStartNamingItsFlag() {
    assertThatThrownBy(() -> new UrlPolicy(List.of("mirror.example/images"), List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--allow-url 'mirror.example/images'");
    assertThatThrownBy(() -> new UrlPolicy(List.of("https://a.example/x/?q=1"), List.of()))
        .hasMessageContaining("--allow-url")
        .hasMessageContaining("query");
    assertThatThrownBy(() -> new UrlPolicy(List.of("https://user@a.example/"), List.of()))
        .hasMessageContaining("user name");
    assertThatThrownBy(() -> new UrlPolicy(List.of(), List.of("http://mirror.internal/")))
        .hasMessageContaining("--allow-private-host");
    assertThat(
            new UrlPolicy(
                List.of("HTTPS://Mirror.Example:443/Images/"), List.of("Mirror.Internal", "[::1]")))
        .isEqualTo(
            new UrlPolicy(
                List.of("https://mirror.example/Images/"), List.of("mirror.internal", "::1")));
  }

  @ParameterizedTest
  @CsvSource({
    "127.0.0.1, loopback",
    "127.255.0.9, loopback",
    "10.1.2.3, private",
    "172.16.0.1, private",
    "172.31.255.255, private",
    "192.168.1.1, private",
    "169.254.169.254, link-local",
    "100.64.0.1, shared CGNAT",
    "100.127.255.255, shared CGNAT",
    "0.0.0.0, unspecified",
    "224.0.0.1, multicast",
    "255.255.255.255, broadcast",
    "::, unspecified",
    "::1, loopback",
    "fe80::1, link-local",
    "fc00::1, private",
    "fd12:3456::1, private",
    "ff02::1, multicast",
    "::ffff:127.0.0.1, loopback",
    "::ffff:10.0.0.1, private",
    "64:ff9b::a9fe:a9fe, NAT64 link-local",
    "2002:7f00:1::, 6to4 loopback",
    "64:ff9b:1::a00:5, local-use NAT64",
    "64:ff9b:1:ffff::1, local-use NAT64",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2, Teredo",
    "100::1, discard-only",
    "192.88.99.1, 6to4 relay anycast",
    "::7f00:1, IPv4-compatible"
  })
  void nonPublicAddressesAreNamed(String address, String kind) throws UnknownHostException {
    assertThat(NonPublicAddress.kind(InetAddress.getByName(address))).startsWith(kind);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "192.169.0.1",
        "2001:4860:4860::8888",
        "2001:db8:1::1",
        "64:ff9b:2::1",
        "::ffff:1.1.1.1"
      })
  void publicAddressesAreNot(String address) throws UnknownHostException {
    assertThat(NonPublicAddress.kind(InetAddress.getByName(address))).isNull();
  }

  @Test
  void aPrivateHostIsMatchedAsWrittenInTheUrl() throws Exception {
    UrlPolicy p = new UrlPolicy(List.of(), List.of("mirror.internal", "::1"));
    assertThat(p.allowsPrivateHost(ArchiveUrl.normalise("http://MIRROR.internal/r.tar"))).isTrue();
    assertThat(p.allowsPrivateHost(ArchiveUrl.normalise("http://[::1]:8080/r.tar"))).isTrue();
    assertThat(p.allowsPrivateHost(ArchiveUrl.normalise("http://mirror.internal.evil/r.tar")))
        .isFalse();
    assertThat(p.allowsPrivateHost(URI.create("http://127.0.0.1/"))).isFalse();
  }
}
