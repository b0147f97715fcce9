import CLua
import CLuaShims
import CRaySupport
import Testing
import LuaKit

/// The large-block cache (CRaySupport's blocks.c) and the allocator (clua_alloc.c) every LuaState uses.
/// One serialized suite: the cache is process-wide.
@Suite("Large blocks: cached mappings and the Lua allocator", .serialized)
struct LargeBlockTests {
    @Test func aFreedBlockIsReusedForASimilarSize() throws {
        // 37 MiB: a size no other test in this process asks for (they run
        // in parallel and share the cache).
        let first = try #require(ray_big_alloc(37 << 20))
        #expect(ray_big_capacity(first) >= 37 << 20)
        first.storeBytes(of: 0xAB, as: UInt8.self)
        ray_big_free(first)
        #expect(ray_big_cached() >= 37 << 20)
        let second = try #require(ray_big_alloc(37 << 20))
        #expect(second == first, "the cached block comes back")
        #expect(second.load(as: UInt8.self) == 0xAB, "already faulted in: its contents are still there")
        ray_big_free(second)
    }

    @Test func aMuchSmallerRequestDoesNotTakeAHugeBlock() throws {
        let huge = try #require(ray_big_alloc(101 << 20))
        ray_big_free(huge)
        let small = try #require(ray_big_alloc(5 << 20))
        #expect(small != huge, "a 5 MiB request must not pin a 101 MiB block")
        ray_big_free(small)
    }

    @Test func aBigBlockShrunkBelowHalfMovesToASmallerOne() throws {
        let big = try #require(clua_alloc(nil, nil, 0, 23 << 20))
        big.storeBytes(of: 7, as: UInt8.self)
        let shrunk = try #require(clua_alloc(nil, big, 23 << 20, 3 << 20))
        #expect(ray_big_capacity(shrunk) < 8 << 20, "a 3 MiB block must not keep a 23 MiB mapping")
        #expect(shrunk.load(as: UInt8.self) == 7)
        let same = try #require(clua_alloc(nil, shrunk, 3 << 20, (3 << 20) - 4096))
        #expect(same == shrunk, "a small shrink stays in place")
        let small = try #require(clua_alloc(nil, same, (3 << 20) - 4096, 100))
        #expect(small.load(as: UInt8.self) == 7)
        #expect(clua_alloc(nil, small, 100, 0) == nil)
    }

    @Test func luaStringsCrossTheThresholdBothWays() throws {
        let state = LuaState()
        // Grows a buffer from small to large (realloc across the threshold),
        // builds large strings, and shrinks back; contents must survive.
        let n = try state.run("""
            local parts = {}
            for i = 1, 300000 do parts[i] = string.format("%06d", i) end
            local big = table.concat(parts)
            local copy = big .. "!"
            parts = nil
            collectgarbage()
            local sum = 0
            for i = 1, #big, 99991 do sum = sum + big:byte(i) end
            return #big, #copy, big:sub(1, 12), big:sub(-6), sum, copy:sub(-1)
            """)
        #expect(n == 6)
        #expect(state.toInteger(at: 1) == 1_800_000)
        #expect(state.toInteger(at: 2) == 1_800_001)
        #expect(state.toString(at: 3) == "000001000002")
        #expect(state.toString(at: 4) == "300000")
        #expect(state.toString(at: 6) == "!")
    }
}
