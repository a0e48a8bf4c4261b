package io.xenvbd.tls;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.X509TrustManager;

/**
 * A chain check against the CAs accepted now: the current CA file's, and during an overlap the
 * replaced one's. A chain passes when one of them accepts it; otherwise the current one's refusal
 * is thrown.
 */
final class RotatingTrust implements X509TrustManager {
  private final Rotating<X509TrustManager> cas;

  RotatingTrust(Rotating<X509TrustManager> cas) {
    this.cas = cas;
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    CertificateException first = null;
    for (X509TrustManager ca : cas.accepted()) {
      try {
        ca.checkServerTrusted(chain, authType);
        return;
      } catch (CertificateException e) {
        if (first == null) first = e;
      }
    }
    throw first;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("this trust manager only checks servers");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    List<X509Certificate> all = new ArrayList<>();
    for (X509TrustManager ca : cas.accepted()) all.addAll(List.of(ca.getAcceptedIssuers()));
    return all.toArray(new X509Certificate[0]);
  }
}
