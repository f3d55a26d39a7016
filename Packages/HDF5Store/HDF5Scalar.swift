// Element types that HDF5Store reads and writes, with their HDF5 memory types. Bool is stored
// the way h5py stores numpy bools (an int8 enum FALSE = 0, TRUE = 1), so h5py reads it back as bool.
import CHDF5

public protocol HDF5Scalar {
    /// The in-memory HDF5 type of this Swift type (caller must not close it).
    static func memoryType() -> hid_t
    /// Name used in error messages, numpy style.
    static var typeName: String { get }
    /// Whether a stored dataset type holds this type exactly.
    static func matches(_ stored: hid_t) -> Bool
    static var zero: Self { get }
}

func typeMatches(_ stored: hid_t, cls: H5T_class_t, size: Int, signed: Bool?) -> Bool {
    guard H5Tget_class(stored) == cls, H5Tget_size(stored) == size else { return false }
    if let signed { return (H5Tget_sign(stored) == H5T_SGN_2) == signed }
    return true
}

/// Describes a stored type for error messages ("float32", "int64", "string", ...).
func describeType(_ stored: hid_t) -> String {
    let size = H5Tget_size(stored)
    switch H5Tget_class(stored) {
    case H5T_FLOAT: return "float\(size * 8)"
    case H5T_INTEGER: return (H5Tget_sign(stored) == H5T_SGN_2 ? "int" : "uint") + "\(size * 8)"
    case H5T_STRING: return "string"
    case H5T_ENUM: return "enum (bool)"
    default: return "an unsupported type"
    }
}

extension Float: HDF5Scalar {
    public static func memoryType() -> hid_t { chdf5_t_native_float() }
    public static var typeName: String { "float32" }
    public static func matches(_ t: hid_t) -> Bool { typeMatches(t, cls: H5T_FLOAT, size: 4, signed: nil) }
    public static var zero: Float { 0 }
}

extension Double: HDF5Scalar {
    public static func memoryType() -> hid_t { chdf5_t_native_double() }
    public static var typeName: String { "float64" }
    public static func matches(_ t: hid_t) -> Bool { typeMatches(t, cls: H5T_FLOAT, size: 8, signed: nil) }
    public static var zero: Double { 0 }
}

extension Int32: HDF5Scalar {
    public static func memoryType() -> hid_t { chdf5_t_native_int32() }
    public static var typeName: String { "int32" }
    public static func matches(_ t: hid_t) -> Bool { typeMatches(t, cls: H5T_INTEGER, size: 4, signed: true) }
    public static var zero: Int32 { 0 }
}

extension Int64: HDF5Scalar {
    public static func memoryType() -> hid_t { chdf5_t_native_int64() }
    public static var typeName: String { "int64" }
    public static func matches(_ t: hid_t) -> Bool { typeMatches(t, cls: H5T_INTEGER, size: 8, signed: true) }
    public static var zero: Int64 { 0 }
}

extension UInt8: HDF5Scalar {
    public static func memoryType() -> hid_t { chdf5_t_native_uint8() }
    public static var typeName: String { "uint8" }
    public static func matches(_ t: hid_t) -> Bool { typeMatches(t, cls: H5T_INTEGER, size: 1, signed: false) }
    public static var zero: UInt8 { 0 }
}

extension UInt64: HDF5Scalar {
    public static func memoryType() -> hid_t { chdf5_t_native_uint64() }
    public static var typeName: String { "uint64" }
    public static func matches(_ t: hid_t) -> Bool { typeMatches(t, cls: H5T_INTEGER, size: 8, signed: false) }
    public static var zero: UInt64 { 0 }
}

extension Bool: HDF5Scalar {
    /// h5py's bool: an enum over int8 with FALSE = 0 and TRUE = 1. Created once, never closed.
    static let enumType: hid_t = {
        let t = H5Tenum_create(chdf5_t_native_int8())
        var no: Int8 = 0
        var yes: Int8 = 1
        H5Tenum_insert(t, "FALSE", &no)
        H5Tenum_insert(t, "TRUE", &yes)
        return t
    }()
    public static func memoryType() -> hid_t { enumType }
    public static var typeName: String { "bool" }
    public static func matches(_ t: hid_t) -> Bool { H5Tget_class(t) == H5T_ENUM && H5Tget_size(t) == 1 }
    public static var zero: Bool { false }
}
