import NIOCore
import NIOEmbedded
@testable import RayCluster

/// The frame target: `FrameDecoder` in a channel pipeline, as a connection runs it.
///
/// Input: mode (1 byte), chunk size (1 byte), then the bytes that arrive
/// on the connection. The stream is decoded twice, in one read and in reads
/// of `chunk size` bytes (when not 0): both must give the same frames and
/// the same end. Every frame must respect the framing's limits, and is then
/// decoded as its message (`DecodedFrame.check`).
enum FrameTarget {
    /// Which side of the connection decodes (first byte, modulo 3).
    enum Mode: UInt8 {
        /// The side that dialled: the other end is trusted.
        case dialled = 0
        /// An accepted connection whose peer never authenticates.
        case unauthenticated = 1
        /// An accepted connection whose first frame (its `hello`) admits it.
        case admittedByFirstFrame = 2
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2, let mode = Mode(rawValue: input[0] % 3) else { return }
        let stream = Array(input[2...])
        let whole = decode(stream, mode: mode, chunk: stream.count)
        if input[1] != 0 {
            let split = decode(stream, mode: mode, chunk: Int(input[1]))
            precondition(split == whole, "\(input[1])-byte reads give \(split), one read gives \(whole)")
        }
        for frame in whole.frames {
            check(frame, mode: mode)
            DecodedFrame.check(frame)
        }
    }

    /// An input for `run`: `frames` as they arrive, in reads of `chunk` bytes.
    static func input(_ frames: [Frame], mode: Mode, chunk: UInt8 = 0) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { frame.write(to: &buffer) }
        return [mode.rawValue, chunk] + buffer.readableBytesView
    }

    /// What a connection made of its bytes.
    struct Outcome: Equatable, CustomStringConvertible {
        var frames: [Frame] = []
        /// Why the connection was closed, if it was.
        var error: String?

        var description: String { "\(frames.map { "\($0.kind):\($0.payload.count)/\($0.bulk?.readableBytes ?? 0)" }) \(error ?? "no error")" }
    }

    /// Runs a fresh `FrameDecoder` over `stream` as `ByteToMessageHandler`
    /// does (append what arrived, decode while it makes progress), handing
    /// frames to `Collector`. Driving it directly instead of through a new
    /// channel per input is a hundred times faster.
    private static func decode(_ stream: [UInt8], mode: Mode, chunk: Int) -> Outcome {
        let admission: Admission? = mode == .dialled ? nil : Admission()
        let pipeline = Pipeline.shared
        pipeline.collector.start(admitting: mode == .admittedByFirstFrame ? admission : nil)
        var decoder = FrameDecoder(admission: admission)
        var buffer = ByteBuffer()
        var outcome = Outcome()
        do {
            var start = 0
            while start < stream.count {
                let end = min(stream.count, start + max(chunk, 1))
                buffer.writeBytes(stream[start..<end])
                start = end
                while buffer.readableBytes > 0, try decoder.decode(context: pipeline.context, buffer: &buffer) == .continue {}
            }
            if buffer.readableBytes > 0 { outcome.error = "\(buffer.readableBytes) bytes left over" }
        } catch {
            outcome.error = (error as? FrameError)?.description ?? String(reflecting: error)
        }
        outcome.frames = pipeline.collector.frames
        return outcome
    }

    /// The framing's promises about the frames it hands on.
    private static func check(_ frame: Frame, mode: Mode) {
        precondition(frame.kind != Frame.partKind, "a part frame was handed on")
        if let bulk = frame.bulk {
            precondition(frame.kind == PeerMessage.Kind.object.rawValue && frame.payload.isEmpty
                         && bulk.readableBytes >= Frame.bulkThreshold, "bulk frame of kind \(frame.kind)")
        }
        let size = frame.payload.count + (frame.bulk?.readableBytes ?? 0)
        precondition(size <= (mode == .unauthenticated ? Frame.maxFirstPayload : Frame.maxMessage),
                     "a frame of \(size) bytes passed in mode \(mode)")
    }
}

/// A channel whose first handler lends its context to the decoder, so
/// that the frames it fires reach `collector`. One for the whole run.
private final class Pipeline {
    static nonisolated(unsafe) let shared = Pipeline()
    let channel = EmbeddedChannel()
    let collector = Collector()
    let context: ChannelHandlerContext

    init() {
        let lender = Lender()
        try! channel.pipeline.syncOperations.addHandler(lender)
        try! channel.pipeline.syncOperations.addHandler(collector)
        context = try! channel.pipeline.syncOperations.context(handler: lender)
    }
}

private final class Lender: ChannelInboundHandler {
    typealias InboundIn = Frame
}

/// Keeps the frames the decoder hands on; admits the peer at the first one
/// when given the connection's `Admission` (as `PeerLink` does on a good `hello`).
private final class Collector: ChannelInboundHandler {
    typealias InboundIn = Frame
    private var admission: Admission?
    private(set) var frames: [Frame] = []

    func start(admitting admission: Admission?) {
        self.admission = admission
        frames = []
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.append(unwrapInboundIn(data))
        admission?.authenticated = true
    }
}
