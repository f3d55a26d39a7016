import CHDF5
import Foundation
// An open HDF5 file: groups, datasets (fixed or extendable, optionally chunked and gzipped),
// variable-length UTF-8 strings and attributes, addressed by slash paths ("metrics/loss/train").
// Every failure is a LabError (domain hdf5) naming the file and the object.
import LabSupport

public final class HDF5File {
    public enum Mode: Sendable {
        /// Open an existing file for reading.
        case readOnly
        /// Open an existing file for reading and writing.
        case readWrite
        /// Create a new file, replacing any file at the path.
        case create
        /// Build a new file in memory only (HDF5's core driver, no backing store); `image()` gives
        /// its bytes. Writers that must survive a full disk write those bytes themselves.
        case createInMemory
    }

    public enum ObjectKind: Sendable { case group, dataset }

    public let path: String
    private(set) var id: hid_t

    public init(path: String, mode: Mode) throws {
        _ = HDF5Library.quiet
        self.path = path
        switch mode {
        case .create, .createInMemory:
            // v1.8 object headers and later carry checksums: damaged metadata is an error on read.
            let fapl = H5Pcreate(chdf5_p_file_access())
            defer { H5Pclose(fapl) }
            H5Pset_libver_bounds(fapl, chdf5_libver_v18(), chdf5_libver_latest())
            if mode == .createInMemory { H5Pset_fapl_core(fapl, 1 << 20, false) }
            id = H5Fcreate(path, chdf5_f_acc_trunc(), chdf5_p_default(), fapl)
            if id < 0 { throw HDF5Library.failure("\(path): cannot create HDF5 file") }
        case .readOnly, .readWrite:
            guard FileManager.default.fileExists(atPath: path) else { throw LabError(.hdf5, "\(path): no such file") }
            if H5Fis_hdf5(path) <= 0 {
                _ = HDF5Library.lastMessage()
                throw LabError(.hdf5, "\(path): not an HDF5 file")
            }
            id = H5Fopen(path, mode == .readOnly ? chdf5_f_acc_rdonly() : chdf5_f_acc_rdwr(), chdf5_p_default())
            if id < 0 { throw HDF5Library.failure("\(path): truncated or corrupt HDF5 file") }
        }
    }

    deinit { close() }

    /// Closes the file (idempotent); later calls fail.
    public func close() {
        if id >= 0 { H5Fclose(id) }
        id = -1
    }

    /// Writes everything buffered to disk.
    public func flush() throws {
        if H5Fflush(id, H5F_SCOPE_GLOBAL) < 0 { throw HDF5Library.failure("\(path): flush failed") }
    }

    /// The whole file's bytes (a file made with `.createInMemory`, or any open file).
    public func image() throws -> [UInt8] {
        try flush()
        let size = H5Fget_file_image(id, nil, 0)
        guard size > 0 else { throw HDF5Library.failure("\(path): cannot take the file's image") }
        var bytes = [UInt8](repeating: 0, count: size)
        let copied = bytes.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, size) }
        guard copied == size else { throw HDF5Library.failure("\(path): cannot take the file's image") }
        resealSuperblock(&bytes)  // libhdf5 1.10 edits the superblock's flags without re-checksumming
        return bytes
    }

    // MARK: Objects

    /// Whether every component of `objectPath` exists as a link. A group that cannot be read
    /// (damaged metadata) is an error, not an absence.
    public func exists(_ objectPath: String) throws -> Bool {
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + component
            let found = H5Lexists(id, prefix, chdf5_p_default())
            if found < 0 { throw HDF5Library.failure("\(path): cannot look up '\(prefix)' (damaged file?)") }
            if found == 0 { return false }
        }
        return true
    }

    public func kind(of objectPath: String) throws -> ObjectKind? {
        guard try objectPath == "/" || exists(objectPath) else { return nil }
        let obj = H5Oopen(id, objectPath, chdf5_p_default())
        guard obj >= 0 else { return nil }
        defer { H5Oclose(obj) }
        switch H5Iget_type(obj) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return nil
        }
    }

    /// Creates a group and any missing parents (no-op if it exists).
    public func createGroup(_ groupPath: String) throws {
        if try exists(groupPath) { return }
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let g = H5Gcreate2(id, groupPath, lcpl, chdf5_p_default(), chdf5_p_default())
        if g < 0 { throw HDF5Library.failure("\(path): cannot create group '\(groupPath)'") }
        H5Gclose(g)
    }

    /// Names of the links directly inside a group, sorted.
    public func children(of groupPath: String = "/") throws -> [String] {
        guard try kind(of: groupPath) == .group else { throw LabError(.hdf5, "\(path): no group '\(groupPath)'") }
        let g = H5Gopen2(id, groupPath, chdf5_p_default())
        defer { H5Gclose(g) }
        var info = H5G_info_t()
        H5Gget_info(g, &info)
        var names: [String] = []
        for i in 0..<info.nlinks {
            let n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
            guard n >= 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(n) + 1)
            H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, Int(n) + 1, chdf5_p_default())
            names.append(string(fromNullTerminated: buffer))
        }
        return names.sorted()
    }

    /// Paths of every dataset under `groupPath`, recursively, relative to it.
    public func datasets(under groupPath: String) throws -> [String] {
        var out: [String] = []
        for name in try children(of: groupPath) {
            let full = groupPath == "/" ? name : "\(groupPath)/\(name)"
            switch try kind(of: full) {
            case .dataset: out.append(name)
            case .group: out += try datasets(under: full).map { "\(name)/\($0)" }
            case nil: break
            }
        }
        return out
    }

    public func delete(_ objectPath: String) throws {
        if H5Ldelete(id, objectPath, chdf5_p_default()) < 0 {
            throw HDF5Library.failure("\(path): cannot delete '\(objectPath)'")
        }
    }

    // MARK: Datasets

    /// Creation options for a dataset.
    public struct DatasetOptions: Sendable {
        /// Rows per chunk along the first axis (chunking is needed for extendable and gzipped data).
        public var chunkRows: Int?
        /// gzip level 1-9, or nil for none.
        public var gzipLevel: Int?
        public init(chunkRows: Int? = nil, gzipLevel: Int? = nil) {
            self.chunkRows = chunkRows
            self.gzipLevel = gzipLevel
        }
    }

    /// Writes `values` as a dataset of `shape` at `datasetPath` (parents created; replaces an
    /// existing dataset).
    public func write<T: HDF5Scalar>(
        _ values: [T], shape: [Int], to datasetPath: String, options: DatasetOptions = DatasetOptions()
    ) throws {
        guard values.count == shape.reduce(1, *) else {
            throw LabError(.hdf5, "\(path): \(values.count) values do not fill shape \(shape) for '\(datasetPath)'")
        }
        try create(datasetPath, type: T.memoryType(), shape: shape, maxFirst: shape.first, options: options) { d in
            values.withUnsafeBytes {
                H5Dwrite(d, T.memoryType(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
            }
        }
    }

    /// Creates an empty dataset that grows along its first axis: shape (0, rowShape...).
    public func createExtendable<T: HDF5Scalar>(
        _ type: T.Type, at datasetPath: String, rowShape: [Int] = [], chunkRows: Int = 1024, gzipLevel: Int? = nil
    ) throws {
        try create(
            datasetPath, type: T.memoryType(), shape: [0] + rowShape, maxFirst: nil,
            options: DatasetOptions(chunkRows: chunkRows, gzipLevel: gzipLevel)
        ) { _ in 0 }
    }

    /// Appends rows to an extendable dataset (values.count must be a whole number of rows).
    public func append<T: HDF5Scalar>(_ values: [T], to datasetPath: String) throws {
        try withDataset(datasetPath) { d in
            try checkType(d, T.self, datasetPath)
            let shape = try datasetShape(d)
            let rowSize = shape.dropFirst().reduce(1, *)
            guard rowSize > 0, values.count % rowSize == 0 else {
                throw LabError(
                    .hdf5, "\(path): \(values.count) values are not whole rows of \(shape) in '\(datasetPath)'")
            }
            try extend(d, datasetPath, shape: shape, rows: values.count / rowSize) { memSpace, fileSpace in
                values.withUnsafeBytes {
                    H5Dwrite(d, T.memoryType(), memSpace, fileSpace, chdf5_p_default(), $0.baseAddress)
                }
            }
        }
    }

    /// Reads a whole dataset, checking that it holds `T`.
    public func read<T: HDF5Scalar>(_ type: T.Type, from datasetPath: String) throws -> (values: [T], shape: [Int]) {
        try withDataset(datasetPath) { d in
            try checkType(d, T.self, datasetPath)
            let shape = try datasetShape(d)
            var values = [T](repeating: T.zero, count: shape.reduce(1, *))
            if !values.isEmpty {
                let status = values.withUnsafeMutableBytes {
                    H5Dread(d, T.memoryType(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
                }
                if status < 0 { throw HDF5Library.failure("\(path): cannot read dataset '\(datasetPath)'") }
            }
            return (values, shape)
        }
    }

    /// Reads a dataset that must have exactly `shape`.
    public func read<T: HDF5Scalar>(_ type: T.Type, from datasetPath: String, shape expected: [Int]) throws -> [T] {
        let (values, shape) = try read(type, from: datasetPath)
        guard shape == expected else {
            throw LabError(.hdf5, "\(path): dataset '\(datasetPath)' has shape \(shape), expected \(expected)")
        }
        return values
    }

    public func shape(of datasetPath: String) throws -> [Int] { try withDataset(datasetPath) { try datasetShape($0) } }

    /// The stored element type, numpy style ("float32", "int64", "string", ...).
    public func typeName(of datasetPath: String) throws -> String {
        try withDataset(datasetPath) { d in
            let t = H5Dget_type(d)
            defer { H5Tclose(t) }
            return describeType(t)
        }
    }

    // MARK: Strings (variable-length UTF-8, read by h5py as str)

    public func writeStrings(_ strings: [String], to datasetPath: String) throws {
        try checkNoNUL(strings, datasetPath)
        let t = Self.stringType()
        defer { H5Tclose(t) }
        try create(datasetPath, type: t, shape: [strings.count], maxFirst: strings.count, options: DatasetOptions()) {
            d in
            Self.withCStrings(strings) { H5Dwrite(d, t, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0) }
        }
    }

    /// HDF5's variable-length strings end at a NUL byte: one inside a string would silently cut
    /// it short when read back, so it is refused.
    func checkNoNUL(_ strings: [String], _ objectPath: String) throws {
        if let i = strings.firstIndex(where: { $0.utf8.contains(0) }) {
            throw LabError(
                .hdf5,
                "\(path): string \(i) for '\(objectPath)' contains a NUL byte, which HDF5 strings cannot hold")
        }
    }

    public func createExtendableStrings(at datasetPath: String, chunkRows: Int = 64) throws {
        let t = Self.stringType()
        defer { H5Tclose(t) }
        try create(datasetPath, type: t, shape: [0], maxFirst: nil, options: DatasetOptions(chunkRows: chunkRows)) {
            _ in 0
        }
    }

    public func appendStrings(_ strings: [String], to datasetPath: String) throws {
        try checkNoNUL(strings, datasetPath)
        let t = Self.stringType()
        defer { H5Tclose(t) }
        try withDataset(datasetPath) { d in
            try checkString(d, datasetPath)
            let shape = try datasetShape(d)
            try extend(d, datasetPath, shape: shape, rows: strings.count) { memSpace, fileSpace in
                Self.withCStrings(strings) { H5Dwrite(d, t, memSpace, fileSpace, chdf5_p_default(), $0) }
            }
        }
    }

    public func readStrings(from datasetPath: String) throws -> [String] {
        let t = Self.stringType()
        defer { H5Tclose(t) }
        return try withDataset(datasetPath) { d in
            try checkString(d, datasetPath)
            let n = try datasetShape(d).reduce(1, *)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            guard n > 0 else { return [] }
            if H5Dread(d, t, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &pointers) < 0 {
                throw HDF5Library.failure("\(path): cannot read strings '\(datasetPath)'")
            }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            let space = H5Dget_space(d)
            H5Dvlen_reclaim(t, space, chdf5_p_default(), &pointers)
            H5Sclose(space)
            return strings
        }
    }

    // MARK: Attributes (on the file root, a group or a dataset)

    public func setAttribute(_ name: String, _ value: String, on objectPath: String = "/") throws {
        try checkNoNUL([value], "\(objectPath) attribute \(name)")
        let t = Self.stringType()
        defer { H5Tclose(t) }
        try writeAttribute(name, on: objectPath, type: t, count: nil) { a in
            value.withCString { s in
                var p: UnsafePointer<CChar>? = s
                return H5Awrite(a, t, &p)
            }
        }
    }

    public func setAttribute<T: HDF5Scalar>(_ name: String, _ value: T, on objectPath: String = "/") throws {
        try writeAttribute(name, on: objectPath, type: T.memoryType(), count: nil) { a in
            var v = value
            return H5Awrite(a, T.memoryType(), &v)
        }
    }

    public func setAttribute<T: HDF5Scalar>(_ name: String, _ values: [T], on objectPath: String = "/") throws {
        try writeAttribute(name, on: objectPath, type: T.memoryType(), count: values.count) { a in
            values.withUnsafeBytes { H5Awrite(a, T.memoryType(), $0.baseAddress) }
        }
    }

    public func hasAttribute(_ name: String, on objectPath: String = "/") -> Bool {
        H5Aexists_by_name(id, objectPath, name, chdf5_p_default()) > 0
    }

    public func stringAttribute(_ name: String, on objectPath: String = "/") throws -> String {
        let t = Self.stringType()
        defer { H5Tclose(t) }
        return try readAttribute(name, on: objectPath) { a, stored in
            guard H5Tget_class(stored) == H5T_STRING else {
                throw LabError(
                    .hdf5,
                    "\(path): attribute '\(name)' of '\(objectPath)' holds \(describeType(stored)), expected string")
            }
            if H5Tis_variable_str(stored) > 0 {
                var p: UnsafeMutablePointer<CChar>? = nil
                H5Aread(a, t, &p)
                defer { if p != nil { free(p) } }
                return p.map { String(cString: $0) } ?? ""
            }
            let size = H5Tget_size(stored)
            var buffer = [CChar](repeating: 0, count: size + 1)
            let fixed = H5Tcopy(stored)
            defer { H5Tclose(fixed) }
            H5Aread(a, fixed, &buffer)
            return string(fromNullTerminated: buffer)
        }
    }

    public func attribute<T: HDF5Scalar>(_ name: String, as type: T.Type, on objectPath: String = "/") throws -> [T] {
        try readAttribute(name, on: objectPath) { a, stored in
            guard T.matches(stored) else {
                throw LabError(
                    .hdf5,
                    "\(path): attribute '\(name)' of '\(objectPath)' holds \(describeType(stored)), expected \(T.typeName)"
                )
            }
            let space = H5Aget_space(a)
            defer { H5Sclose(space) }
            let n = Int(H5Sget_simple_extent_npoints(space))
            var values = [T](repeating: T.zero, count: n)
            values.withUnsafeMutableBytes { _ = H5Aread(a, T.memoryType(), $0.baseAddress) }
            return values
        }
    }

    public func attributeNames(on objectPath: String = "/") throws -> [String] {
        let obj = H5Oopen(id, objectPath, chdf5_p_default())
        guard obj >= 0 else { throw HDF5Library.failure("\(path): no object '\(objectPath)'") }
        defer { H5Oclose(obj) }
        var names: [String] = []
        let count = H5Aget_num_attrs(obj)
        for i in 0..<max(count, 0) {
            let n = H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), nil, 0, chdf5_p_default())
            guard n >= 0 else { continue }
            var buffer = [CChar](repeating: 0, count: n + 1)
            H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), &buffer, n + 1, chdf5_p_default())
            names.append(string(fromNullTerminated: buffer))
        }
        return names
    }

    // MARK: Internals

    static func stringType() -> hid_t {
        let t = H5Tcopy(chdf5_t_c_s1())
        H5Tset_size(t, chdf5_t_variable())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        return copies.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!)) }
    }

    func withDataset<R>(_ datasetPath: String, _ body: (hid_t) throws -> R) throws -> R {
        guard try exists(datasetPath), try kind(of: datasetPath) == .dataset else {
            throw LabError(.hdf5, "\(path): no dataset '\(datasetPath)'")
        }
        let d = H5Dopen2(id, datasetPath, chdf5_p_default())
        if d < 0 { throw HDF5Library.failure("\(path): cannot open dataset '\(datasetPath)'") }
        defer { H5Dclose(d) }
        return try body(d)
    }

    func checkType<T: HDF5Scalar>(_ d: hid_t, _ type: T.Type, _ datasetPath: String) throws {
        let t = H5Dget_type(d)
        defer { H5Tclose(t) }
        guard T.matches(t) else {
            throw LabError(.hdf5, "\(path): dataset '\(datasetPath)' holds \(describeType(t)), expected \(T.typeName)")
        }
    }

    func checkString(_ d: hid_t, _ datasetPath: String) throws {
        let t = H5Dget_type(d)
        defer { H5Tclose(t) }
        guard H5Tget_class(t) == H5T_STRING, H5Tis_variable_str(t) > 0 else {
            throw LabError(
                .hdf5,
                "\(path): dataset '\(datasetPath)' holds \(describeType(t)), expected variable-length strings")
        }
    }

    func datasetShape(_ d: hid_t) throws -> [Int] {
        let space = H5Dget_space(d)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { throw HDF5Library.failure("\(path): unreadable dataspace") }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    /// Creates a dataset (replacing one at the path) and fills it with `write`.
    func create(
        _ datasetPath: String, type: hid_t, shape: [Int], maxFirst: Int?, options: DatasetOptions,
        write: (hid_t) -> herr_t
    ) throws {
        if try exists(datasetPath) { try delete(datasetPath) }
        var dims = shape.map { hsize_t($0) }
        var maxDims = dims
        if !maxDims.isEmpty && maxFirst == nil { maxDims[0] = chdf5_s_unlimited() }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, &maxDims)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        if !shape.isEmpty, maxFirst == nil || options.chunkRows != nil || options.gzipLevel != nil {
            var chunk = dims.map { max($0, 1) }
            chunk[0] = hsize_t(max(options.chunkRows ?? min(max(shape[0], 1), 1024), 1))
            H5Pset_chunk(dcpl, Int32(chunk.count), &chunk)
            if let level = options.gzipLevel { H5Pset_deflate(dcpl, UInt32(level)) }
        }
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let d = H5Dcreate2(id, datasetPath, type, space, lcpl, dcpl, chdf5_p_default())
        if d < 0 { throw HDF5Library.failure("\(path): cannot create dataset '\(datasetPath)'") }
        defer { H5Dclose(d) }
        if shape.reduce(1, *) > 0 && write(d) < 0 {
            throw HDF5Library.failure("\(path): cannot write dataset '\(datasetPath)'")
        }
    }

    /// Grows dataset `d` by `rows` along axis 0 and writes them through `write(memSpace, fileSpace)`.
    func extend(
        _ d: hid_t, _ datasetPath: String, shape: [Int], rows: Int, write: (hid_t, hid_t) -> herr_t
    ) throws {
        guard rows > 0 else { return }
        var newDims = shape.map { hsize_t($0) }
        newDims[0] += hsize_t(rows)
        if H5Dset_extent(d, &newDims) < 0 {
            throw HDF5Library.failure("\(path): dataset '\(datasetPath)' is not extendable")
        }
        let fileSpace = H5Dget_space(d)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: shape.count)
        start[0] = hsize_t(shape[0])
        var count = newDims
        count[0] = hsize_t(rows)
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
        let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
        defer { H5Sclose(memSpace) }
        if write(memSpace, fileSpace) < 0 { throw HDF5Library.failure("\(path): cannot append to '\(datasetPath)'") }
    }

    func writeAttribute(_ name: String, on objectPath: String, type: hid_t, count: Int?, write: (hid_t) -> herr_t)
        throws
    {
        let obj = H5Oopen(id, objectPath, chdf5_p_default())
        guard obj >= 0 else { throw HDF5Library.failure("\(path): no object '\(objectPath)' for attribute '\(name)'") }
        defer { H5Oclose(obj) }
        if H5Aexists(obj, name) > 0 { H5Adelete(obj, name) }
        var dims = [hsize_t(count ?? 1)]
        let space = count == nil ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let a = H5Acreate2(obj, name, type, space, chdf5_p_default(), chdf5_p_default())
        guard a >= 0 else { throw HDF5Library.failure("\(path): cannot create attribute '\(name)' on '\(objectPath)'") }
        defer { H5Aclose(a) }
        if write(a) < 0 { throw HDF5Library.failure("\(path): cannot write attribute '\(name)' on '\(objectPath)'") }
    }

    func readAttribute<R>(_ name: String, on objectPath: String, _ body: (hid_t, hid_t) throws -> R) throws -> R {
        guard try objectPath == "/" || exists(objectPath) else {
            throw LabError(.hdf5, "\(path): no object '\(objectPath)'")
        }
        guard H5Aexists_by_name(id, objectPath, name, chdf5_p_default()) > 0 else {
            _ = HDF5Library.lastMessage()
            throw LabError(.hdf5, "\(path): '\(objectPath)' has no attribute '\(name)'")
        }
        let a = H5Aopen_by_name(id, objectPath, name, chdf5_p_default(), chdf5_p_default())
        guard a >= 0 else { throw HDF5Library.failure("\(path): cannot open attribute '\(name)'") }
        defer { H5Aclose(a) }
        let stored = H5Aget_type(a)
        defer { H5Tclose(stored) }
        return try body(a, stored)
    }
}

/// The UTF-8 text of a C buffer up to its first NUL.
func string(fromNullTerminated buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
