package io.xenvbd.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A client's check of the servers it reaches, on top of a CA chain check. Being an
 * X509ExtendedTrustManager, the JDK adds no host name check of its own: {@link #check} decides what
 * a certificate must name ({@link #chainOnly}: nothing; the operator's per-node check: the node and
 * its endpoint host).
 */
public abstract class ServerTrust extends X509ExtendedTrustManager {
  protected final X509TrustManager chain;

  protected ServerTrust(X509TrustManager chain) {
    this.chain = chain;
  }

  /** Any certificate {@code chain} accepts, whatever names it carries. */
  public static ServerTrust chainOnly(X509TrustManager chain) {
    return new ServerTrust(chain) {
      @Override
      protected void check(X509Certificate[] certs, String authType) throws CertificateException {
        this.chain.checkServerTrusted(certs, authType);
      }
    };
  }

  /** Throws unless {@code certs} (leaf first) is acceptable. */
  protected abstract void check(X509Certificate[] certs, String authType)
      throws CertificateException;

  /** A client TLS context that trusts exactly what this does. */
  public SSLContext context() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {this}, new SecureRandom());
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot make a TLS context: " + e.getMessage(), e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType)
      throws CertificateException {
    check(certs, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType, Socket socket)
      throws CertificateException {
    check(certs, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType, SSLEngine engine)
      throws CertificateException {
    check(certs, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType)
      throws CertificateException {
    throw new CertificateException("this trust manager only checks servers");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType, Socket socket)
      throws CertificateException {
    checkClientTrusted(certs, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType, SSLEngine engine)
      throws CertificateException {
    checkClientTrusted(certs, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return chain.getAcceptedIssuers();
  }
}
