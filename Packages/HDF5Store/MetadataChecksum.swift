// HDF5's metadata checksum (Bob Jenkins' lookup3 hashlittle, as H5_checksum_lookup3), written out
// for one job: libhdf5 1.10's H5Fget_file_image clears the superblock's status flags in the image
// it returns without recomputing the superblock v2/v3 checksum, so every in-memory file image
// would fail to open ("incorrect metadata checksum"). HDF5 1.14+ recomputes it; this does the same
// for the version Debian ships. Checked against superblocks that HDF5 itself wrote (tests).

func lookup3(_ bytes: ArraySlice<UInt8>, initval: UInt32 = 0) -> UInt32 {
    @inline(__always) func rot(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }
    var (a, b, c) = (0xdead_beef &+ UInt32(truncatingIfNeeded: bytes.count) &+ initval, UInt32(0), UInt32(0))
    (b, c) = (a, a)
    func word(_ i: Int) -> UInt32 {
        var w: UInt32 = 0
        for j in 0..<4 where i + j < bytes.endIndex { w |= UInt32(bytes[i + j]) << (8 * UInt32(j)) }
        return w
    }
    var k = bytes.startIndex
    var length = bytes.count
    while length > 12 {
        a &+= word(k)
        b &+= word(k + 4)
        c &+= word(k + 8)
        a &-= c
        a ^= rot(c, 4)
        c &+= b
        b &-= a
        b ^= rot(a, 6)
        a &+= c
        c &-= b
        c ^= rot(b, 8)
        b &+= a
        a &-= c
        a ^= rot(c, 16)
        c &+= b
        b &-= a
        b ^= rot(a, 19)
        a &+= c
        c &-= b
        c ^= rot(b, 4)
        b &+= a
        length -= 12
        k += 12
    }
    guard length > 0 else { return c }
    // The last 1...12 bytes, little-endian into a, b, c (missing bytes count as 0).
    a &+= word(k)
    if length > 4 { b &+= word(k + 4) }
    if length > 8 { c &+= word(k + 8) }
    c ^= b
    c &-= rot(b, 14)
    a ^= c
    a &-= rot(c, 11)
    b ^= a
    b &-= rot(a, 25)
    c ^= b
    c &-= rot(b, 16)
    a ^= c
    a &-= rot(c, 4)
    b ^= a
    b &-= rot(a, 14)
    c ^= b
    c &-= rot(b, 24)
    return c
}

/// Recomputes the checksum of a version 2 or 3 superblock at the start of `image` (a no-op for
/// older superblocks, which have none).
func resealSuperblock(_ image: inout [UInt8]) {
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    guard image.count >= 12, Array(image[0..<8]) == signature, image[8] >= 2 else { return }
    let end = 12 + 4 * Int(image[9])  // signature, version, sizes, flags; four addresses
    guard image.count >= end + 4 else { return }
    let sum = lookup3(image[0..<end])
    for j in 0..<4 { image[end + j] = UInt8(truncatingIfNeeded: sum >> (8 * UInt32(j))) }
}

/// Whether the v2/v3 superblock at the start of `image` carries its correct checksum (true for
/// older superblocks, which have none).
public func superblockChecksumIsValid(_ image: [UInt8]) -> Bool {
    var resealed = image
    resealSuperblock(&resealed)
    return resealed == image
}
