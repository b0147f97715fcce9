import Foundation
import NIOSSL

extension ClusterTLS {
    /// Whether `error` is only the other side closing its socket without a
    /// TLS close: after the hello that is how a process that is done leaves
    /// (a driver that ends, `ray status`), not a refusal worth a log line.
    static func isQuietClose(_ error: Error) -> Bool {
        (error as? NIOSSLError) == .uncleanShutdown
    }

    /// What a TLS error on a connection means, for the log of the side that
    /// refused and the error of the side that was refused; nil for an error
    /// that is not TLS's. BoringSSL's reason is kept in brackets.
    static func describe(_ error: Error) -> String? {
        let text: String
        switch error {
        case let error as NIOSSLError:
            if error == .uncleanShutdown {
                return "TLS: the other side closed the connection without a TLS close (it refused this process's certificate, or does not use TLS)"
            }
            text = "\(error)"
        case let error as BoringSSLError: text = "\(error)"
        case is NIOSSLCloseTimedOutError: return "TLS: the other side did not answer the TLS close in time"
        default: return nil
        }
        // BoringSSL's reason without the source file it names.
        let reason = text.replacingOccurrences(of: #" at /[^\]\)]*"#, with: "", options: .regularExpression)
        return "TLS handshake failed: \(meaning(of: text)) [\(reason)]"
    }

    private static func meaning(of text: String) -> String {
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the other side's certificate is not signed by the cluster's CA (\(caVariable))"
        }
        if ["ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REQUIRED", "ALERT_HANDSHAKE_FAILURE",
            "ALERT_CERTIFICATE_UNKNOWN"].contains(where: text.contains) {
            return "the other side refused this process's certificate (\(certVariable)); it must be signed by the cluster's CA"
        }
        if ["WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "RECORD_TOO_LARGE"].contains(where: text.contains) {
            return "the other side does not speak TLS (set \(useVariable)=1 on every process of the cluster, or on none)"
        }
        return "see the reason"
    }
}
