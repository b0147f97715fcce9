import Testing
@testable import LuaKit
