import CEditline
import CLineEdit
import Foundation

/// Line editing, history and Tab completion for the REPL, through libedit
/// (BSD editline, in Debian as libedit-dev; its readline-compatible API).
/// libedit rather than GNU readline: its BSD licence keeps the `ray` binary
/// free of the GPL, and it is what the Swift toolchain's own REPL uses.
///
/// libedit keeps global state, so there is one editor per process, used from
/// the thread that created it (the driver's).
final class LineEditor {
    private let historyFile: String?

    /// Reads history from `historyFile` (created on `save` if missing).
    init(historyFile: String?, complete: @escaping (String) -> [String]) {
        self.historyFile = historyFile
        completionSource = complete
        // Before anything that initializes libedit (using_history does):
        // its signal handling is fixed at initialization.
        cel_setup(UnsafePointer(strdup("ray")), completeWord)
        using_history()
        stifle_history(1000)
        if let historyFile { _ = read_history(historyFile) }
    }

    /// What reading a line gave.
    enum Input {
        case line(String)
        case endOfInput  // Ctrl-D
        case interrupted  // Ctrl-C
    }

    func read(prompt: String) -> Input {
        var line: UnsafeMutablePointer<CChar>?
        switch cel_read_line(prompt, &line) {
        case -1: return .interrupted
        case 1:
            defer { free(line) }
            return .line(line.map { String(cString: $0) } ?? "")
        default: return .endOfInput
        }
    }

    /// Adds an entry (a whole chunk, for multi-line input) to the history.
    func remember(_ entry: String) {
        _ = add_history(entry)
    }

    /// Writes the history file.
    func save() {
        if let historyFile { _ = write_history(historyFile) }
    }
}

/// What Tab completes against; set by the one LineEditor.
nonisolated(unsafe) private var completionSource: ((String) -> [String])?

/// readline's completion callback: a malloc'd, NULL-terminated array whose
/// first entry replaces the word typed (the candidates' common prefix) and
/// whose others are listed when there are several.
private let completeWord: @convention(c) (UnsafePointer<CChar>?, Int32, Int32)
    -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = { text, _, _ in
    cel_completing()
    guard let text, let candidates = completionSource?(String(cString: text)), !candidates.isEmpty else { return nil }
    var common = candidates[0]
    for candidate in candidates.dropFirst() {
        while !candidate.hasPrefix(common) { common.removeLast() }
    }
    // malloc, not Swift's allocator: libedit frees the list with free().
    let list = malloc(MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * (candidates.count + 2))!
        .bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: candidates.count + 2)
    list[0] = strdup(common)
    for (i, candidate) in candidates.enumerated() { list[i + 1] = strdup(candidate) }
    list[candidates.count + 1] = nil
    return list
}
