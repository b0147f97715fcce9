// lua-ship: runs a Lua script in one state, ships the values it returns —
// functions included — through the codec to a fresh state on another thread,
// and calls the first one there with the rest as arguments.
//
//   swift run lua-ship examples/ship.lua
//
// A demonstration of the codec until the `ray` command arrives.
import Foundation
import LuaCodec
import LuaKit

@MainActor func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

guard CommandLine.arguments.count == 2 else { fail("usage: lua-ship SCRIPT.lua") }
let path = CommandLine.arguments[1]
guard let source = try? String(contentsOfFile: path, encoding: .utf8) else { fail("lua-ship: cannot read \(path)") }

// Sender: run the script, encode what it returns.
let message: [UInt8]
do {
    let sender = LuaState()
    let codec = try LuaCodec(state: sender)
    let count = try sender.run(source, chunkName: "@" + path)
    message = try codec.encode(valuesAt: sender.top - count + 1, count: count, label: "return value")
    print("encoded \(count) values in \(message.count) bytes")
} catch {
    fail("lua-ship: \(error)")
}

// Receiver: a new state on its own thread decodes the message and calls it.
let done = DispatchSemaphore(value: 0)
let outcome = Mutex<Result<String, any Error>>(.success(""))
let receiverThread = Thread {
    let result = Result { () throws -> String in
        let receiver = LuaState()
        let codec = try LuaCodec(state: receiver)
        let count = try codec.decode(message)
        guard count >= 1, receiver.type(at: 1) == .function else { return "the first value is not a function" }
        try receiver.call(arguments: count - 1)
        return (0..<receiver.top).map { receiver.describe(at: $0 + 1) }.joined(separator: "\t")
    }
    outcome.withLock { $0 = result }
    done.signal()
}
receiverThread.stackSize = 8 << 20
receiverThread.start()
done.wait()
switch outcome.withLock({ $0 }) {
case .success(let text): print("called on another thread's state:", text)
case .failure(let error): fail("lua-ship: \(error)")
}

import Synchronization
