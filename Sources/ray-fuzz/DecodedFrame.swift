@testable import RayCluster

/// A frame read as the receiving process reads it (`PeerLink`, the head):
/// a peer message when its kind is one, else a head message.
enum DecodedFrame {
    case head(Message)
    case peer(PeerMessage)

    init(_ frame: Frame) throws(WireError) {
        if PeerMessage.isPeerKind(frame.kind) {
            self = .peer(try PeerMessage(frame))
        } else {
            self = .head(try Message(frame))
        }
    }

    var frame: Frame {
        switch self {
        case .head(let message): message.frame
        case .peer(let message): message.frame
        }
    }

    /// Decodes `frame`; when that succeeds, the message must encode to a
    /// frame that decodes again and encodes to the same bytes. (The input's
    /// own bytes need not come back: varints may be longer than needed,
    /// flags other than 0/1, strings not UTF-8, resources repeated.)
    static func check(_ frame: Frame) {
        guard let message = try? DecodedFrame(frame) else { return }
        let encoded = message.frame
        do {
            let again = try DecodedFrame(encoded).frame
            precondition(again == encoded, "\(message) encodes unstably: \(encoded.payload) then \(again.payload)")
        } catch {
            preconditionFailure("\(message) encodes to a frame that does not decode: \(error)")
        }
    }
}
