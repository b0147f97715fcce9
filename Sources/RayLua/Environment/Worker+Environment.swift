import CLua
import CLuaShims
import Foundation
import RayCore

/// A worker puts itself in the code environment of the task it runs (see
/// CodeEnvironment): before the task starts, and again when it resumes (a
/// task of another job may have run meanwhile).
extension Worker {
    /// Applies `task.environment` unless it is the one in place; a problem
    /// (a working directory that cannot be unpacked) fails the task.
    func applyEnvironment(of task: TaskSpec) throws(WorkingDirectory.Problem) {
        let environment = task.environment
        guard environment != appliedEnvironment, let first = environment.blob else { return }
        guard let blob = environmentBlob(first), let parsed = CodeEnvironment.parse(blob) else {
            throw WorkingDirectory.Problem(description: "its code environment did not reach this node")
        }
        let L = ray.state.pointer
        var directory: String?
        if let packID = environment.workingDirectory {
            guard let pack = runtime.functionCode(packID) else {
                throw WorkingDirectory.Problem(description: "its working_dir did not reach this node")
            }
            directory = try WorkingDirectory.materialize(packID, pack, cache: runtime.settings.workingDirectoryCache)
        }
        var path = Array(parsed.path)
        if let directory {
            let own = Array("\(directory)/?.lua;\(directory)/?/init.lua;".utf8)
            if !path.starts(with: own) { path = own + path }
        }
        CodeEnvironment.setPaths(path, parsed.cpath, on: L)
        if parsed.vars.isEmpty {
            lua_pushnil(L)
        } else {
            lua_createtable(L, 0, Int32(parsed.vars.count))
            for (name, value) in parsed.vars {
                lua_pushstring(L, value)
                lua_setfield(L, -2, name)
            }
        }
        clua_set_task_environment(L)
        try changeDirectory(to: directory)
        ray.environment.inherited = RuntimeEnv(envVars: Dictionary(parsed.vars) { $1 })
        ray.environment.inheritedWorkingDir = environment.workingDirectory
        appliedEnvironment = environment
    }

    /// An environment blob, kept here after its first use (no lock per task).
    private func environmentBlob(_ id: UniqueID) -> [UInt8]? {
        if let blob = environmentBlobs[id] { return blob }
        let blob = runtime.functionCode(id)
        environmentBlobs[id] = blob
        return blob
    }

    /// The thread's working directory: `directory`, or the process's own
    /// for work without one. The thread gets a directory of its own first
    /// (chdir would otherwise move every thread of the process).
    private func changeDirectory(to directory: String?) throws(WorkingDirectory.Problem) {
        let wanted = directory ?? runtime.startDirectory
        guard wanted != currentDirectory else { return }
        if !hasOwnDirectory {
            guard clua_private_working_directory() == 0 else {
                throw WorkingDirectory.Problem(description: "this worker thread cannot have a working directory of its own: \(String(cString: strerror(errno)))")
            }
            hasOwnDirectory = true
        }
        guard chdir(wanted) == 0 else {
            throw WorkingDirectory.Problem(description: "cannot enter \(wanted): \(String(cString: strerror(errno)))")
        }
        currentDirectory = wanted
    }
}
