import Foundation
import NIOSSL

/// Mutual TLS between the cluster's processes, as Ray does it:
/// `RAY_USE_TLS=1` with `RAY_TLS_SERVER_CERT`, `RAY_TLS_SERVER_KEY` and
/// `RAY_TLS_CA_CERT` (PEM files). Every connection of a process so
/// configured — head server and clients, peer ports and the links to
/// them, drivers attaching — is TLS; each side presents its certificate
/// and accepts only one signed by the CA. Host names are not checked
/// (`noHostnameVerification`): nodes are addressed by IP and the CA is the
/// cluster's own, so being signed by it is what admits a process. The
/// cluster token is still required inside the TLS connection.
struct ClusterTLS: Sendable {
    /// For connections this process accepts.
    let server: NIOSSLContext
    /// For connections this process dials.
    let client: NIOSSLContext

    static let useVariable = "RAY_USE_TLS"
    static let certVariable = "RAY_TLS_SERVER_CERT"
    static let keyVariable = "RAY_TLS_SERVER_KEY"
    static let caVariable = "RAY_TLS_CA_CERT"

    /// This process's TLS, read from its environment once: nil without
    /// `RAY_USE_TLS`; throws the configuration error (naming the variable
    /// and the file) when it is set and something is missing or unreadable.
    /// Every bootstrap asks for it, so no connection can go without.
    static func configured() throws -> ClusterTLS? {
        try fromProcessEnvironment.get()
    }

    private static let fromProcessEnvironment: Result<ClusterTLS?, any Error> = Result {
        try load(ProcessInfo.processInfo.environment)
    }

    /// The settings in `environment`, loaded (files read, keys parsed).
    static func load(_ environment: [String: String]) throws -> ClusterTLS? {
        switch environment[useVariable]?.lowercased() ?? "" {
        case "", "0", "false", "no": return nil
        case "1", "true", "yes": break
        case let other: throw ClusterError("\(useVariable) must be 1 or 0, got '\(other)'")
        }
        let certPath = try path(certVariable, environment)
        let keyPath = try path(keyVariable, environment)
        let caPath = try path(caVariable, environment)
        let chain = try certificates(certVariable, certPath)
        let roots = try certificates(caVariable, caPath)
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ClusterError("\(keyVariable)=\(keyPath): not a PEM private key (\(error))")
        }
        var server = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key), trustRoots: .certificates(roots))
        server.minimumTLSVersion = .tlsv12
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = chain.map { .certificate($0) }
        client.privateKey = .privateKey(key)
        client.trustRoots = .certificates(roots)
        client.certificateVerification = .noHostnameVerification
        client.minimumTLSVersion = .tlsv12
        do {
            return ClusterTLS(server: try NIOSSLContext(configuration: server), client: try NIOSSLContext(configuration: client))
        } catch {
            throw ClusterError("\(certVariable)=\(certPath) with \(keyVariable)=\(keyPath): cannot make a TLS context (does the key belong to the certificate?): \(error)")
        }
    }

    /// The variable's value, a readable file.
    private static func path(_ variable: String, _ environment: [String: String]) throws -> String {
        guard let path = environment[variable], !path.isEmpty else {
            throw ClusterError("\(useVariable)=1 needs \(variable) (a PEM file); it is not set")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "it cannot be read" : "no such file"
            throw ClusterError("\(variable)=\(path): \(why)")
        }
        return path
    }

    private static func certificates(_ variable: String, _ path: String) throws -> [NIOSSLCertificate] {
        let found = try? NIOSSLCertificate.fromPEMFile(path)
        guard let found, !found.isEmpty else {
            throw ClusterError("\(variable)=\(path): no PEM certificate in it")
        }
        return found
    }
}
